"""An alignment scenario's data, prepared before the solve: units, bases, shareable units, today's plan,
and the checks that can refuse a request before anything is built."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.alignment.feasibility import check_band_reachable, shareable_units
from optimizer.alignment.schema import Scenario
from optimizer.areas.bases import BaseTable, resolve_bases
from optimizer.areas.units import UnitTable, load_units
from optimizer.core.errors import InfeasibleError
from optimizer.core.run import PhaseTimer, Progress


@dataclass(frozen=True)
class Prepared:
    """Everything known before the solve."""

    units: UnitTable
    bases: BaseTable
    shared: np.ndarray
    notes: list[str]
    current: pd.DataFrame | None = None  # today's plan, in a realignment


def prepare(scenario: Scenario, timer: PhaseTimer, progress: Progress, *, strict: bool = True) -> Prepared:
    """Load units, resolve bases (the heuristic's; ``optimizer.alignment.prepare`` searches further) and run
    the checks that can refuse a request before solving.

    With ``strict=False`` (scoring a given plan) a band no plan can meet is a note, not an error.
    """
    progress("loading units")
    with timer.phase("load"):
        units = load_units(scenario.units, scenario.workload, _extra_columns(scenario))
    count = scenario.territories.size
    shared = shareable_units(units, scenario, count)
    try:
        notes = check_band_reachable(units, scenario, count, shared)
    except InfeasibleError as exc:
        if strict:
            raise
        notes = [exc.line()]
    current = None
    if scenario.realignment is not None:
        from optimizer.areas.current_plan import read_current_plan

        current = read_current_plan(scenario.realignment.current_plan, units)
    progress("placing bases")
    with timer.phase("bases"):
        bases = resolve_bases(scenario.territories, units, current)
    return Prepared(units=units, bases=bases, shared=shared, notes=notes, current=current)


def _extra_columns(scenario: Scenario) -> dict[str, str]:
    """Columns the rules need beyond the workload measures, with the key that names each."""
    extra = {column: f"balance.measures.{column}" for column in scenario.balance.measures}
    if scenario.realignment is not None and scenario.realignment.measure:
        extra[scenario.realignment.measure] = "realignment.measure"
    return extra

"""A scenario prepared for the solve, with the bases the engine chooses: the data of
``optimizer.alignment.data``, then, when the bases are the engine's choice, the base search of
``optimizer.alignment.base_search``. Every command that resolves a scenario's bases (run, validate,
evaluate, compare) prepares it here, so they all see the same bases."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from optimizer.alignment.base_search import search_bases
from optimizer.alignment.data import Prepared
from optimizer.alignment.data import prepare as prepare_data
from optimizer.alignment.model_input import problem_over
from optimizer.alignment.schema import Scenario
from optimizer.areas.bases import BaseTable
from optimizer.areas.units import UnitTable
from optimizer.core.run import PhaseTimer, Progress
from optimizer.solver.highs import SolverOptions


def prepare(scenario: Scenario, timer: PhaseTimer, progress: Progress, *, strict: bool = True) -> Prepared:
    """Load units and bases and run the checks before the solve (``optimizer.alignment.data.prepare``), then
    search better bases when the engine chooses them."""
    ready = prepare_data(scenario, timer, progress, strict=strict)
    if not bases_are_searched(scenario, ready.current):
        return ready
    progress("searching bases")
    with timer.phase("bases"):
        return replace(ready, bases=_searched(scenario, ready.units, ready.shared, ready.bases))


def bases_are_searched(scenario: Scenario, current: pd.DataFrame | None) -> bool:
    """True when the bases are the engine's choice and no other method owns them (listed, today's, candidates)."""
    spec = scenario.territories
    return not spec.bases and current is None and spec.candidates is None


def _searched(scenario: Scenario, units: UnitTable, shared: np.ndarray, first: BaseTable) -> BaseTable:
    """Seeded starts improved by relocation scored by the LP (``optimizer.alignment.base_search``)."""
    options = SolverOptions(scenario.solver.time_limit, scenario.solver.target_gap, scenario.solver.threads,
                            scenario.solver.seed)
    bases, _ = search_bases(scenario.territories, units, first,
                            lambda table: problem_over(scenario, units, shared, table)[0], options)
    return bases

"""Scoring a hand-edited plan with the same independent checks and metrics as a solved plan.

In practice a model's plan is adopted after field managers move some units: the tool must score such a
plan as readily as its own. ``evaluate_plan`` reads the plan file (:mod:`optimizer.alignment.plan_file`), computes
its territory table and objective, and writes the same run folder as ``territory run`` (summary.json with
status ``evaluated`` and every broken rule, assignments.csv, territories.csv, map.html). A plan that breaks
rules is still scored and written: the rules it breaks are the result.

The objective is the model's: the workload-weighted distance from each unit to its territory's base, in
km x average-territory workload, plus the soft-band penalty when the scenario has one. It is computed
here with the model's distance (haversine or projected) and recomputed by :func:`optimizer.alignment.checks.plan.check_plan`
with its own formula, like a solved plan's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.alignment.data import Prepared
from optimizer.alignment.prepare import prepare
from optimizer.alignment.pipeline import (OBJECTIVE_UNIT, PlanTables, band_summary, phase_seconds, plan_territories,
                                          write_run_folder)
from optimizer.alignment.plan_file import read_plan
from optimizer.alignment.problem import distance_to_bases
from optimizer.alignment.schema import Scenario
from optimizer.core.run import PhaseTimer, Progress
from optimizer.outputs.folders import file_hash, versions

STATUS = "evaluated"


@dataclass
class Evaluation:
    """A scored plan: where it was written, its summary and the rules it breaks (empty when it keeps all)."""

    folder: Path
    summary: dict
    broken_rules: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken_rules


def evaluate_plan(scenario: Scenario, plan_path: Path, out: Path, *,
                  progress: Progress = lambda _: None) -> Evaluation:
    """Score the plan in ``plan_path`` under ``scenario`` and write the run folder ``out``.

    Raises
    ------
    InputError
        When the scenario, its data or the plan file cannot be read (nothing is written).
    """
    started = time.perf_counter()
    timer = PhaseTimer()
    ready = prepare(scenario, timer, progress, strict=False)
    progress("reading the plan")
    with timer.phase("load"):
        plan = read_plan(plan_path, list(ready.units.ids), list(ready.bases.ids))
    assignments = plan.sort_values(["unit_id", "territory_id"], kind="stable").reset_index(drop=True)
    distance = distance_to_bases(scenario, ready)
    objective = plan_objective(scenario, ready, assignments, distance)
    tables = PlanTables(assignments, plan_territories(ready, assignments, distance), objective,
                        map_assignments=drawable(assignments))
    summary, report = write_run_folder(
        out, scenario, ready, tables, timer, progress, strict=False,
        summarize=lambda report: _summary(scenario, ready, plan_path, tables, report.passed, report.failures,
                                          timer, started))
    return Evaluation(folder=out, summary=summary, broken_rules=list(report.failures))


def plan_objective(scenario: Scenario, ready: Prepared, assignments: pd.DataFrame, distance: np.ndarray) -> float:
    """The model's objective of a plan: travel plus the soft-band penalty, per average territory's workload.

    The average territory is the plan's own (its share-weighted workload over the territory count), as in
    the independent check; it equals the scenario's whenever every unit is covered exactly once.
    """
    u = pd.Index(ready.units.ids).get_indexer(assignments["unit_id"])
    t = pd.Index(ready.bases.ids).get_indexer(assignments["territory_id"])
    if (u < 0).any() or (t < 0).any():
        raise ValueError("assignments hold ids outside the scenario; read them with read_plan")
    weighted = ready.units.workload[u] * assignments["share"].to_numpy(float)
    loads = np.bincount(t, weights=weighted, minlength=len(ready.bases))
    average = loads.sum() / len(ready.bases)
    if average <= 0:
        return float("nan")
    travel = float((weighted * distance[u, t]).sum()) / average
    tol, penalty = scenario.balance.tolerance, scenario.balance.soft_penalty
    ratio = loads / average
    outside = np.maximum(0.0, (1 - tol) - ratio) + np.maximum(0.0, ratio - (1 + tol))
    return travel + (penalty or 0.0) * float(outside.sum())


def drawable(assignments: pd.DataFrame) -> pd.DataFrame:
    """The plan as the map can draw it: shares outside (0, 1] dropped or capped, each unit's shares scaled to 1.

    Only the map uses this; the tables, checks and metrics use the plan as written.
    """
    rows = assignments[assignments["share"] > 0].copy()
    rows["share"] = rows["share"].clip(upper=1.0)
    rows["share"] = rows["share"] / rows.groupby("unit_id")["share"].transform("sum")
    return rows.reset_index(drop=True)


def _summary(scenario: Scenario, ready: Prepared, plan_path: Path, tables: PlanTables, passed: list[str],
             failures: list[str], timer: PhaseTimer, started: float) -> dict:
    counts = tables.assignments["unit_id"].value_counts()
    return {
        "scenario": scenario.name,
        "scenario_hash": scenario.digest(),
        "data_hash": file_hash(ready.units.source),
        "status": STATUS,
        "plan_file": str(plan_path),
        "plan_hash": file_hash(plan_path),
        "objective": tables.objective,
        "objective_unit": OBJECTIVE_UNIT,
        "bound": None,
        "gap": None,
        "target_gap": scenario.solver.target_gap,
        "lp_bound": None,
        "bound_scope": "none: a hand-edited plan is scored, not solved (run the scenario for a bound)",
        "units": len(ready.units),
        "territories": len(ready.bases),
        "workload_measures": dict(scenario.workload.measures),
        "target_workload": float(ready.units.workload.sum() / len(ready.bases)),
        "band": band_summary(scenario, tables.territories),
        "shared_units": sorted(counts[counts > 1].index),
        "bases": ready.bases.method,
        "notes": ready.notes,
        "checks_passed": passed,
        "broken_rules": failures,
        "seconds": phase_seconds(timer, started),
        "versions": versions(),
    }

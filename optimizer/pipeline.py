"""One-way flow of a run: scenario -> units -> bases -> checks before the solve -> solve -> tables ->
independent checks -> outputs. Nothing downstream reaches back upstream."""

from __future__ import annotations

import hashlib
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from optimizer.align import AlignmentProblem, AlignmentSolution, solve_alignment
from optimizer.bases import BaseTable, resolve_bases
from optimizer.checks import PlanRules, check_plan
from optimizer.distance import distance_matrix_km
from optimizer.feasibility import check_band_reachable, shareable_units
from optimizer.outputs import staging_folder, versions, write_json, write_table
from optimizer.scenario import Scenario
from optimizer.solver import SolverOptions
from optimizer.tables import assignment_table, territory_table
from optimizer.units import UnitTable, load_units

Progress = Callable[[str], None]


@dataclass
class PhaseTimer:
    """Seconds per phase: load, bases, build, solve, check, write."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began


@dataclass(frozen=True)
class Prepared:
    """Everything known before the solve."""

    units: UnitTable
    bases: BaseTable
    shared: np.ndarray
    notes: list[str]


@dataclass
class RunOutcome:
    """A finished run: where it was written and its summary."""

    folder: Path
    summary: dict


def prepare(scenario: Scenario, timer: PhaseTimer, progress: Progress) -> Prepared:
    """Load units, resolve bases and run the checks that can refuse a request before solving."""
    progress("loading units")
    with timer.phase("load"):
        units = load_units(scenario.units, scenario.workload)
    count = scenario.territories.size
    shared = shareable_units(units, scenario, count)
    notes = check_band_reachable(units, scenario, count, shared)
    progress("placing bases")
    with timer.phase("bases"):
        bases = resolve_bases(scenario.territories, units)
    return Prepared(units=units, bases=bases, shared=shared, notes=notes)


def validate_lines(scenario: Scenario) -> list[str]:
    """What ``territory validate`` prints for an alignment scenario (raises on any problem)."""
    ready = prepare(scenario, PhaseTimer(), lambda _: None)
    lines = [f"ok: {scenario.name}: {len(ready.units)} units, {len(ready.bases)} territories "
             f"(bases {ready.bases.method}), {int(ready.shared.sum())} units may be shared"]
    return lines + [f"note: {note}" for note in ready.notes]


def run_scenario(scenario: Scenario, out: Path, *, keep_log: bool = False,
                 progress: Progress = lambda _: None) -> RunOutcome:
    """Solve ``scenario`` and write its run folder ``out`` (replaced only when everything succeeded)."""
    started = time.perf_counter()
    timer = PhaseTimer()
    ready = prepare(scenario, timer, progress)
    problem, distance = _problem(scenario, ready)
    options = SolverOptions(scenario.solver.time_limit, scenario.solver.target_gap, scenario.solver.threads,
                            scenario.solver.seed, keep_log)
    progress(f"solving {len(ready.units)} units x {len(ready.bases)} territories")
    solution = solve_alignment(problem, options)
    timer.seconds["build"] = solution.seconds["build"]
    timer.seconds["solve"] = solution.seconds["solve"]
    target = float(ready.units.workload.sum() / len(ready.bases))
    assignments = assignment_table(ready.units, ready.bases, solution.unit_index, solution.territory_index,
                                   solution.share)
    territories = territory_table(ready.units, ready.bases, assignments, distance, target)
    with staging_folder(out) as folder:
        progress("checking the plan")
        with timer.phase("write"):
            write_table(assignments, folder / "assignments.csv")
            write_table(territories, folder / "territories.csv")
        with timer.phase("check"):
            report = check_plan(folder, ready.units.frame, _rules(scenario, ready), solution.objective)
            report.raise_if_failed()
        progress("drawing the map")
        with timer.phase("write"):
            from optimizer.maps import write_territory_map

            write_territory_map(folder / "map.html", ready.units.frame, assignments, territories, scenario.name)
            summary = _summary(scenario, ready, solution, territories, report.passed, timer, started)
            if keep_log:
                (folder / "solver.log").write_text(solution.log, encoding="utf-8")
            write_json(summary, folder / "summary.json")
    return RunOutcome(folder=out, summary=summary)


def _problem(scenario: Scenario, ready: Prepared) -> tuple[AlignmentProblem, np.ndarray]:
    units, bases = ready.units, ready.bases
    b = bases.frame
    distance = distance_matrix_km(units.lat, units.lon, units.xy, b["base_lat"].to_numpy(float),
                                  b["base_lon"].to_numpy(float), b[["x_m", "y_m"]].to_numpy(float),
                                  scenario.objective.distance)
    k = len(bases)
    tol = scenario.balance.tolerance
    problem = AlignmentProblem(load=units.workload / (units.workload.sum() / k), distance_km=distance,
                               shared=ready.shared, lower=np.full(k, 1 - tol), upper=np.full(k, 1 + tol),
                               penalty=scenario.balance.soft_penalty)
    return problem, distance


def _rules(scenario: Scenario, ready: Prepared) -> PlanRules:
    return PlanRules(territory_ids=tuple(ready.bases.ids), tolerance=scenario.balance.tolerance,
                     soft_penalty=scenario.balance.soft_penalty,
                     shareable=frozenset(ready.units.ids[ready.shared]), distance=scenario.objective.distance)


def _summary(scenario: Scenario, ready: Prepared, solution: AlignmentSolution, territories, checks: list[str],
             timer: PhaseTimer, started: float) -> dict:
    tol = scenario.balance.tolerance
    dev = territories["deviation_pct"]
    out_of_band = territories.loc[dev.abs() > 100 * tol + 1e-6, "territory_id"].tolist()
    seconds = {name: round(timer.seconds.get(name, 0.0), 3) for name in ("load", "bases", "build", "solve", "check", "write")}
    seconds["total"] = round(time.perf_counter() - started, 3)
    shared_ids = sorted(set(ready.units.ids[ready.shared]) & set(_split_units(solution, ready)))
    return {
        "scenario": scenario.name,
        "scenario_hash": scenario.digest(),
        "data_hash": _file_hash(ready.units.source),
        "status": solution.status.value,
        "objective": solution.objective,
        "objective_unit": "km x average-territory workload (workload-weighted distance to base)",
        "bound": solution.bound,
        "gap": _finite(solution.gap),
        "target_gap": scenario.solver.target_gap,
        "lp_bound": solution.lp_bound,
        "bound_scope": solution.restriction,
        "units": len(ready.units),
        "territories": len(ready.bases),
        "workload_measures": dict(scenario.workload.measures),
        "target_workload": float(ready.units.workload.sum() / len(ready.bases)),
        "band": {"tolerance": tol, "soft_penalty": scenario.balance.soft_penalty,
                 "max_abs_deviation_pct": float(dev.abs().max()), "territories_outside_band": out_of_band},
        "shared_units": shared_ids,
        "bases": ready.bases.method,
        "notes": ready.notes,
        "checks_passed": checks,
        "seconds": seconds,
        "stages": solution.stages,
        "solver": {"name": "HiGHS", "time_limit": scenario.solver.time_limit, "threads": scenario.solver.threads,
                   "seed": scenario.solver.seed},
        "versions": versions(),
    }


def _split_units(solution: AlignmentSolution, ready: Prepared) -> list[str]:
    counts = np.bincount(solution.unit_index, minlength=len(ready.units))
    return list(ready.units.ids[counts > 1])


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]

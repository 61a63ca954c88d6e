"""One-way flow of a run: scenario -> units -> bases -> checks before the solve -> solve -> tables ->
independent checks -> outputs. Nothing downstream reaches back upstream."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from optimizer.alignment.checks.plan import PlanRules, check_plan
from optimizer.alignment.checks.rules import AdoptionRules
from optimizer.alignment.data import Prepared
from optimizer.alignment.prepare import prepare
from optimizer.alignment.problem import alignment_problem as _problem
from optimizer.alignment.problem import solve_plan
from optimizer.alignment.rule_set import RuleSet, build_rule_set
from optimizer.alignment.schema import Scenario
from optimizer.alignment.location_bound import GIVEN, summary_fields
from optimizer.alignment.solve.align import AlignmentSolution, solve_alignment
from optimizer.alignment.tables import assignment_table, moves_table, territory_table
from optimizer.core.checks import CheckReport
from optimizer.core.errors import InfeasibleError, InputError
from optimizer.core.safe_csv import table_text
from optimizer.core.run import PhaseTimer, Progress, RunOutcome
from optimizer.outputs.folders import file_hash, staging_folder, versions, write_json, write_table
from optimizer.solver.highs import SolverOptions
from optimizer.solver.result import SolveStatus, relative_gap


@dataclass(frozen=True)
class PlanTables:
    """A plan as tidy tables, ready to be written, checked and drawn.

    ``objective`` is the value the plan claims (checked by recomputation; ``None`` skips that check).
    ``map_assignments`` optionally replaces ``assignments`` on the map only (a hand-edited plan whose shares
    do not add up is drawn with normalised shares; its units missing from the plan are left undrawn).
    """

    assignments: pd.DataFrame
    territories: pd.DataFrame
    objective: float | None
    map_assignments: pd.DataFrame | None = None


def validate_lines(scenario: Scenario) -> list[str]:
    """What ``territory validate`` prints for an alignment scenario (raises on any problem)."""
    ready = prepare(scenario, PhaseTimer(), lambda _: None)
    build_rule_set(scenario, ready, _problem(scenario, ready)[0])  # the ids and targets the rules name
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
    rules = build_rule_set(scenario, ready, problem)
    located = None
    try:
        if scenario.territories.candidates is not None:
            ready, problem, distance, solution, located = _locate(scenario, ready, rules, options)
        else:
            solution = solve_plan(problem, rules, options)
    except InfeasibleError as error:
        if not rules.any:
            raise
        from optimizer.alignment.explain import explain_infeasible

        progress("finding which limits conflict")
        raise explain_infeasible(scenario, ready, error) from None
    timer.seconds["build"] = solution.seconds["build"]
    timer.seconds["solve"] = solution.seconds["solve"]
    location = GIVEN
    if not scenario.territories.bases:
        progress("bounding the choice of bases")
        with timer.phase("bases"):
            location = summary_fields(scenario, ready.units, problem, distance, solution, *(located or ()))
    assignments = assignment_table(ready.units, ready.bases, solution.unit_index, solution.territory_index,
                                   solution.share)
    plan = PlanTables(assignments, plan_territories(ready, assignments, distance), solution.objective)
    files = {"solver.log": solution.log} if keep_log else {}
    plan, layers = after_solve(scenario, ready, plan, solution, options, progress)
    summary, _ = write_run_folder(
        out, scenario, ready, plan, timer, progress, files=files | layers.files, checks=layers.checks,
        summarize=lambda report: _summary(scenario, ready, solution, plan.territories, report.passed, timer,
                                          started, assignments) | location | layers.summary)
    return RunOutcome(folder=out, summary=summary)


def map_marks(scenario: Scenario, ready: Prepared, assignments: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Units the map outlines: moved ones (with where from) and locked ones."""
    marks = {lock.unit: ("locked", f"locked to {lock.territory}") for lock in scenario.rules.locks}
    if ready.current is not None:
        moves = moves_table(assignments, ready.current, ready.units, None)
        for row in moves.itertuples(index=False):
            origin = row.from_territory or "no territory"
            marks.setdefault(row.unit_id, ("moved", f"moved from {origin} to {row.to_territory}"))
    return marks


def _locate(scenario: Scenario, ready: Prepared, rules: RuleSet, options: SolverOptions):
    """Bases chosen among candidates with the plan (``optimizer.alignment.location``), then the certified
    pipeline at those bases, whose bound is the one "for these bases"; the better of the two plans is kept.
    Also returns the candidates and the location MIP's bound (NaN unless it held every pair)."""
    from dataclasses import replace

    from optimizer.alignment.location import candidate_units, choose_bases

    if rules.any:
        raise InputError("territories.candidates", "choosing bases cannot be combined with contiguity, a "
                         "realignment, locks, groups or further bands yet", "drop one of them")
    located = choose_bases(scenario, ready, lambda bases: _problem(scenario, replace(ready, bases=bases))[0])
    ready = replace(ready, bases=located.bases)
    problem, distance = _problem(scenario, ready)
    fixed = solve_alignment(problem, options)
    solution, other = fixed, located.solution
    if other.objective < fixed.objective:  # the location MIP's plan, with the bound proven for these bases
        bound = min(fixed.bound, other.objective)
        proven = relative_gap(other.objective, bound) <= options.target_gap + 1e-12
        solution = replace(other, bound=bound, lp_bound=fixed.lp_bound, restriction=fixed.restriction,
                           status=SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE)
    solution.seconds = {key: fixed.seconds.get(key, 0.0) + other.seconds.get(key, 0.0) for key in ("build", "solve")}
    solution.stages = other.stages + fixed.stages
    return ready, problem, distance, solution, (candidate_units(scenario.territories.candidates, ready.units),
                                                located.bound)


@dataclass
class Layers:
    """What the optional layers over a solved plan add to its run folder (``regions``, ``report.limits``)."""

    files: dict[str, str] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    checks: Callable[[Path, CheckReport], None] | None = None


def after_solve(scenario: Scenario, ready: Prepared, plan: PlanTables, solution: AlignmentSolution,
                options: SolverOptions, progress: Progress) -> tuple[PlanTables, Layers]:
    """Regions over the solved territories and ``limits.csv``, when the scenario asks for them."""
    layers = Layers()
    if scenario.regions is not None:
        from optimizer.alignment.checks.regions import RegionRules, check_regions
        from optimizer.alignment.regions import plan_regions

        progress(f"grouping territories into {scenario.regions.count} regions")
        regions = plan_regions(scenario, ready, plan.assignments, plan.territories)
        plan = PlanTables(plan.assignments, regions.territories, plan.objective, plan.map_assignments)
        layers.files["regions.csv"] = _csv_text(regions.regions)
        layers.summary["regions"] = regions.summary
        rules = RegionRules(scenario.regions.count, scenario.regions.tolerance,
                            tuple(map(tuple, scenario.contiguity.links)))
        layers.checks = lambda folder, report: check_regions(report, folder, ready.units.frame, rules)
    if scenario.report is not None and scenario.report.limits:
        from optimizer.alignment.limits import limits_table

        progress("re-solving with each limit loosened (limits.csv)")
        limits, entry = limits_table(scenario, ready, solution, options)
        layers.files["limits.csv"] = _csv_text(limits)
        layers.summary["limits"] = entry
    return plan, layers


def _csv_text(frame: pd.DataFrame) -> str:
    """A table as CSV text, formatted like :func:`optimizer.outputs.folders.write_table`."""
    return table_text(frame)


def plan_territories(ready: Prepared, assignments: pd.DataFrame, distance: np.ndarray) -> pd.DataFrame:
    """The territory table of ``assignments``, with deviations from the scenario's average territory."""
    target = float(ready.units.workload.sum() / len(ready.bases))
    return territory_table(ready.units, ready.bases, assignments, distance, target)


def write_run_folder(out: Path, scenario: Scenario, ready: Prepared, plan: PlanTables, timer: PhaseTimer,
                     progress: Progress, *, summarize: Callable[[CheckReport], dict], strict: bool = True,
                     files: dict[str, str] | None = None,
                     checks: Callable[[Path, CheckReport], None] | None = None) -> tuple[dict, CheckReport]:
    """Write a run folder from a plan's tables: the tables, the independent checks, the map and the summary.

    Parameters
    ----------
    out : Path
        The run folder; replaced only when everything was written (see :func:`staging_folder`).
    scenario, ready : Scenario, Prepared
        The request and its units and bases.
    plan : PlanTables
        The plan to write.
    timer : PhaseTimer
        Receives the ``check`` and ``write`` phases.
    progress : callable
        Called with a short text before each step.
    summarize : callable
        Builds ``summary.json`` from the check report (called after everything else is written).
    strict : bool
        Raise :class:`CheckFailedError` if a check fails (a solved plan); ``False`` scores a hand-edited plan.
    files : dict, optional
        Extra text files to write, by file name (written before the checks run).
    checks : callable, optional
        Further independent checks, called with the folder and the report after :func:`check_plan`.

    Returns
    -------
    tuple of (dict, CheckReport)
        The summary written and every check's outcome.
    """
    with staging_folder(out) as folder:
        progress("checking the plan")
        with timer.phase("write"):
            write_table(plan.assignments, folder / "assignments.csv")
            write_table(plan.territories, folder / "territories.csv")
            if ready.current is not None:
                measure = scenario.realignment.measure if scenario.realignment else None
                write_table(moves_table(plan.assignments, ready.current, ready.units, measure), folder / "moves.csv")
            for name, text in (files or {}).items():
                (folder / name).write_text(text, encoding="utf-8")
        with timer.phase("check"):
            report = check_plan(folder, ready.units.frame, plan_rules(scenario, ready), plan.objective)
            if checks is not None:
                checks(folder, report)
        if strict:
            report.raise_if_failed()
        progress("drawing the map")
        with timer.phase("write"):
            from optimizer.maps.territories import write_territory_map

            shown = plan.assignments if plan.map_assignments is None else plan.map_assignments
            units = ready.units.frame[ready.units.frame["unit_id"].isin(shown["unit_id"])]
            write_territory_map(folder / "map.html", units, shown, plan.territories, scenario.name,
                                map_marks(scenario, ready, plan.assignments))
        summary = summarize(report)
        write_json(summary, folder / "summary.json")
    return summary, report


def plan_rules(scenario: Scenario, ready: Prepared) -> PlanRules:
    """The rules every plan of ``scenario`` must satisfy, for :func:`check_plan`."""
    return PlanRules(territory_ids=tuple(ready.bases.ids), tolerance=scenario.balance.tolerance,
                     soft_penalty=scenario.balance.soft_penalty,
                     shareable=frozenset(ready.units.ids[ready.shared]), distance=scenario.objective.distance,
                     adoption=adoption_rules(scenario, ready))


def adoption_rules(scenario: Scenario, ready: Prepared) -> AdoptionRules:
    """The scenario's adoption rules in ids, for the independent checks."""
    spec, rules = scenario.realignment, scenario.rules
    current = None if ready.current is None else dict(zip(ready.current["unit_id"], ready.current["territory_id"]))
    return AdoptionRules(
        contiguity=scenario.contiguity.required, links=tuple(map(tuple, scenario.contiguity.links)),
        locks=tuple((lock.unit, lock.territory) for lock in rules.locks),
        together=tuple(map(tuple, rules.together)), apart=tuple(map(tuple, rules.apart)),
        extra_bands=dict(scenario.balance.measures), targets=dict(scenario.balance.targets), current=current,
        moved_measure=spec.measure if spec else None, max_moved_units=spec.max_moved_units if spec else None,
        max_moved_share=spec.max_moved_share if spec else None, move_penalty=spec.move_penalty if spec else None)


def _summary(scenario: Scenario, ready: Prepared, solution: AlignmentSolution, territories: pd.DataFrame,
             checks: list[str], timer: PhaseTimer, started: float, assignments: pd.DataFrame | None = None) -> dict:
    summary = _base_summary(scenario, ready, solution, territories, checks, timer, started)
    if ready.current is not None and assignments is not None:
        measure = scenario.realignment.measure if scenario.realignment else None
        moves = moves_table(assignments, ready.current, ready.units, measure)
        column = measure or "workload"
        summary["moves"] = {"units_moved": int(len(moves)), "unit_shares_moved": float(moves["moved_share"].sum()),
                            f"{column}_moved_share": float(moves["moved"].sum() / ready.units.frame[column].sum()),
                            "budget": scenario.realignment.model_dump(mode="json", exclude={"current_plan"})}
    return summary


def _base_summary(scenario: Scenario, ready: Prepared, solution: AlignmentSolution, territories: pd.DataFrame,
                  checks: list[str], timer: PhaseTimer, started: float) -> dict:
    shared_ids = sorted(set(ready.units.ids[ready.shared]) & set(_split_units(solution, ready)))
    return {
        "kind": "alignment",
        "scenario": scenario.name,
        "scenario_hash": scenario.digest(),
        "data_hash": file_hash(ready.units.source),
        "status": solution.status.value,
        "objective": solution.objective,
        "objective_unit": OBJECTIVE_UNIT,
        "bound": solution.bound,
        "gap": _finite(solution.gap),
        "target_gap": scenario.solver.target_gap,
        "lp_bound": _finite(solution.lp_bound),
        "bound_scope": solution.restriction,
        "units": len(ready.units),
        "territories": len(ready.bases),
        "workload_measures": dict(scenario.workload.measures),
        "target_workload": float(ready.units.workload.sum() / len(ready.bases)),
        "band": band_summary(scenario, territories),
        "shared_units": shared_ids,
        "bases": ready.bases.method,
        "notes": ready.notes,
        "checks_passed": checks,
        "seconds": phase_seconds(timer, started),
        "stages": solution.stages,
        "solver": {"name": "HiGHS", "time_limit": scenario.solver.time_limit, "threads": scenario.solver.threads,
                   "seed": scenario.solver.seed},
        "versions": versions(),
    }


OBJECTIVE_UNIT = "km x average-territory workload (workload-weighted distance to base)"


def band_summary(scenario: Scenario, territories: pd.DataFrame) -> dict:
    """The ``band`` entry of ``summary.json``: tolerance, largest deviation, territories outside."""
    tol = scenario.balance.tolerance
    dev = territories["deviation_pct"]
    out_of_band = territories.loc[dev.abs() > 100 * tol + 1e-6, "territory_id"].tolist()
    return {"tolerance": tol, "soft_penalty": scenario.balance.soft_penalty,
            "max_abs_deviation_pct": float(dev.abs().max()), "territories_outside_band": out_of_band}


def phase_seconds(timer: PhaseTimer, started: float) -> dict[str, float]:
    """The ``seconds`` entry of ``summary.json``: each phase and the total so far."""
    phases = ("load", "bases", "build", "solve", "check", "write")
    seconds = {name: round(timer.seconds.get(name, 0.0), 3) for name in phases}
    seconds["total"] = round(time.perf_counter() - started, 3)
    return seconds


def _split_units(solution: AlignmentSolution, ready: Prepared) -> list[str]:
    counts = np.bincount(solution.unit_index, minlength=len(ready.units))
    return list(ready.units.ids[counts > 1])


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value



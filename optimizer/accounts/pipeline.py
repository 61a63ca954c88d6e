"""One-way flow of an ``accounts`` run: scenario -> accounts and reps -> travel -> problem (refusals before
the solve) -> certified solve -> tables -> independent checks -> map and summary. Nothing reaches back."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optimizer.accounts.checks import check_plan
from optimizer.accounts.data import AccountTable, RepTable, load_inputs
from optimizer.accounts.problem import AccountProblem, build_problem, serves_segments
from optimizer.accounts.schema import AccountsScenario
from optimizer.accounts.solve import AccountSolution, solve_accounts
from optimizer.accounts.tables import assignment_table, move_table, territory_table
from optimizer.accounts.travel import TravelTimes, travel_times
from optimizer.outputs.folders import file_hash, staging_folder, versions, write_json, write_table
from optimizer.core.run import PhaseTimer, RunOutcome
from optimizer.solver.highs import SolverOptions

Progress = Callable[[str], None]
PHASES = ("load", "travel", "build", "solve", "search", "check", "write")  # search: pricing arithmetic,
# rounding, repair and local search (the solve's wall time beyond building models and running HiGHS)


@dataclass(frozen=True)
class Prepared:
    """Everything known before the solve."""

    accounts: AccountTable
    reps: RepTable
    travel: TravelTimes
    problem: AccountProblem
    notes: list[str]


def prepare(scenario: AccountsScenario, timer: PhaseTimer, progress: Progress) -> Prepared:
    """Load and cross-check the inputs, compute travel, build the full problem (raises on bad requests)."""
    progress("loading accounts and reps")
    with timer.phase("load"):
        accounts, reps, roster = load_inputs(scenario)
    with timer.phase("travel"):
        needed = serves_segments(accounts, reps, scenario.eligibility.match_segments)
        table = scenario.data_path(scenario.travel.table) if scenario.travel.table is not None else None
        travel = travel_times(accounts, reps, scenario.travel, table, roster, needed)
        problem, notes = build_problem(scenario, accounts, reps, travel.minutes)
    return Prepared(accounts, reps, travel, problem, list(travel.notes) + notes)


def validate_lines(scenario: AccountsScenario) -> list[str]:
    """What ``territory validate`` prints for an accounts scenario (raises on any problem)."""
    ready = prepare(scenario, PhaseTimer(), lambda _: None)
    p = ready.problem
    followers = int((p.lead != np.arange(p.lead.size)).sum())
    lines = [(f"ok: {scenario.name}: {len(ready.accounts)} accounts, {len(ready.reps)} reps, "
              f"{int(p.eligible.sum()):,} eligible pairs, {int(p.locked.sum())} locked, "
              f"{followers} accounts follow a family parent")]
    return lines + [f"note: {note}" for note in ready.notes]


def solve_prepared(scenario: AccountsScenario, ready: Prepared, options: SolverOptions) -> AccountSolution:
    """Solve a prepared scenario and return the solution, writing nothing (``optimizer.api.solve``)."""
    return solve_accounts(ready.problem, options)


def run_scenario(scenario: AccountsScenario, out: Path, *, keep_log: bool = False,
                 progress: Progress = lambda _: None) -> RunOutcome:
    """Solve ``scenario`` and write its run folder ``out`` (replaced only when everything succeeded)."""
    started = time.perf_counter()
    timer = PhaseTimer()
    ready = prepare(scenario, timer, progress)
    s = scenario.solver
    options = SolverOptions(s.time_limit, s.target_gap, s.threads, s.seed, keep_log)
    progress(f"solving {len(ready.accounts)} accounts x {len(ready.reps)} reps")
    began = time.perf_counter()
    solution = solve_accounts(ready.problem, options)
    timer.seconds["build"], timer.seconds["solve"] = solution.seconds["build"], solution.seconds["solve"]
    timer.seconds["search"] = time.perf_counter() - began - solution.seconds["build"] - solution.seconds["solve"]
    assignments = assignment_table(ready.accounts, ready.reps, ready.problem, ready.travel.minutes, solution.rep_of)
    territories = territory_table(ready.reps, assignments)
    moves = move_table(assignments, ready.reps.excluded)
    with staging_folder(out) as folder:
        with timer.phase("write"):
            write_table(assignments, folder / "assignments.csv")
            write_table(territories, folder / "territories.csv")
            write_table(moves, folder / "moves.csv")
        progress("checking the plan")
        with timer.phase("check"):
            report = check_plan(folder, ready.accounts.frame, ready.reps.frame, scenario, solution.objective)
            report.raise_if_failed()
        progress("drawing the map")
        with timer.phase("write"):
            from optimizer.accounts.map import write_account_map

            write_account_map(folder / "map.html", assignments, territories, scenario.name)
            if keep_log:
                (folder / "solver.log").write_text(solution.log, encoding="utf-8")
        summary = _summary(scenario, ready, solution, territories, assignments, report.passed, timer, started)
        write_json(summary, folder / "summary.json")
    return RunOutcome(folder=out, summary=summary)


def _summary(scenario, ready: Prepared, solution: AccountSolution, territories, assignments, checks, timer,
             started) -> dict:
    seconds = {name: round(timer.seconds.get(name, 0.0), 3) for name in PHASES}
    seconds["total"] = round(time.perf_counter() - started, 3)
    total_value = float(assignments["value"].sum())
    dev = territories["deviation_pct"]
    tol = scenario.balance.tolerance
    outside = [] if tol is None else territories.loc[dev.abs() > 100 * tol + 1e-6, "rep_id"].tolist()
    uncovered = assignments.loc[assignments["rep_id"] == "", "account_id"].tolist()
    moved = assignments["moved"]
    return {
        "scenario": scenario.name, "kind": "accounts", "scenario_hash": scenario.digest(),
        "data_hash": {"accounts": file_hash(ready.accounts.source), "reps": file_hash(ready.reps.source)},
        "status": solution.status.value,
        "objective": solution.objective,
        "objective_unit": "currency a year: value left uncovered + travel + disruption (+ imbalance), minimised",
        "bound": solution.bound, "gap": _finite(solution.gap), "target_gap": scenario.solver.target_gap,
        "lp_bound": solution.lp_bound, "bound_scope": solution.restriction,
        "objective_terms": solution.terms,
        "net_value": total_value - solution.objective, "net_value_bound": total_value - solution.bound,
        "total_value": total_value, "covered_value": float(assignments.loc[assignments["rep_id"] != "", "value"].sum()),
        "accounts": len(ready.accounts), "reps": len(ready.reps), "eligible_pairs": int(ready.problem.eligible.sum()),
        "uncovered_accounts": uncovered,
        "moves": {"accounts": int(moved.sum()), "value": float(assignments.loc[moved, "value"].sum()),
                  "share_of_accounts_with_a_rep": float(moved.sum() / max(1, (assignments["current_rep"] != "").sum()))},
        "locked_accounts": int(ready.problem.locked.sum()),
        "band": {"tolerance": tol or 0.0, "soft_penalty": scenario.balance.soft_penalty,
                 "max_abs_deviation_pct": float(dev.abs().max()), "territories_outside_band": outside},
        "utilization": {"average": float(territories["hours_used"].sum() / territories["capacity_hours"].sum()),
                        "min": float(territories["utilization"].min()), "max": float(territories["utilization"].max())},
        "notes": ready.notes, "checks_passed": checks,
        "seconds": seconds, "stages": solution.stages,
        "solver": {"name": "HiGHS", "time_limit": scenario.solver.time_limit, "threads": scenario.solver.threads,
                   "seed": scenario.solver.seed},
        "versions": versions(),
    }


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value



"""One-way flow of a joint run: scenario -> units with their curves, candidate bases, eligible pairs ->
one compiled model -> heuristic plan, exact model -> tables -> independent checks -> assignments.csv,
territories.csv, sizing.csv, map.html, summary.json (written atomically)."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from optimizer.outputs.folders import staging_folder, write_json, write_table
from optimizer.core.run import PhaseTimer, Progress, RunOutcome
from optimizer.sizing.curve import relative
from optimizer.sizing.joint_checks import JointRules, check_joint
from optimizer.sizing.joint_data import JointInputs, prepare_joint
from optimizer.sizing.joint_schema import JointScenario
from optimizer.sizing.joint_solve import (
    JointModel,
    JointSolution,
    compile_joint,
    solve_joint,
    solve_with_alignment_fixed,
)
from optimizer.sizing.joint_summary import joint_summary
from optimizer.sizing.joint_tables import (
    assignment_table,
    plan_of,
    profit_of,
    sizing_row,
    sizing_table,
    territory_table,
)
from optimizer.solver.highs import SolverOptions

NEIGHBOUR_SECONDS = 4.0  # per polish or neighbour solve
NEIGHBOUR_GAP = 1e-4
AFTER_SHARE = 0.2  # of the time limit kept for the polish and the neighbouring headcounts


def validate_lines(scenario: JointScenario) -> list[str]:
    """What ``territory validate`` prints for a joint scenario (raises on any problem)."""
    inputs = prepare_joint(scenario)
    data = inputs.data
    lines = [(f"ok: {scenario.name}: {len(inputs.items)} units, {len(inputs.bases)} candidate bases, "
             f"{len(data.pair_unit)} eligible pairs, headcount {data.headcount_lo}-{data.headcount_hi}, "
             f"linearisation error bound {data.error_bound:,.0f} {scenario.currency}")]
    return lines + [f"note: {note}" for note in inputs.notes]


def prepare_timed(scenario: JointScenario, timer: PhaseTimer, progress: Progress) -> JointInputs:
    """The joint scenario's inputs before the solve (``optimizer.api.prepare``)."""
    progress("loading units and candidate bases")
    with timer.phase("load"):
        return prepare_joint(scenario)


def run_joint(scenario: JointScenario, out: Path, *, keep_log: bool = False,
              progress: Progress = lambda _: None) -> RunOutcome:
    """Solve the joint model of ``scenario`` and write its run folder ``out`` atomically."""
    started, timer = time.perf_counter(), PhaseTimer()
    progress("loading units and candidate bases")
    with timer.phase("load"):
        inputs = prepare_joint(scenario)
    with timer.phase("build"):
        jm = compile_joint(inputs.data)
    s = scenario.solver
    deadline = time.perf_counter() + s.time_limit
    options = SolverOptions(s.time_limit * (1 - AFTER_SHARE), s.target_gap, s.threads, s.seed)
    progress(f"solving {len(inputs.items)} units x {len(inputs.bases)} candidate bases")
    with timer.phase("solve"):
        solution = solve_joint(jm, inputs.data, inputs.distance_km, options, lambda v: _profit(inputs, jm, v))
        solution = _polish(inputs, jm, solution, options, deadline)
        solution, rows = _with_neighbours(inputs, jm, solution, options, deadline)
        plan = plan_of(inputs, jm, solution.values)
    profit = profit_of(inputs, plan)["profit"]
    table = sizing_table(rows)
    table["gap"] = [relative(u, p) for u, p in zip(table["upper_bound"], table["profit"])]
    assignments = assignment_table(inputs, plan)
    territories = territory_table(inputs, plan, assignments)
    with staging_folder(out) as folder:
        with timer.phase("write"):
            write_table(assignments, folder / "assignments.csv")
            write_table(territories, folder / "territories.csv")
            write_table(table, folder / "sizing.csv")
        progress("checking the plan")
        with timer.phase("check"):
            report = check_joint(folder, JointRules(inputs, profit))
            report.raise_if_failed()
        progress("drawing the map")
        with timer.phase("write"):
            from optimizer.maps.territories import write_territory_map

            units = inputs.units.frame.iloc[inputs.items]
            write_territory_map(folder / "map.html", units, assignments[["unit_id", "territory_id", "share"]],
                                territories, scenario.name)
        summary = joint_summary(inputs, jm, solution, plan, table, territories, report.passed, timer, started)
        write_json(summary, folder / "summary.json")
    return RunOutcome(folder=out, summary=summary)


def _profit(inputs: JointInputs, jm: JointModel, values: np.ndarray) -> float:
    return profit_of(inputs, plan_of(inputs, jm, values))["profit"]


def _tight(options: SolverOptions, deadline: float, solves_left: int) -> SolverOptions:
    """Options of one polish or neighbour solve: an equal share of the time left before the deadline."""
    share = (deadline - time.perf_counter()) / solves_left
    return SolverOptions(min(NEIGHBOUR_SECONDS, max(share, 0.5)), min(options.target_gap, NEIGHBOUR_GAP),
                         options.threads, options.seed)


def _polish(inputs: JointInputs, jm: JointModel, solution: JointSolution, options: SolverOptions,
            deadline: float) -> JointSolution:
    """Re-solve reps per base and calls to ``NEIGHBOUR_GAP`` with the plan's bases and coverage kept.

    The polished plan replaces the plan when its true profit is higher; either way the neighbouring
    headcounts below are solved the same way, so their marginal profits compare like with like.
    """
    headcount = plan_of(inputs, jm, solution.values).headcount
    result = solve_with_alignment_fixed(jm, solution.values, headcount, _tight(options, deadline, 3))
    solution.stages.append({"stage": "polish (bases and units kept)", "status": result.status.value if result else
                            "no plan", "seconds": round(result.seconds, 3) if result else None})
    if result is None or _profit(inputs, jm, result.values) <= _profit(inputs, jm, solution.values):
        return solution
    return replace(solution, values=result.values, objective=result.objective,
                   source=f"{solution.source}, polished")


def _with_neighbours(inputs: JointInputs, jm: JointModel, solution: JointSolution, options: SolverOptions,
                     deadline: float) -> tuple[JointSolution, list[dict]]:
    """The plan's sizing row and its neighbours'; a neighbour of higher true profit becomes the plan."""
    plan = plan_of(inputs, jm, solution.values)
    found = [(solution.values, solution.model_profit, solution.upper, "first joint plan, before the neighbours")]
    found += _neighbours(inputs, jm, solution.values, plan.headcount, options, deadline)
    best = max(range(len(found)), key=lambda k: _profit(inputs, jm, found[k][0]))
    if best > 0:
        solution = replace(solution, values=found[best][0], objective=-found[best][1],
                           source=f"{solution.source}, then {found[best][3]}")
    rows = []
    for k, (values, model_profit, upper, basis) in enumerate(found):
        label = f"joint plan ({solution.source})" if k == best else basis
        rows.append(sizing_row(inputs, plan_of(inputs, jm, values), label, solution.upper if k == best else upper,
                               model_profit))
    return solution, rows


def _neighbours(inputs: JointInputs, jm: JointModel, values: np.ndarray, headcount: int,
                options: SolverOptions, deadline: float) -> list[tuple]:
    """One rep fewer and one more, with the plan's bases and coverage kept (for the marginal profit)."""
    data, rows = inputs.data, []
    opened = int(np.round(values[jm.columns["Open"]]).sum())
    for left, (n, basis) in enumerate(((headcount - 1, "same bases and units, one rep fewer"),
                                        (headcount + 1, "same bases and units, one rep more"))):
        if not (max(data.headcount_lo, opened) <= n <= min(data.headcount_hi, opened * data.max_reps)):
            continue
        result = solve_with_alignment_fixed(jm, values, n, _tight(options, deadline, 2 - left))
        if result is not None:
            upper = -result.bound if math.isfinite(result.bound) else math.nan
            rows.append((result.values, -result.objective, upper, basis))
    return rows

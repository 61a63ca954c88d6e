"""Solving the account model to a gap that holds for the model over *all* eligible pairs.

Small problems (up to ``direct_pairs`` eligible pairs) are solved whole. Larger ones follow the route of
``optimizer.align``: the full LP bound ``LB`` by pricing (see ``optimizer.accounts.pricing``); a MIP over
the LP's support, the current reps and each account's cheapest pairs by reduced cost; a certified bound
``min(B_E, LB + min r_p over excluded p)``; and, if that leaves a gap above the target, one more MIP over
every pair with ``r_p <= UB - LB``, warm-started from the plan, whose bound is then the full model's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from models.accounts import objective_terms
from optimizer.accounts.pricing import (Clock, compiled_model, current_pairs, family_closed, nearest,
                                        price_full_lp)
from optimizer.accounts.problem import AccountProblem
from optimizer.errors import InfeasibleError, NoPlanError
from optimizer.solver import SolveResult, SolverOptions, SolveStatus, load_values, relative_gap, solve

DIRECT_PAIRS = 20_000
PLAN_CHEAPEST = (3, 6)  # pairs of least reduced cost per account in each plan attempt
ABS_GAP = 1e-6  # HiGHS's default mip_abs_gap: below it a plan counts as proven
PLAN_GAP_SHARE = 0.25  # HiGHS's own gap target, as a share of the user's, while the LP bound certifies


@dataclass
class AccountSolution:
    """Each account's rep (-1: uncovered) and what the solve proved."""

    rep_of: np.ndarray
    status: SolveStatus
    objective: float
    bound: float
    lp_bound: float | None
    terms: dict[str, float]
    seconds: dict[str, float] = field(default_factory=dict)
    stages: list[dict] = field(default_factory=list)
    restriction: str = ""
    log: str = ""

    @property
    def gap(self) -> float:
        return relative_gap(self.objective, self.bound)


@dataclass
class _Attempt:
    result: SolveResult
    model: object
    compiled: object
    pairs: tuple[np.ndarray, np.ndarray]
    chosen: np.ndarray


def solve_accounts(problem: AccountProblem, options: SolverOptions, direct_pairs: int = DIRECT_PAIRS) -> AccountSolution:
    """Solve ``problem`` and return the plan with a bound valid for every eligible pair."""
    clock = Clock(options.time_limit)
    stages: list[dict] = []
    logs: list[str] = []
    if int(problem.eligible.sum()) <= direct_pairs:
        attempt = _solve_mip(problem, problem.eligible, options, clock, None, "mip", stages, logs)
        _refuse_without_plan(attempt)
        return _solution(attempt, attempt.result.bound, None, "the MIP used every eligible pair", stages, clock,
                         logs, options.target_gap)
    lp = price_full_lp(problem, options, clock)
    stages.extend(lp.stages)
    good_enough = lp.bound / (1.0 - options.target_gap) if lp.bound > 0 else None
    chosen, attempt = lp.support | current_pairs(problem), None
    for round_number, count in enumerate(PLAN_CHEAPEST):
        chosen = family_closed(problem, chosen | nearest(lp.reduced, count))
        attempt = _solve_mip(problem, chosen, options, clock, None, f"plan {round_number + 1}", stages, logs,
                             good_enough)
        if attempt is not None and attempt.result.status.has_plan:
            break
    _refuse_without_plan(attempt)
    bound = _certified_bound(lp.bound, attempt.result, lp.reduced, chosen)
    if relative_gap(attempt.result.objective, bound) > options.target_gap and clock.left() > 1.0:
        wider = family_closed(problem, chosen | (lp.reduced <= attempt.result.objective - lp.bound + 1e-9))
        if wider.sum() > chosen.sum():
            start = _rep_of(attempt, problem.lead.size)
            better = _solve_mip(problem, wider, options, clock, start, "certify", stages, logs, good_enough)
            if better is not None and better.result.status.has_plan:
                attempt = better
                bound = _certified_bound(lp.bound, attempt.result, lp.reduced, wider)
    text = (f"the MIP used {int(attempt.chosen.sum()):,} of {int(problem.eligible.sum()):,} eligible pairs; every "
            "excluded pair has an LP reduced cost that the bound accounts for, so bound and gap hold for all of them")
    return _solution(attempt, bound, lp.bound, text, stages, clock, logs, options.target_gap)


def _solve_mip(problem, chosen, options, clock, start_plan, name, stages, logs, good_enough=None) -> _Attempt | None:
    if clock.left() <= 0.05:
        return None
    data, pairs = problem.data(chosen)
    compiled = compiled_model(data, clock)
    start = _start_values(problem, compiled, pairs, start_plan) if start_plan is not None else None
    gap = options.target_gap * (PLAN_GAP_SHARE if good_enough is not None else 1.0)
    mip_options = SolverOptions(max(clock.left(), 0.05), gap, options.threads, options.seed, options.keep_log)
    result = solve(compiled, mip_options, start=start, stop_at_objective=good_enough)
    clock.solve += result.seconds
    logs.append(result.log)
    stages.append({"stage": name, "pairs": int(len(pairs[0])), "seconds": round(result.seconds, 3),
                   "status": result.status.value, "objective": result.objective, "bound": result.bound,
                   "nodes": result.nodes})
    model = compiled.columns[0].model() if compiled.columns else None
    return _Attempt(result, model, compiled, pairs, chosen & problem.eligible)


def _certified_bound(lb: float, result: SolveResult, reduced: np.ndarray, chosen: np.ndarray) -> float:
    excluded = reduced[~chosen & np.isfinite(reduced)]
    outside = lb + float(excluded.min()) if excluded.size else math.inf
    bound = min(result.bound, outside) if math.isfinite(result.bound) else lb
    return min(max(lb, bound), result.objective)


def _start_values(problem: AccountProblem, compiled, pairs, rep_of: np.ndarray) -> np.ndarray:
    """Column values of the plan ``rep_of`` for a compiled model over ``pairs``."""
    hours = np.zeros(problem.capacity.size)
    covered = np.flatnonzero(rep_of >= 0)
    np.add.at(hours, rep_of[covered], problem.hours[covered, rep_of[covered]])
    utilization = hours.sum() / problem.capacity.sum()
    tol = problem.tolerance or 0.0
    slack = {"Under": np.maximum((1 - tol) * problem.capacity * utilization - hours, 0.0),
             "Over": np.maximum(hours - (1 + tol) * problem.capacity * utilization, 0.0)}
    values = np.zeros(len(compiled.columns))
    values[: len(pairs[0])] = rep_of[pairs[0]] == pairs[1]
    for k, var in enumerate(compiled.columns[len(pairs[0]):], start=len(pairs[0])):
        name = var.parent_component().local_name
        if name == "Uncovered":
            values[k] = float(rep_of[var.index()] < 0)
        elif name == "Utilization":
            values[k] = utilization
        elif name in slack:
            values[k] = slack[name][var.index()]
    return values


def _rep_of(attempt: _Attempt, n_accounts: int) -> np.ndarray:
    rep_of = np.full(n_accounts, -1)
    take = attempt.result.values[: len(attempt.pairs[0])] > 0.5
    rep_of[attempt.pairs[0][take]] = attempt.pairs[1][take]
    return rep_of


def _refuse_without_plan(attempt: _Attempt | None) -> None:
    if attempt is not None and attempt.result.status.has_plan:
        return
    if attempt is not None and attempt.result.status is SolveStatus.INFEASIBLE:
        raise InfeasibleError("reps", "no plan covers every account within capacity, band, budget, locks and families",
                              "add reps or capacity, widen the band or the budget, lower continuity.lock_top, "
                              "or set coverage.allow_uncovered")
    raise NoPlanError("solver", "the time limit was reached before any plan was found",
                      "raise solver.time_limit (or --time-limit)")


def _solution(attempt, bound, lp_bound, restriction, stages, clock, logs, target_gap) -> AccountSolution:
    result = attempt.result
    load_values(attempt.compiled, result.values)
    proven = relative_gap(result.objective, bound) <= target_gap + 1e-9 or result.objective - bound <= ABS_GAP
    return AccountSolution(rep_of=_rep_of(attempt, attempt.chosen.shape[0]),
                           status=SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE,
                           objective=result.objective, bound=bound, lp_bound=lp_bound,
                           terms=objective_terms(attempt.model), seconds={"build": clock.build, "solve": clock.solve},
                           stages=stages, restriction=restriction, log="\n".join(filter(None, logs)))

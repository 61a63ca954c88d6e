"""Solving the account model to a gap that holds for the model over *all* eligible pairs.

The route of ``optimizer.alignment.solve.align``, on one compiled model (``optimizer.accounts.workspace``):

1. the Lagrangian bound ``LB`` by pricing (``optimizer.accounts.pricing``); small problems, up to
   ``direct_pairs`` eligible pairs, price every pair at once;
2. a first plan: the LP rounded two ways, repaired greedily (``optimizer.accounts.repair``) and improved
   by local search (``optimizer.accounts.improve``), else repaired by a MIP that frees only the accounts
   of the reps out of bounds and of their neighbours; if it is within the target gap of ``LB`` it is the
   answer;
3. otherwise a MIP warm-started from it, over every eligible pair (small problems) or over the LP's
   support, the current reps, the plan and each account's cheapest pairs by reduced cost, stopped as
   soon as a plan is within the target of ``LB``; its bound is ``min(B_E, LB + min r_p over excluded p)``;
4. if that leaves a gap above the target, one more MIP over every pair with ``r_p <= UB - LB``,
   warm-started, whose bound is then the full model's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from models.accounts import objective_terms
from optimizer.accounts.improve import improve
from optimizer.accounts.pricing import LpBound, nearest, price_full_lp, start_pairs
from optimizer.accounts.problem import AccountProblem
from optimizer.accounts.repair import plan_cost, plan_violation, round_and_repair
from optimizer.accounts.workspace import Clock, Workspace, current_pairs, family_closed
from optimizer.core.errors import InfeasibleError, NoPlanError
from optimizer.solver.highs import SolveResult, SolverOptions, SolveStatus, load_values, relative_gap, solve
from optimizer.solver.result import Solution

DIRECT_PAIRS = 20_000
INITIAL_NEAREST, POOL_NEAREST = 6, 12
PLAN_CHEAPEST = (3, 6)  # pairs of least reduced cost per account in each plan attempt
REPAIR_NEIGHBOURS = (3, 6, 12)  # reps freed around each rep out of bounds, per repair attempt
REPAIR_TIME_SHARE = 0.2
IMPROVE_SHARE = 0.1  # of the time left, for each local search
ABS_GAP = 1e-6  # HiGHS's default mip_abs_gap: below it a plan counts as proven
PLAN_GAP_SHARE = 0.25  # HiGHS's own gap target, as a share of the user's, while the LP bound certifies


@dataclass(kw_only=True)
class AccountSolution(Solution):
    """Each account's rep (-1: uncovered), the objective's terms and what the solve proved (see
    :class:`Solution`)."""

    rep_of: np.ndarray
    terms: dict[str, float]


@dataclass
class _Run:
    """What the steps share: the workspace, the options, the LP bound, the log of stages."""

    space: Workspace
    options: SolverOptions
    lp: LpBound
    stages: list[dict]
    logs: list[str] = field(default_factory=list)

    @property
    def good_enough(self) -> float | None:
        return self.lp.bound / (1.0 - self.options.target_gap) if self.lp.bound > 0 else None


def solve_accounts(problem: AccountProblem, options: SolverOptions, direct_pairs: int = DIRECT_PAIRS) -> AccountSolution:
    """Solve ``problem`` and return the plan with a bound valid for every eligible pair."""
    clock = Clock(options.time_limit)
    small = int(problem.eligible.sum()) <= direct_pairs
    start = problem.eligible.copy() if small else start_pairs(problem, INITIAL_NEAREST)
    space = Workspace(problem, start if small else start | start_pairs(problem, POOL_NEAREST), clock)
    lp = price_full_lp(space, options, start)
    run = _Run(space, options, lp, list(lp.stages))
    plan = _first_plan(run)
    if plan is not None and run.good_enough is not None and plan_cost(problem, plan) <= run.good_enough:
        return _solution(run, plan, None, _scope(problem, None))
    chosen = problem.eligible.copy() if small else lp.support | current_pairs(problem)
    if plan is not None:
        chosen |= _plan_pairs(problem, plan)
    result = None
    for number, count in enumerate((0,) if small else PLAN_CHEAPEST):
        chosen = family_closed(problem, chosen | nearest(lp.reduced, count)) if count else chosen
        result = _solve_mip(run, chosen, plan, f"plan {number + 1}", stop=True)
        if result is not None and result.status.has_plan:
            break
    _refuse_without_plan(result)
    plan = run.space.rep_of(result.values)
    bound = _certified_bound(lp.bound, result, lp.reduced, chosen)
    if relative_gap(result.objective, bound) > options.target_gap and clock.left() > 1.0 and not small:
        wider = family_closed(problem, chosen | (lp.reduced <= result.objective - lp.bound + 1e-9))
        if wider.sum() > chosen.sum():
            better = _solve_mip(run, wider, plan, "certify", stop=True)
            if better is not None and better.status.has_plan and better.objective <= result.objective + 1e-9:
                result, plan, chosen = better, run.space.rep_of(better.values), wider
                bound = _certified_bound(lp.bound, result, lp.reduced, chosen)
    return _solution(run, plan, (result, bound), _scope(problem, chosen))


def _first_plan(run: _Run) -> np.ndarray | None:
    """The best of the LP's roundings (largest share; split families fitted) after greedy repair and local
    search; when both repairs get stuck, a MIP that frees only the accounts around the trouble."""
    problem, began = run.space.problem, time.perf_counter()
    best = None
    for fit in (False, True):  # the second rounding only when the first is not good enough
        plan = round_and_repair(problem, run.lp.share, run.lp.uncovered, fit=fit,
                                seconds=REPAIR_TIME_SHARE * run.space.clock.left())
        if plan is not None:
            plan = improve(problem, plan, IMPROVE_SHARE * run.space.clock.left())
            best = plan if best is None or plan_cost(problem, plan) < plan_cost(problem, best) else best
        if best is not None and run.good_enough is not None and plan_cost(problem, best) <= run.good_enough:
            break
    run.stages.append({"stage": "round, repair and improve", "seconds": round(time.perf_counter() - began, 3),
                       "found": best is not None, "objective": plan_cost(problem, best) if best is not None else None})
    if best is not None:
        return best
    rounded = round_and_repair(problem, run.lp.share, run.lp.uncovered, repair=False)
    candidates = run.lp.support | nearest(run.lp.reduced, PLAN_CHEAPEST[0]) | current_pairs(problem)
    for neighbours in REPAIR_NEIGHBOURS:
        free = _repair_region(problem, rounded, candidates, neighbours)
        result = _solve_mip(run, free | _plan_pairs(problem, rounded), None, f"repair ({neighbours} neighbours)",
                            limit=REPAIR_TIME_SHARE * run.space.clock.left(), free=free)
        if result is not None and result.status.has_plan:
            return improve(problem, run.space.rep_of(result.values), IMPROVE_SHARE * run.space.clock.left())
    return None


def _repair_region(problem: AccountProblem, plan: np.ndarray, candidates: np.ndarray, neighbours: int) -> np.ndarray:
    """Candidate pairs among the reps out of bounds and the reps sharing most candidate accounts with
    them, for the accounts of all those reps."""
    bad = np.flatnonzero(plan_violation(problem, plan) > 1e-9)
    shared = candidates.astype(float).T @ candidates.astype(float)
    np.fill_diagonal(shared, -1.0)
    reps = np.zeros(problem.capacity.size, bool)
    reps[bad] = True
    for rep in bad:
        reps[np.argsort(-shared[rep], kind="stable")[:neighbours]] = True
    accounts = np.isin(plan, np.flatnonzero(reps)) | (plan < 0)
    return family_closed(problem, accounts[:, None] & reps[None, :] & candidates)


def _solve_mip(run: _Run, chosen: np.ndarray, plan: np.ndarray | None, name: str, *, stop: bool = False,
               limit: float | None = None, free: np.ndarray | None = None) -> SolveResult | None:
    space, options = run.space, run.options
    if space.clock.left() <= 0.05:
        return None
    space.ensure(chosen)
    start = space.start_values(plan) if plan is not None else None
    gap = options.target_gap * (PLAN_GAP_SHARE if stop and run.good_enough is not None else 1.0)
    seconds = max(min(space.clock.left(), limit if limit is not None else math.inf), 0.05)
    mip_options = SolverOptions(seconds, gap, options.threads, options.seed, options.keep_log)
    result = solve(space.view(chosen, elastic=False), mip_options, start=start,
                   stop_at_objective=run.good_enough if stop else None)
    space.clock.solve += result.seconds
    run.logs.append(result.log)
    run.stages.append({"stage": name, "pairs": int(chosen.sum()), "seconds": round(result.seconds, 3),
                       "status": result.status.value, "objective": result.objective, "bound": result.bound,
                       "nodes": result.nodes} | ({"free pairs": int(free.sum())} if free is not None else {}))
    return result


def _certified_bound(lb: float, result: SolveResult, reduced: np.ndarray, chosen: np.ndarray) -> float:
    excluded = reduced[~chosen & np.isfinite(reduced)]
    outside = lb + float(excluded.min()) if excluded.size else math.inf
    bound = min(result.bound, outside) if math.isfinite(result.bound) else lb
    return min(max(lb, bound), result.objective)


def _plan_pairs(problem: AccountProblem, rep_of: np.ndarray) -> np.ndarray:
    mask = np.zeros(problem.eligible.shape, bool)
    covered = np.flatnonzero(rep_of >= 0)
    mask[covered, rep_of[covered]] = True
    return mask


def _scope(problem: AccountProblem, chosen: np.ndarray | None) -> str:
    total = int(problem.eligible.sum())
    if chosen is None:
        return (f"the bound is the Lagrangian (LP) bound over all {total:,} eligible pairs; the plan came from "
                "rounding the LP and needed no MIP")
    if int(chosen.sum()) >= total:
        return f"the MIP used all {total:,} eligible pairs"
    return (f"the MIP used {int(chosen.sum()):,} of {total:,} eligible pairs; every excluded pair has an LP reduced "
            "cost that the bound accounts for, so bound and gap hold for all of them")


def _refuse_without_plan(result: SolveResult | None) -> None:
    if result is not None and result.status.has_plan:
        return
    if result is not None and result.status is SolveStatus.INFEASIBLE:
        raise InfeasibleError("reps", "no plan with whole accounts meets capacity, band, budget, locks and families, "
                              "although a fractional one does", "widen balance.tolerance or the move budget, "
                              "lower continuity.lock_top, or set balance.soft_penalty or coverage.allow_uncovered")
    raise NoPlanError("solver", "the time limit was reached before any plan was found",
                      "raise solver.time_limit (or --time-limit)")


def _solution(run: _Run, plan: np.ndarray, mip: tuple[SolveResult, float] | None, scope: str) -> AccountSolution:
    space = run.space
    cost = plan_cost(space.problem, plan)
    bound = min(run.lp.bound, cost) if mip is None else mip[1]
    values = space.start_values(plan)
    load_values(space.compiled, values)
    proven = relative_gap(cost, bound) <= run.options.target_gap + 1e-9 or cost - bound <= ABS_GAP
    if mip is not None and not math.isclose(mip[0].objective, cost, rel_tol=1e-6, abs_tol=1e-6):
        raise RuntimeError(f"the MIP's objective {mip[0].objective} differs from the plan's cost {cost}")
    return AccountSolution(rep_of=plan, status=SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE,
                           objective=cost, bound=bound, lp_bound=run.lp.bound, terms=objective_terms(space.model),
                           seconds={"build": space.clock.build, "solve": space.clock.solve}, stages=run.stages,
                           restriction=scope, log="\n".join(filter(None, run.logs)))

"""Solving the alignment model to a gap that is certified for the model over *all* unit-base pairs.

The MIP is solved over a restricted set of pairs, but the bound reported is valid for the full model:

1. **Full LP bound by pricing.** The LP relaxation is solved over a growing pair set (start: each unit's
   nearest bases; the band is elastic at a high price so every restricted LP is feasible). The duals
   price every pair of the full grid with numpy, ``r[i,t] = c[i,t] - y_i - w_i * z_t``; pairs with negative
   reduced cost are added until none is left. The last LP value ``LB`` is the full LP's optimum.
2. **A plan** from the MIP over the LP's support plus each unit's cheapest pairs by reduced cost.
3. **Certified bound.** For an optimal LP dual, any plan that uses a binary pair ``p`` costs at least
   ``LB + r_p``. So the full model's optimum is at least ``min(B_E, LB + min r_p over excluded p)``,
   where ``B_E`` is the MIP bound over the included pairs ``E`` (shared units keep all their pairs, since
   a fractional share escapes the argument). If that bound leaves a gap above the target, the MIP is run
   again over every pair with ``r_p <= UB - LB``, warm-started: any excluded pair then cannot improve on
   the plan, so the MIP's bound is the full model's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from models.alignment import AlignmentData, build
from optimizer.errors import InfeasibleError, NoPlanError
from optimizer.repair import nearest, out_of_band, repair_pairs, round_lp
from optimizer.solver import CompiledModel, SolveResult, SolverOptions, SolveStatus, compile_model, relative_gap, solve

INITIAL_NEAREST = 8
PLAN_CHEAPEST = (3, 8, 10**9)
PLAN_GAP_SHARE = 0.25  # HiGHS's own gap target, as a share of the user's, while the LP bound certifies  # pairs of least reduced cost per unit in each plan attempt (last: all pairs)
ELASTIC_PRICE = 1.0e5  # km per average territory outside the band: only the LP pricing phase uses it
SHARE_EPS = 1e-6


@dataclass(frozen=True)
class AlignmentProblem:
    """The full model's data: every unit-territory pair is allowed."""

    load: np.ndarray  # (N,) workload / average territory workload
    distance_km: np.ndarray  # (N, K)
    shared: np.ndarray  # (N,) bool
    lower: np.ndarray  # (K,)
    upper: np.ndarray  # (K,)
    penalty: float | None

    @property
    def cost(self) -> np.ndarray:
        return self.load[:, None] * self.distance_km


@dataclass
class AlignmentSolution:
    """Shares per (unit, territory) and what the solve proved."""

    unit_index: np.ndarray
    territory_index: np.ndarray
    share: np.ndarray
    status: SolveStatus
    objective: float
    bound: float
    lp_bound: float
    seconds: dict[str, float] = field(default_factory=dict)
    stages: list[dict] = field(default_factory=list)
    restriction: str = ""
    log: str = ""

    @property
    def gap(self) -> float:
        return relative_gap(self.objective, self.bound)


class _Clock:
    def __init__(self, limit: float) -> None:
        self.start, self.limit = time.perf_counter(), limit
        self.build = self.solve = 0.0

    def left(self) -> float:
        return self.limit - (time.perf_counter() - self.start)


def solve_alignment(problem: AlignmentProblem, options: SolverOptions) -> AlignmentSolution:
    """Run the certified pipeline described in the module docstring."""
    clock = _Clock(options.time_limit)
    n, k = problem.distance_km.shape
    cost = problem.cost
    lb, reduced, lp_share, lp_stages = _price_full_lp(problem, cost, options, clock)
    shared_pairs = np.zeros((n, k), bool)
    shared_pairs[problem.shared] = True
    stages, logs = list(lp_stages), []
    good_enough = lb / (1.0 - options.target_gap) if lb > 0 else None
    rounded = round_lp(lp_share, problem.shared)
    violated = out_of_band(rounded, problem.load, problem.lower, problem.upper)
    stages.append({"stage": "round", "objective": _plan_cost(problem, rounded),
                   "territories_outside_band": int(violated.size)})
    if violated.size and problem.penalty is None:
        rounded = _repair_by_mip(problem, rounded, violated, options, clock, stages, logs, good_enough)
    plan, chosen = None, (lp_share > SHARE_EPS) | shared_pairs
    if rounded is not None:
        chosen |= rounded > 0
    for attempt, count in enumerate(PLAN_CHEAPEST):
        chosen = chosen | nearest(reduced, min(k, count))
        start = _start_vector(problem, rounded, chosen) if rounded is not None else None
        plan = _solve_mip(problem, chosen, options, clock, start, f"plan {attempt + 1}", stages, logs, good_enough)
        if plan is not None and plan[0].status.has_plan:
            break
    result, pairs = plan if plan is not None else (None, None)
    if result is None or not result.status.has_plan:
        _raise_no_plan(result, problem)
    bound = _certified_bound(lb, result, reduced, chosen)
    if relative_gap(result.objective, bound) > options.target_gap and clock.left() > 1.0:
        wider = chosen | (reduced <= result.objective - lb + 1e-9)
        if wider.sum() > chosen.sum():
            start = _start_vector(problem, _as_grid(result.values, pairs, (n, k)), wider)
            better = _solve_mip(problem, wider, options, clock, start, "certify", stages, logs, good_enough)
            if better is not None and better[0].status.has_plan:  # warm-started: never worse than the plan
                result, pairs, chosen = better[0], better[1], wider
                bound = _certified_bound(lb, result, reduced, chosen)
    return _solution(problem, result, pairs, bound, lb, chosen, stages, clock, logs, options.target_gap)


def _price_full_lp(problem: AlignmentProblem, cost: np.ndarray, options: SolverOptions, clock: _Clock):
    n, k = cost.shape
    included = nearest(problem.distance_km, min(k, INITIAL_NEAREST))
    included[problem.shared] = True
    stages = []
    penalty = problem.penalty if problem.penalty is not None else ELASTIC_PRICE
    while True:
        data, pairs = _data(problem, included, penalty)
        compiled = _compiled(data, clock)
        # x <= 1 is implied by the one_territory rows; dropping it keeps every dual on the rows we price with
        compiled.col_upper[: len(pairs[0])] = np.inf
        lp_options = SolverOptions(max(clock.left(), 1.0), 0.0, options.threads, options.seed)
        began = time.perf_counter()
        result = solve(compiled, lp_options, relax=True)
        clock.solve += time.perf_counter() - began
        stages.append({"stage": "lp", "pairs": int(len(pairs[0])), "seconds": round(result.seconds, 3),
                       "objective": result.objective})
        if result.status is not SolveStatus.OPTIMAL:
            raise NoPlanError("solver", f"the LP relaxation stopped: {result.detail}",
                              "raise solver.time_limit")
        reduced = _reduced_costs(problem, cost, compiled, result)
        # Lagrangian bound: each unit can gain at most its most negative reduced cost
        shortfall = float(np.minimum(reduced.min(axis=1), 0.0).sum())
        entering = (reduced < 0) & ~included
        if shortfall >= -1e-7 * max(1.0, abs(result.objective)) or not entering.any():
            break
        included |= entering
    lp_share = np.zeros((n, k))
    lp_share[pairs[0], pairs[1]] = result.values[: len(pairs[0])]
    _refuse_unreachable_band(problem, result, compiled, pairs)
    return result.objective + shortfall, np.maximum(reduced, 0.0), lp_share, stages


def _compiled(data: AlignmentData, clock: _Clock) -> CompiledModel:
    began = time.perf_counter()
    compiled = compile_model(build(data))
    clock.build += time.perf_counter() - began
    leading = compiled.columns[: len(data.pair_unit)]
    if any(var.parent_component().local_name != "Assign" or var.index() != p for p, var in enumerate(leading)):
        raise RuntimeError("compiled columns are not in pair order; the solution would be misread")
    return compiled


def _data(problem: AlignmentProblem, included: np.ndarray, penalty: float | None):
    unit, territory = np.nonzero(included)
    data = AlignmentData(load=problem.load, shared=problem.shared, pair_unit=unit, pair_territory=territory,
                         pair_cost=problem.cost[unit, territory], lower=problem.lower, upper=problem.upper,
                         penalty=penalty)
    return data, (unit, territory)


def _row_duals(compiled: CompiledModel, duals: np.ndarray, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    unit_dual, band_dual = np.zeros(n), np.zeros(k)
    for row, con in enumerate(compiled.rows):
        target = unit_dual if con.parent_component().local_name == "one_territory" else band_dual
        target[con.index()] += duals[row]
    return unit_dual, band_dual


def _reduced_costs(problem, cost, compiled, result) -> np.ndarray:
    n, k = cost.shape
    unit_dual, band_dual = _row_duals(compiled, result.row_duals, n, k)
    return cost - unit_dual[:, None] - problem.load[:, None] * band_dual[None, :]


def _refuse_unreachable_band(problem, result: SolveResult, compiled: CompiledModel, pairs) -> None:
    if problem.penalty is not None:
        return
    elastic = result.values[len(pairs[0]):]
    if elastic.size and elastic.max() > 1e-6:
        raise InfeasibleError("balance", "even splitting every unit cannot put all territories in the band",
                              "widen balance.tolerance or set balance.soft_penalty")


def _solve_mip(problem, chosen, options, clock, start, name, stages, logs, good_enough=None):
    if clock.left() <= 0.05:
        return None
    data, pairs = _data(problem, chosen, problem.penalty)
    compiled = _compiled(data, clock)
    # With a certifying bound from outside, HiGHS must aim below the target on its own (weaker) bound
    gap = options.target_gap * (PLAN_GAP_SHARE if good_enough is not None else 1.0)
    mip_options = SolverOptions(max(clock.left(), 0.05), gap, options.threads, options.seed, options.keep_log)
    result = solve(compiled, mip_options, start=start, stop_at_objective=good_enough)
    clock.solve += result.seconds
    logs.append(result.log)
    stages.append({"stage": name, "pairs": int(len(pairs[0])), "seconds": round(result.seconds, 3),
                   "status": result.status.value, "objective": result.objective, "bound": result.bound,
                   "nodes": result.nodes})
    return result, pairs


def _certified_bound(lb: float, result: SolveResult, reduced: np.ndarray, chosen: np.ndarray) -> float:
    excluded = reduced[~chosen]
    outside = lb + float(excluded.min()) if excluded.size else math.inf
    bound = min(result.bound, outside) if math.isfinite(result.bound) else lb
    return min(max(lb, bound), result.objective)


def _repair_by_mip(problem, grid, violated, options, clock, stages, logs, good_enough) -> np.ndarray | None:
    """Move units near the out-of-band territories among their nearest territories; keep all others."""
    chosen = repair_pairs(grid, problem.distance_km, problem.shared, violated)
    result = _solve_mip(problem, chosen, options, clock, None, "repair", stages, logs, good_enough)
    if result is None or not result[0].status.has_plan:
        return None
    return _as_grid(result[0].values, result[1], grid.shape)


def _as_grid(values: np.ndarray, pairs, shape) -> np.ndarray:
    grid = np.zeros(shape)
    grid[pairs[0], pairs[1]] = values[: len(pairs[0])]
    return grid


def _plan_loads(problem: AlignmentProblem, grid: np.ndarray) -> np.ndarray:
    return (grid * problem.load[:, None]).sum(axis=0)


def _plan_cost(problem: AlignmentProblem, grid: np.ndarray) -> float:
    travel = float((grid * problem.cost).sum())
    if problem.penalty is None:
        return travel
    loads = _plan_loads(problem, grid)
    outside = np.maximum(problem.lower - loads, 0) + np.maximum(loads - problem.upper, 0)
    return travel + problem.penalty * float(outside.sum())


def _start_vector(problem: AlignmentProblem, grid: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Column values of ``grid`` for the model over ``chosen`` (Assign in pair order, then Under, Over)."""
    unit, territory = np.nonzero(chosen)
    values = [grid[unit, territory]]
    if problem.penalty is not None:
        loads = _plan_loads(problem, grid)
        values += [np.maximum(problem.lower - loads, 0), np.maximum(loads - problem.upper, 0)]
    return np.concatenate(values)


def _raise_no_plan(result: SolveResult | None, problem: AlignmentProblem) -> None:
    if result is not None and result.status is SolveStatus.INFEASIBLE:
        raise InfeasibleError(
            "balance", f"no plan puts every territory within ±{_tolerance(problem):.1%} with whole units",
            "widen balance.tolerance, allow units.sharing, or set balance.soft_penalty")
    raise NoPlanError("solver", "the time limit was reached before any plan was found",
                      "raise solver.time_limit (or --time-limit)")


def _tolerance(problem: AlignmentProblem) -> float:
    return float(np.max(problem.upper) - 1.0)


def _solution(problem, result, pairs, bound, lb, chosen, stages, clock, logs, target_gap) -> AlignmentSolution:
    n_pairs = len(pairs[0])
    values = result.values[:n_pairs]
    keep = values > SHARE_EPS
    unit, territory, share = pairs[0][keep], pairs[1][keep], values[keep]
    share = share / np.bincount(unit, weights=share, minlength=problem.load.size)[unit]
    whole = ~problem.shared[unit]
    share[whole] = np.round(share[whole])
    keep = share > 0
    total = chosen.size
    restriction = (f"the MIP used {int(chosen.sum()):,} of {total:,} unit-territory pairs; every excluded pair "
                   "has an LP reduced cost that the bound accounts for, so bound and gap hold for the full model")
    proven = relative_gap(result.objective, bound) <= target_gap + 1e-12
    status = SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE
    return AlignmentSolution(unit_index=unit[keep], territory_index=territory[keep], share=share[keep],
                             status=status, objective=result.objective, bound=bound, lp_bound=lb,
                             seconds={"build": clock.build, "solve": clock.solve}, stages=stages,
                             restriction=restriction, log="\n".join(filter(None, logs)))

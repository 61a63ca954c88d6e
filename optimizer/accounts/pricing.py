"""The full LP bound of the account model by pricing, so a restricted MIP can report an honest gap.

The LP relaxation is solved over a growing set of pairs; the duals price every eligible pair with numpy:

``r[i,t] = c[i,t] + d_i m[i,t] - y_i - h[i,t] (cap_t + low_t + high_t - avg) - w_i m[i,t] budget``

where ``y`` are the duals of ``one_rep`` (and ``keep_locked``), ``cap``, ``low``, ``high`` those of the
rep rows, ``avg`` of ``average_utilization`` and ``budget`` of ``move_budget``. A family moves as one,
so its price for rep ``t`` is the sum over its members (the family links cancel out). Pairs with a
negative price enter until none is left; then ``LB`` (the LP value plus every group's most negative
price) is the full LP's optimum, and any plan using pair ``p`` costs at least ``LB + r_p``.
While pricing, every account may stay uncovered and the band is soft, both at prohibitive prices, so
each restricted LP is feasible; if the final LP still uses them, no plan exists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from models.accounts import build
from optimizer.accounts.problem import AccountProblem
from optimizer.errors import InfeasibleError, NoPlanError
from optimizer.solver import CompiledModel, SolveResult, SolverOptions, SolveStatus, compile_model, solve

INITIAL_NEAREST = 6
ELASTIC_FACTOR = 1.0e3
DUAL_CHECK_TOLERANCE = 1e-5


@dataclass
class Clock:
    """Seconds left of the run's time limit, and seconds spent building and solving."""

    limit: float
    start: float = 0.0
    build: float = 0.0
    solve: float = 0.0

    def __post_init__(self) -> None:
        self.start = time.perf_counter()

    def left(self) -> float:
        return self.limit - (time.perf_counter() - self.start)


@dataclass
class LpBound:
    """The full LP's optimum, every eligible pair's (family) reduced cost, and the LP's support."""

    bound: float
    reduced: np.ndarray  # (A, R), >= 0, +inf for ineligible pairs
    support: np.ndarray  # (A, R) bool
    stages: list[dict]


def compiled_model(data, clock: Clock) -> CompiledModel:
    """Build and compile, with the columns reordered so that the pairs come first, in pair order."""
    began = time.perf_counter()
    compiled = compile_model(build(data))
    n_pairs = len(data.pair_account)
    pair_of = np.array([var.index() if var.parent_component().local_name == "Assign" else -1
                        for var in compiled.columns])
    if sorted(pair_of[pair_of >= 0]) != list(range(n_pairs)):
        raise RuntimeError("the compiled model does not hold every pair once; the solution would be misread")
    order = np.concatenate([np.flatnonzero(pair_of >= 0)[np.argsort(pair_of[pair_of >= 0])],
                            np.flatnonzero(pair_of < 0)])
    compiled = replace(compiled, columns=[compiled.columns[k] for k in order], cost=compiled.cost[order],
                       matrix=compiled.matrix[:, order], col_lower=compiled.col_lower[order],
                       col_upper=compiled.col_upper[order], integer=compiled.integer[order])
    clock.build += time.perf_counter() - began
    return compiled


def nearest(score: np.ndarray, count: int) -> np.ndarray:
    """Mask of each row's ``count`` smallest entries (ineligible entries are +inf)."""
    n, k = score.shape
    if count >= k:
        return np.isfinite(score)
    best = np.argpartition(score, count - 1, axis=1)[:, :count]
    mask = np.zeros((n, k), bool)
    mask[np.arange(n)[:, None], best] = True
    return mask & np.isfinite(score)


def family_closed(problem: AccountProblem, mask: np.ndarray) -> np.ndarray:
    """Extend ``mask`` so every family member has the same reps as its lead."""
    grouped = np.zeros_like(mask)
    np.logical_or.at(grouped, problem.lead, mask)
    return grouped[problem.lead] & problem.eligible


def current_pairs(problem: AccountProblem) -> np.ndarray:
    mask = np.zeros(problem.eligible.shape, bool)
    has = np.flatnonzero(problem.current >= 0)
    mask[has, problem.current[has]] = True
    return mask & problem.eligible


def elastic_prices(problem: AccountProblem) -> tuple[np.ndarray, float]:
    """Uncovered cost per account and band penalty per hour that no real plan would pay."""
    costs = np.where(problem.eligible, problem.travel_cost, 0.0)
    scale = float(costs.max()) + float(problem.move_cost.max(initial=0.0)) + 1.0
    per_hour = scale / max(float(np.where(problem.eligible, problem.hours, np.inf).min()), 1e-3)
    uncovered = problem.uncovered_cost if problem.uncovered_cost is not None else np.full(problem.lead.size, ELASTIC_FACTOR * scale)
    band = problem.band_penalty if problem.band_penalty is not None else ELASTIC_FACTOR * per_hour
    return uncovered, band


def price_full_lp(problem: AccountProblem, options: SolverOptions, clock: Clock) -> LpBound:
    """Solve the LP over a growing pair set until no eligible pair has a negative price."""
    included = family_closed(problem, nearest(np.where(problem.eligible, problem.hours, np.inf), INITIAL_NEAREST)
                             | current_pairs(problem))
    uncovered, band = elastic_prices(problem)
    stages: list[dict] = []
    while True:
        data, pairs = problem.data(included, uncovered, band, elastic=True)
        compiled = compiled_model(data, clock)
        _drop_implied_upper_bounds(compiled)
        result = _solve_lp(compiled, options, clock, stages, len(pairs[0]))
        if result.status is SolveStatus.INFEASIBLE and not np.array_equal(included, problem.eligible):
            included = problem.eligible.copy()  # the move budget may need pairs outside the start set
            continue
        _refuse_failed_lp(result)
        reduced = reduced_costs(problem, compiled, result, pairs)
        shortfall = float(np.minimum(reduced[problem.lead == np.arange(problem.lead.size)].min(axis=1), 0).sum())
        entering = (reduced < 0) & ~included
        if shortfall >= -1e-7 * max(1.0, abs(result.objective)) or not entering.any():
            break
        included = family_closed(problem, included | entering)
    _refuse_elastic(problem, result, data, compiled)
    support = np.zeros(problem.eligible.shape, bool)
    support[pairs[0], pairs[1]] = result.values[: len(pairs[0])] > 1e-6
    return LpBound(result.objective + shortfall, np.maximum(reduced, 0.0), support, stages)


def _drop_implied_upper_bounds(compiled: CompiledModel) -> None:
    """``x <= 1`` and ``Uncovered <= 1`` are implied by ``one_rep``; without them every dual is on a row."""
    for column, var in enumerate(compiled.columns):
        if var.parent_component().local_name in ("Assign", "Uncovered"):
            compiled.col_upper[column] = np.inf


def _solve_lp(compiled, options, clock, stages, n_pairs) -> SolveResult:
    lp_options = SolverOptions(max(clock.left(), 1.0), 0.0, options.threads, options.seed)
    result = solve(compiled, lp_options, relax=True)
    clock.solve += result.seconds
    stages.append({"stage": "lp", "pairs": int(n_pairs), "seconds": round(result.seconds, 3),
                   "objective": result.objective})
    return result


def _refuse_failed_lp(result: SolveResult) -> None:
    if result.status is SolveStatus.INFEASIBLE:
        raise InfeasibleError("continuity.max_moved_share", "even fractional assignments cannot keep the moves "
                              "within the budget", "raise continuity.max_moved_share or lower continuity.lock_top")
    if result.status is not SolveStatus.OPTIMAL:
        raise NoPlanError("solver", f"the LP relaxation stopped: {result.detail}", "raise solver.time_limit")


def row_duals(compiled: CompiledModel, duals: np.ndarray, n_accounts: int, n_reps: int) -> dict[str, np.ndarray]:
    """Duals summed per constraint family and index."""
    found = {"account": np.zeros(n_accounts), "rep": np.zeros(n_reps), "avg": np.zeros(1), "budget": np.zeros(1)}
    target = {"one_rep": "account", "keep_locked": "account", "within_capacity": "rep", "band_low": "rep",
              "band_high": "rep", "average_utilization": "avg", "move_budget": "budget"}
    for row, con in enumerate(compiled.rows):
        name = target.get(con.parent_component().local_name)
        if name is not None:
            found[name][con.index() if name in ("account", "rep") else 0] += duals[row]
    return found


def reduced_costs(problem: AccountProblem, compiled: CompiledModel, result: SolveResult, pairs) -> np.ndarray:
    """Family reduced cost of every eligible pair (``+inf`` where ineligible); checked on the LP's columns."""
    y = row_duals(compiled, result.row_duals, problem.lead.size, problem.capacity.size)
    moves = problem.moves
    weight = problem.move_weight if problem.move_weight is not None else np.zeros(problem.lead.size)
    single = (problem.travel_cost + problem.move_cost[:, None] * moves - y["account"][:, None]
              - problem.hours * (y["rep"][None, :] - y["avg"][0]) - (weight * y["budget"][0])[:, None] * moves)
    _check_against_matrix(problem, compiled, result, pairs, single)
    family = np.zeros_like(single)
    np.add.at(family, problem.lead, np.where(problem.eligible, single, 0.0))
    return np.where(problem.eligible, family[problem.lead], np.inf)


def _check_against_matrix(problem, compiled, result, pairs, single) -> None:
    """The formula must match ``c - A'y`` on the LP's own columns (accounts without family links)."""
    n = len(pairs[0])
    exact = compiled.cost[:n] - compiled.matrix[:, :n].T @ result.row_duals
    alone = problem.lead[pairs[0]] == pairs[0]
    alone &= np.bincount(problem.lead, minlength=problem.lead.size)[pairs[0]] == 1
    diff = np.abs(exact[alone] - single[pairs[0][alone], pairs[1][alone]])
    scale = 1.0 + np.abs(exact[alone])
    if diff.size and float((diff / scale).max()) > DUAL_CHECK_TOLERANCE:
        raise RuntimeError("pricing formula disagrees with the LP's reduced costs; the bound would be wrong")


def _refuse_elastic(problem: AccountProblem, result: SolveResult, data, compiled: CompiledModel) -> None:
    names = [var.parent_component().local_name for var in compiled.columns]
    used = {name: 0.0 for name in ("Uncovered", "Under", "Over")}
    for name, value in zip(names, result.values):
        if name in used:
            used[name] += max(value, 0.0)
    if problem.uncovered_cost is None and used["Uncovered"] > 1e-6:
        raise InfeasibleError("reps", f"even fractional assignments leave {used['Uncovered']:.1f} accounts without a "
                              "rep within capacity and band", "add reps or capacity, widen the reach or the band, "
                              "or set coverage.allow_uncovered")
    if problem.tolerance is not None and problem.band_penalty is None and used["Under"] + used["Over"] > 1e-6:
        raise InfeasibleError("balance", f"even fractional assignments leave {used['Under'] + used['Over']:,.0f} h "
                              f"outside the ±{problem.tolerance:.0%} utilisation band",
                              "widen balance.tolerance or set balance.soft_penalty")

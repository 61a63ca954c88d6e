"""The full LP bound of the account model by pricing, so a restricted MIP can report an honest gap.

The LP relaxation is solved over a growing set of pairs; its duals price every eligible pair with numpy:

``r[i,t] = c[i,t] - d_i k[i,t] + h[i,t] hours_t + w_i k[i,t] budget``

where ``k[i,t]`` is 1 for the current rep, ``hours_t`` is the dual of ``hours_definition`` (row
``H_t - sum h x = 0``) and ``budget`` that of ``move_budget`` (row ``-sum w k x <= B - sum w``); the
other rep rows only hold the continuous columns (hours, utilisation, band slack), whose least
contribution is taken over their implied bounds. A family moves as one, so its price for rep ``t`` is
the sum over its members. With these rows priced, each family just takes its cheapest option (a rep, or
staying uncovered), which gives the Lagrangian bound ``LB`` for the model over *every* eligible pair,
whatever pairs the LP held; a plan that uses pair ``p`` costs at least ``LB`` plus ``p``'s price above its
family's cheapest option. Pairs priced below their family's LP dual enter the LP until ``LB`` is within
a small share of the target gap of the LP value. While pricing, every account may stay uncovered and
the band is soft, at prohibitive prices, so each restricted LP is feasible; if the final LP still pays
them, no plan exists.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from optimizer.accounts.problem import AccountProblem
from optimizer.accounts.workspace import Workspace, compiled_model, current_pairs, elastic_prices, family_closed
from optimizer.core.errors import InfeasibleError, NoPlanError
from optimizer.solver.highs import SolveResult, SolverOptions, SolveStatus, solve

INITIAL_NEAREST = 6
REP_REACH_FACTOR = 1.5
POOL_NEAREST = 12
ENTERING_PER_ACCOUNT = 2  # partial pricing: the most negative pairs of each account enter
CONVERGED_SHARE = 0.05  # stop pricing once LP value - LB is below this share of the target gap
DUAL_CHECK_TOLERANCE = 1e-5
ACCOUNT_ROWS = ("one_rep", "keep_locked")  # with the family links, kept as constraints in the Lagrangian
DUALIZED = ("hours_definition", "within_capacity", "band_low", "band_high", "average_utilization", "move_budget")
CONTINUOUS = ("Hours", "Utilization", "Under", "Over")


@dataclass
class LpBound:
    """The Lagrangian bound, every eligible pair's price above its family's best option, the LP's shares."""

    bound: float
    reduced: np.ndarray  # (A, R), >= 0, +inf for ineligible pairs
    share: np.ndarray  # (A, R) the LP's assignment shares
    uncovered: np.ndarray  # (A,) the LP's uncovered shares
    stages: list[dict]
    lp_value: float

    @property
    def support(self) -> np.ndarray:
        return self.share > 1e-6


def nearest(score: np.ndarray, count: int) -> np.ndarray:
    """Mask of each row's ``count`` smallest entries (ineligible entries are +inf)."""
    n, k = score.shape
    if count >= k:
        return np.isfinite(score)
    best = np.argpartition(score, count - 1, axis=1)[:, :count]
    mask = np.zeros((n, k), bool)
    mask[np.arange(n)[:, None], best] = True
    return mask & np.isfinite(score)


def rep_neighbourhoods(problem: AccountProblem, factor: float = REP_REACH_FACTOR) -> np.ndarray:
    """Mask of each rep's nearest accounts (least hours) adding up to ``factor`` x its capacity, so that even
    a remote rep can reach the lower end of its band in the first restricted LP."""
    hours = np.where(problem.eligible, problem.hours, np.inf)
    order = np.argsort(hours, axis=0, kind="stable")
    ranked = np.take_along_axis(hours, order, axis=0)
    finite = np.where(np.isfinite(ranked), ranked, 0.0)
    take = (np.cumsum(finite, axis=0) - finite < factor * problem.capacity[None, :]) & np.isfinite(ranked)
    mask = np.zeros_like(problem.eligible)
    np.put_along_axis(mask, order, take, axis=0)
    return mask


def start_pairs(problem: AccountProblem, count: int) -> np.ndarray:
    hours = np.where(problem.eligible, problem.hours, np.inf)
    return family_closed(problem, nearest(hours, count) | current_pairs(problem) | rep_neighbourhoods(problem))


def price_full_lp(space: Workspace, options: SolverOptions, included: np.ndarray) -> LpBound:
    """Solve the LP over a growing pair set (starting with ``included``) until the Lagrangian bound, valid
    for every eligible pair, is within ``CONVERGED_SHARE`` of the target gap of the LP value."""
    problem, clock = space.problem, space.clock
    included = family_closed(problem, included | current_pairs(problem))  # "change nothing" stays in reach
    stages: list[dict] = []
    while True:
        space.ensure(included)
        result = _solve_lp(space, included, options, stages)
        if result.status is SolveStatus.INFEASIBLE and not np.array_equal(included, problem.eligible):
            included = problem.eligible.copy()  # the move budget may need pairs outside the start set
            continue
        _refuse_failed_lp(result)
        bound, reduced, entering_price = lagrangian(space, result, included)
        stages[-1]["bound"] = bound
        price = np.where(included, np.inf, entering_price)
        entering = (price < -1e-9 * max(1.0, abs(result.objective))) & nearest(price, ENTERING_PER_ACCOUNT)
        close = result.objective - bound <= max(1e-7, CONVERGED_SHARE * options.target_gap) * abs(result.objective)
        if close or not entering.any() or clock.left() < 1.0:
            break
        included = family_closed(problem, included | entering)
    _refuse_elastic(space, result, options)
    share = np.zeros(problem.eligible.shape)
    share[space.pairs[0], space.pairs[1]] = result.values[: space.n_pairs]
    return LpBound(bound, reduced, share, space.values_of("Uncovered", result.values), stages, result.objective)


def _solve_lp(space: Workspace, included: np.ndarray, options: SolverOptions, stages: list[dict]) -> SolveResult:
    lp_options = SolverOptions(max(space.clock.left(), 1.0), 0.0, options.threads, options.seed)
    result = solve(space.view(included, elastic=True), lp_options, relax=True)
    space.clock.solve += result.seconds
    stages.append({"stage": "lp", "pairs": int(included.sum()), "seconds": round(result.seconds, 3),
                   "objective": result.objective})
    return result


def _refuse_failed_lp(result: SolveResult) -> None:
    if result.status is SolveStatus.INFEASIBLE:
        raise InfeasibleError("continuity.max_moved_share", "even fractional assignments cannot keep the moves "
                              "within the budget", "raise continuity.max_moved_share or lower continuity.lock_top")
    if result.status is not SolveStatus.OPTIMAL:
        raise NoPlanError("solver", f"the LP relaxation stopped: {result.detail}", "raise solver.time_limit")


def row_duals(space: Workspace, duals: np.ndarray) -> dict[str, np.ndarray]:
    """Duals of the rows that hold pairs, summed per family and index."""
    found = {"account": np.zeros(space.problem.lead.size), "hours": np.zeros(space.problem.capacity.size),
             "budget": np.zeros(1)}
    target = {"one_rep": "account", "keep_locked": "account", "hours_definition": "hours", "move_budget": "budget"}
    for row in np.flatnonzero(np.isin(space.row_kind, list(target))):
        name = target[space.row_kind[row]]
        found[name][space.compiled.rows[row].index() if name != "budget" else 0] += duals[row]
    return found


def lagrangian(space: Workspace, result: SolveResult, included: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``LB``, each pair's price above its family's cheapest option (>= 0) and its LP reduced cost."""
    problem = space.problem
    y = row_duals(space, result.row_duals)
    single = _priced(problem, y)
    _check_against_matrix(space, result, included, single - y["account"][:, None])
    family = np.zeros_like(single)
    np.add.at(family, problem.lead, np.where(problem.eligible, single, 0.0))
    family = np.where(problem.eligible, family[problem.lead], np.inf)
    no_cover = np.zeros(problem.lead.size)
    np.add.at(no_cover, problem.lead, space.uncovered_price)
    locked = np.zeros(problem.lead.size, bool)
    np.logical_or.at(locked, problem.lead, problem.locked)
    no_cover = np.where(locked, np.inf, no_cover)[problem.lead]
    cheapest = np.minimum(family.min(axis=1), no_cover)
    leads = problem.lead == np.arange(problem.lead.size)
    bound = space.compiled.offset + _rows_part(space, result) + float(cheapest[leads].sum())
    bound += _continuous_part(space, result)
    account_price = np.zeros(problem.lead.size)
    np.add.at(account_price, problem.lead, y["account"])
    return bound, family - cheapest[:, None], family - account_price[problem.lead][:, None]


def _priced(problem: AccountProblem, y: dict[str, np.ndarray]) -> np.ndarray:
    """Each pair's cost minus its dualized rows' duals x coefficients (formula in the module docstring)."""
    kept = ~problem.moves & problem.has_current[:, None]  # the current rep's column
    weight = problem.move_weight if problem.move_weight is not None else np.zeros(problem.lead.size)
    return (problem.travel_cost - problem.move_cost[:, None] * kept + problem.hours * y["hours"][None, :]
            + (weight * y["budget"][0])[:, None] * kept)


def _rows_part(space: Workspace, result: SolveResult) -> float:
    rows = np.flatnonzero(np.isin(space.row_kind, DUALIZED))
    dual = result.row_duals[rows]
    rhs = np.where(dual > 0, space.compiled.row_lower[rows], space.compiled.row_upper[rows])
    use = (np.abs(dual) > 1e-12) & np.isfinite(rhs)
    return float((dual[use] * rhs[use]).sum())


def _continuous_part(space: Workspace, result: SolveResult) -> float:
    """Hours (at most the capacity), utilisation (at most 1) and hours outside the band (at most the
    capacity, or 0 where the view fixed them) at their worst: the least each can add to the bound."""
    compiled = space.compiled
    duals = np.where(np.isin(space.row_kind, DUALIZED), result.row_duals, 0.0)
    upper = space.view(space.pool, elastic=True).col_upper
    total = 0.0
    for column in np.flatnonzero(np.isin(space.kind, CONTINUOUS)):
        start, end = compiled.matrix.indptr[column], compiled.matrix.indptr[column + 1]
        price = compiled.cost[column] - float(compiled.matrix.data[start:end] @ duals[compiled.matrix.indices[start:end]])
        implied = 1.0 if space.kind[column] == "Utilization" else float(space.problem.capacity[compiled.columns[column].index()])
        total += min(0.0, price * min(implied, float(upper[column])))
    return total


def _check_against_matrix(space: Workspace, result: SolveResult, included: np.ndarray, single: np.ndarray) -> None:
    """The formula must match ``c - A'y`` on the LP's own columns (accounts without family links)."""
    problem, (account, rep) = space.problem, space.pairs
    n = space.n_pairs
    exact = space.compiled.cost[:n] - space.compiled.matrix[:, :n].T @ result.row_duals
    alone = (problem.lead[account] == account) & (np.bincount(problem.lead, minlength=problem.lead.size)[account] == 1)
    alone &= included[account, rep]
    diff = np.abs(exact[alone] - single[account[alone], rep[alone]]) / (1.0 + np.abs(exact[alone]))
    if diff.size and float(diff.max()) > DUAL_CHECK_TOLERANCE:
        raise RuntimeError("pricing formula disagrees with the LP's reduced costs; the bound would be wrong")


def _refuse_elastic(space: Workspace, result: SolveResult, options: SolverOptions) -> None:
    """Say why no plan exists when the final LP still pays a prohibitive price: reach and capacity, or the band."""
    problem = space.problem
    uncovered = float(space.values_of("Uncovered", result.values).sum())
    outside = float(space.values_of("Under", result.values).sum() + space.values_of("Over", result.values).sum())
    hard_band = problem.tolerance is not None and problem.band_penalty is None
    if problem.uncovered_cost is None and uncovered > 1e-6 and hard_band:
        without_band = replace(problem, tolerance=None)
        data, _ = without_band.data(None, elastic_prices(problem)[0], None, elastic=True)
        _model, compiled = compiled_model(data, space.clock)  # kept alive while its columns are read
        retry = solve(compiled, SolverOptions(max(space.clock.left(), 1.0), 0.0, options.threads, options.seed),
                      relax=True)
        kinds = np.array([var.parent_component().local_name for var in compiled.columns])
        if retry.status is SolveStatus.OPTIMAL and retry.values[kinds == "Uncovered"].sum() <= 1e-6:
            uncovered, outside = 0.0, 1.0
    if problem.uncovered_cost is None and uncovered > 1e-6:
        raise InfeasibleError("reps", f"even splitting accounts leaves {uncovered:.1f} accounts' worth of work "
                              "beyond the capacity of the reps in reach", "add reps or capacity, raise "
                              "eligibility.max_travel_minutes, or set coverage.allow_uncovered")
    if hard_band and outside > 1e-6:
        raise InfeasibleError("balance", f"even splitting accounts cannot keep every rep within ±{problem.tolerance:.0%} "
                              "of the average utilisation (reps with too little or too much work in reach)",
                              "widen balance.tolerance, set balance.soft_penalty, or change the roster")

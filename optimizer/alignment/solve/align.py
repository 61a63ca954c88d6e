"""Solving the alignment model to a gap that is certified for the model over *all* unit-base pairs.

MIPs run over restricted pair sets, but the bound reported is valid for the full model:

1. **Full LP bound by pricing.** The LP relaxation is solved over a growing pair set (start: each unit's
   nearest bases; in a hard band the band is elastic at a high price so every restricted LP is feasible).
   The duals price every pair with numpy, ``r[i,t] = c[i,t] - y_i - w_i z_t``, and pairs with negative
   reduced cost enter until the Lagrangian bound ``LP + sum_i min(0, min_t r[i,t])`` meets the LP value.
   That value ``LB`` bounds the full MIP from below.
2. **A first plan**: round the LP (at most ``K - 1`` whole units are split) and, if the band breaks,
   repair it. When heavy units were split (county level), a dive on the LP makes them whole first
   (``optimizer.alignment.solve.dive``) and a MIP with them held repairs the band; else (ZIP level) moves and swaps do
   (``optimizer.alignment.solve.band_repair``); what neither fixes, a small MIP around the out-of-band territories
   does (``optimizer.alignment.solve.repair``).
3. **Improve** by local search (moves and swaps), then window by window (exact MIPs over a dozen
   neighbouring territories, ``optimizer.alignment.solve.window_search``), then with the MIP over the LP's support, each
   unit's cheapest pairs by reduced cost and the plan's own pairs, warm-started, stopped as soon as
   ``LB`` certifies the target gap.
4. **Certified bound.** A plan using a binary pair ``p`` costs at least ``LB + r_p``. So a MIP over pairs
   ``E`` with bound ``B_E`` proves the full optimum is at least ``min(B_E, LB + min r_p, p not in E)``
   (shared units keep all their pairs: a fractional share escapes the argument). The best such bound is
   reported. If the gap is still above target, the MIP is rerun over every pair with ``r_p <= UB - LB``,
   since no excluded pair can then improve the plan.

The best plan found by any stage is kept, so a stage that runs out of time never loses an earlier plan.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from optimizer.core.errors import InfeasibleError, NoPlanError
from optimizer.alignment.solve.band_repair import repair_band
from optimizer.alignment.solve.dive import dive, repair_pairs_after_dive, split_heavy
from optimizer.alignment.solve.local_search import improve_plan
from optimizer.alignment.solve.window_search import improve_by_windows
from optimizer.alignment.solve.repair import nearest, out_of_band, repair_pairs, round_lp
from optimizer.alignment.solve.pair_model import PairModel
from optimizer.alignment.solve.restricted import ELASTIC_PRICE, AlignmentProblem, Clock, Restricted
from optimizer.solver.highs import SolverOptions, SolveStatus, relative_gap, solve
from optimizer.solver.result import Solution

__all__ = ["AlignmentProblem", "AlignmentSolution", "solve_alignment"]

INITIAL_NEAREST = 8  # bases per unit in the first pricing LP
INITIAL_NEAREST_WITH_START = 2  # ... when a balanced start allocation comes with the bases (large instances)
ENTERING_PER_UNIT = 2  # pairs a unit may bring into the LP per pricing round
PLAN_CHEAPEST = (3, 8, 10**9)  # pairs of least reduced cost per unit when no first plan exists (last: all)
CERTIFY_ROUNDS = 3
CERTIFY_MARGIN = 1.25  # pairs up to this multiple of the reduced cost certification needs
CERTIFY_MAX_PAIRS = 60_000  # larger certifying MIPs overran HiGHS's time limit (200 s for 60 s asked)
IMPROVE_TIME_SHARE = 0.6
PLAN_GAP_SHARE = 0.25  # HiGHS's own gap target, as a share of the user's, while the LP bound certifies
REPAIR_TIME_SHARE = 0.5  # at most this share of the time left goes to the repair MIP
DIVE_TIME_SHARE = 0.25  # at most this share of the time left goes to the dive on heavy units
# Unit-territory pairs above which an instance is large (ZIP level: 15.6M; national counties: 0.3-0.6M). Large
# instances repair the band by moves and swaps (light units; the dive's LP re-solves would be slow) and improve
# window by window (the MIP over 93k cheap pairs made no progress there); smaller ones dive (moves and swaps of
# heavy units cost 4 % on the national counties) and leave improvement to the MIP (faster than windows there).
# ``optimizer.alignment.solve.rules`` meets rules on large instances by repairing the plain plan.
LARGE_PAIRS = 2_000_000
LOCAL_SEARCH_SECONDS = 10.0
BAND_REPAIR_SECONDS = 15.0
WINDOW_TIME_SHARE = 0.9  # of the time left, for improving the plan window by window
SHARE_EPS = 1e-6


@dataclass(kw_only=True)
class AlignmentSolution(Solution):
    """Shares per (unit, territory) and what the solve proved (see :class:`Solution`)."""

    unit_index: np.ndarray
    territory_index: np.ndarray
    share: np.ndarray
    lp_bound: float


@dataclass
class LpBound:
    """The LP relaxation over all pairs: its value, reduced costs and solution."""

    value: float
    reduced: np.ndarray  # (N, K), clipped at 0
    shares: np.ndarray  # (N, K) LP solution


@dataclass
class _Search:
    """Best plan and best certified bound so far, and the record of every stage."""

    problem: AlignmentProblem
    options: SolverOptions
    clock: Clock
    lp: LpBound
    model: PairModel
    grid: np.ndarray | None = None
    objective: float = math.inf
    bound: float = -math.inf
    pairs_used: int = 0
    stages: list[dict] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    proven_infeasible: bool = False

    @property
    def good_enough(self) -> float | None:
        return self.lp.value / (1.0 - self.options.target_gap) if self.lp.value > 0 else None

    def certified(self) -> bool:
        return self.grid is not None and relative_gap(self.objective, self.bound) <= self.options.target_gap

    def offer(self, grid: np.ndarray, objective: float) -> None:
        if objective < self.objective - 1e-9:
            self.grid, self.objective = grid, objective

    def mip(self, pairs: np.ndarray, name: str, time_share: float = 1.0, certifying: bool = False) -> None:
        """Solve the MIP over ``pairs``, warm-started from the best plan; keep its plan and bound.

        A ``certifying`` MIP holds every pair that could improve the plan, so its own gap is the certified
        one; the others aim lower on their own (weaker) bound and stop once the LP bound certifies them.
        """
        if self.clock.left() <= 0.05:
            return
        model = self.model.restricted(pairs, self.problem.penalty, self.clock)
        start = model.start(self.problem, self.grid) if self.grid is not None else None
        gap = self.options.target_gap * (1.0 if certifying or not self.good_enough else PLAN_GAP_SHARE)
        options = SolverOptions(max(self.clock.left() * time_share, 0.05), gap, self.options.threads,
                                self.options.seed, self.options.keep_log)
        result = solve(model.compiled, options, start=start, stop_at_objective=self.good_enough)
        self.clock.solve += result.seconds
        self.logs.append(result.log)
        self.clock.build += result.extra.get("handover", 0.0)
        self.stages.append(self.clock.stage(name, pairs=int(len(model.unit)), seconds=round(result.seconds, 3),
                                            status=result.status.value, objective=result.objective,
                                            bound=result.bound, nodes=result.nodes))
        self._learn(model, result, pairs)

    def _learn(self, model: Restricted, result, pairs: np.ndarray) -> None:
        trusted = True
        if result.status.has_plan:
            grid = model.grid(result.values)
            objective = self.problem.plan_cost(grid)
            # HiGHS 1.16 can return a warm start with an objective and bound of no plan: trust neither then
            trusted = math.isclose(objective, result.objective, rel_tol=1e-6, abs_tol=1e-6)
            self.stages[-1]["objective_recomputed"] = objective
            self.offer(grid, objective)
        if result.status is SolveStatus.INFEASIBLE and pairs.all():
            self.proven_infeasible = True
        if trusted and result.status.has_plan and math.isfinite(result.bound):
            excluded = self.lp.reduced[~pairs]
            outside = self.lp.value + float(excluded.min()) if excluded.size else math.inf
            if self.bound < min(result.bound, outside):
                self.bound, self.pairs_used = min(result.bound, outside), int(pairs.sum())


def solve_alignment(problem: AlignmentProblem, options: SolverOptions) -> AlignmentSolution:
    """Run the certified pipeline described in the module docstring."""
    clock = Clock(options.time_limit)
    model = PairModel(problem, first_pairs(problem), clock,
                      problem.penalty if problem.penalty is not None else ELASTIC_PRICE)
    lp, lp_stages = price_full_lp(problem, options, clock, model)
    search = _Search(problem, options, clock, lp, model, bound=lp.value, stages=lp_stages)
    _first_plan(search)
    if search.grid is None:
        _find_any_plan(search)
    _local_search(search)
    _windows(search)
    for attempt in range(CERTIFY_ROUNDS):
        if search.grid is None or search.certified() or clock.left() <= 1.0:
            break
        _certify(search, attempt)
    if search.grid is None:
        _raise_no_plan(search, problem)
    return _solution(search)


def price_full_lp(problem: AlignmentProblem, options: SolverOptions, clock: Clock,
                  model: PairModel | None = None) -> tuple[LpBound, list]:
    """The LP relaxation over all pairs, by pricing in one HiGHS instance (``model`` keeps the columns)."""
    penalty = problem.penalty if problem.penalty is not None else ELASTIC_PRICE
    model = model or PairModel(problem, first_pairs(problem), clock, penalty)
    stages = []
    while True:
        result = model.solve_lp(options, clock, penalty)
        stages.append(clock.stage("lp", pairs=model.size, seconds=round(result.seconds, 3),
                                  objective=result.objective))
        if result.status is not SolveStatus.OPTIMAL:
            raise NoPlanError("solver", f"the LP relaxation stopped: {result.detail}", "raise solver.time_limit")
        reduced = model.reduced_costs(result.row_duals)
        shortfall = float(np.minimum(reduced.min(axis=1), 0.0).sum())  # most each unit could still gain
        entering = (reduced < 0) & (model.pair_id < 0)
        if shortfall >= -1e-7 * max(1.0, abs(result.objective)) or not entering.any():
            break
        # each unit brings in its few most negative pairs: adding every negative pair at once grows the
        # ZIP-level LP by millions of columns in the first round
        model.add(entering & nearest(np.where(entering, reduced, np.inf), ENTERING_PER_UNIT))
    _refuse_unreachable_band(problem, result.values[model.size:])
    return LpBound(result.objective + shortfall, np.maximum(reduced, 0.0), model.shares(result.values)), stages


def first_pairs(problem: AlignmentProblem) -> np.ndarray:
    """The first LP's pairs: each unit's nearest bases, and the balanced start allocation when there is one
    (then fewer nearest bases are needed: the start already makes the band reachable)."""
    k = problem.distance_km.shape[1]
    with_start = problem.start_pairs is not None and len(problem.start_pairs)
    pairs = nearest(problem.distance_km, min(k, INITIAL_NEAREST_WITH_START if with_start else INITIAL_NEAREST))
    pairs[problem.shared] = True
    if with_start:
        pairs[problem.start_pairs[:, 0], problem.start_pairs[:, 1]] = True
    return pairs


def _refuse_unreachable_band(problem: AlignmentProblem, elastic: np.ndarray) -> None:
    if problem.penalty is None and elastic.size and elastic.max() > 1e-6:
        raise InfeasibleError("balance", "even splitting every unit cannot put all territories in the band",
                              "widen balance.tolerance or set balance.soft_penalty")


def _first_plan(search: _Search) -> None:
    """Round the LP; put the rounded plan back in its band: on instances with heavy split units (below the
    size where windows take over) by a dive and a MIP with the heavy units held, else by moves and swaps;
    what is left by a small MIP around the out-of-band territories."""
    problem = search.problem
    rounded = round_lp(search.lp.shares, problem.shared)
    violated = out_of_band(rounded, problem.load, problem.lower, problem.upper)
    search.stages.append(search.clock.stage("round", objective=problem.plan_cost(rounded),
                                            territories_outside_band=int(violated.size)))
    if violated.size == 0 or problem.penalty is not None:
        search.offer(rounded, problem.plan_cost(rounded))
        return
    if problem.distance_km.size <= LARGE_PAIRS and split_heavy(problem, search.lp.shares).any():
        _repair_after_dive(search)
    elif _repaired_by_moves(search, rounded):
        return
    if search.grid is None:
        search.mip(repair_pairs(rounded, problem.distance_km, problem.shared, violated), "repair",
                   REPAIR_TIME_SHARE)


def _repaired_by_moves(search: _Search, rounded: np.ndarray) -> bool:
    """Band repair by moves and swaps (``optimizer.alignment.solve.band_repair``); its plan is kept only if every territory
    ends in its band."""
    problem = search.problem
    began = time.perf_counter()
    repaired = repair_band(rounded, problem.cost, problem.load, problem.shared, problem.lower, problem.upper,
                           min(BAND_REPAIR_SECONDS, max(search.clock.left() * 0.2, 0.0)))
    left = out_of_band(repaired, problem.load, problem.lower, problem.upper)
    search.stages.append(search.clock.stage("band repair", seconds=round(time.perf_counter() - began, 3),
                                            objective=problem.plan_cost(repaired),
                                            territories_outside_band=int(left.size)))
    if left.size:
        return False
    search.offer(repaired, problem.plan_cost(repaired))
    return True


def _repair_after_dive(search: _Search) -> None:
    """Hold the heavy units whole by a dive on the LP (``optimizer.alignment.solve.dive``), then repair the band with them
    held: the repair MIP's knapsacks are then over light units only."""
    problem, clock = search.problem, search.clock
    began = time.perf_counter()
    dived = dive(search.model, search.options, clock, search.lp.shares, ELASTIC_PRICE,
                 max(clock.left(), 0.0) * DIVE_TIME_SHARE)
    plan = round_lp(dived.shares, problem.shared)
    outside = out_of_band(plan, problem.load, problem.lower, problem.upper)
    search.stages.append(clock.stage("dive", seconds=round(time.perf_counter() - began, 3), units_held=dived.steps,
                                     lp_solves=dived.lp_solves, lp_objective=dived.objective,
                                     territories_outside_band=int(outside.size)))
    search.mip(repair_pairs_after_dive(problem, plan, dived), "repair after dive", REPAIR_TIME_SHARE)


def _local_search(search: _Search) -> None:
    if search.grid is None or search.certified():
        return
    problem = search.problem
    began = time.perf_counter()
    budget = min(LOCAL_SEARCH_SECONDS, max(search.clock.left() * 0.2, 0.0))
    grid = improve_plan(search.grid, problem.cost, problem.load, problem.shared, problem.lower, problem.upper,
                        budget)
    search.offer(grid, problem.plan_cost(grid))
    search.stages.append(search.clock.stage("local search", seconds=round(time.perf_counter() - began, 3),
                                            objective=search.objective))


def _windows(search: _Search) -> None:
    """Exact small MIPs over a few neighbouring territories at a time (``optimizer.alignment.solve.window_search``)."""
    if search.grid is None or search.certified() or search.clock.left() <= 1.0:
        return
    if search.problem.distance_km.size <= LARGE_PAIRS:  # HiGHS improves smaller plans faster as a whole
        return
    began = time.perf_counter()
    grid, solved = improve_by_windows(search.problem, search.grid.copy(), search.lp.shares, search.lp.reduced,
                                      search.options, search.clock.left() * WINDOW_TIME_SHARE, search.good_enough)
    search.offer(grid, search.problem.plan_cost(grid))
    search.stages.append(search.clock.stage("windows", windows=solved, seconds=round(time.perf_counter() - began, 3),
                                            objective=search.objective))


def _find_any_plan(search: _Search) -> None:
    """No first plan: widen the pairs by reduced cost until a MIP finds one (last try: all pairs)."""
    problem, lp = search.problem, search.lp
    k = problem.distance_km.shape[1]
    pairs = (lp.shares > SHARE_EPS) | problem.shared[:, None]
    for attempt, count in enumerate(PLAN_CHEAPEST):
        pairs = pairs | nearest(lp.reduced, min(k, count))
        search.mip(pairs, f"find a plan {attempt + 1}")
        if search.grid is not None or search.clock.left() <= 0.05:
            return


def _certify(search: _Search, attempt: int) -> None:
    """MIP over every pair whose reduced cost is below what certification needs, warm-started.

    To prove the plan within the target gap the bound must reach ``UB (1 - gap)``; every pair with
    ``r_p`` above ``UB (1 - gap) - LB`` already satisfies that, so only cheaper pairs need to be in the MIP.
    """
    problem, lp = search.problem, search.lp
    needed = search.objective * (1.0 - search.options.target_gap) - lp.value
    threshold = max(needed, 0.0) * CERTIFY_MARGIN * (2**attempt) + 1e-9
    pairs = (lp.reduced <= threshold) | (lp.shares > SHARE_EPS) | (search.grid > 0) | problem.shared[:, None]
    if pairs.sum() > CERTIFY_MAX_PAIRS and attempt > 0:
        return
    if pairs.sum() > CERTIFY_MAX_PAIRS:  # too far from the bound to certify cheaply: improve the plan first
        pairs = (lp.shares > SHARE_EPS) | (search.grid > 0) | problem.shared[:, None] | nearest(lp.reduced, 3)
        search.mip(pairs, "improve", IMPROVE_TIME_SHARE)
        return
    search.mip(pairs, f"certify {attempt + 1}", certifying=True)


def _raise_no_plan(search: _Search, problem: AlignmentProblem) -> None:
    if search.proven_infeasible:
        tolerance = float(np.max(problem.upper) - 1.0)
        raise InfeasibleError("balance", f"no plan puts every territory within ±{tolerance:.1%} with whole units",
                              "widen balance.tolerance, allow units.sharing, or set balance.soft_penalty")
    raise NoPlanError("solver", "the time limit was reached before any plan was found",
                      "raise solver.time_limit (or --time-limit)")


def plan_rows(grid: np.ndarray, shared: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(unit, territory, share)`` of a share grid: tiny shares dropped, shares renormalised to add up to
    one, whole units rounded to 0 or 1."""
    unit, territory = np.nonzero(grid > SHARE_EPS)
    share = grid[unit, territory]
    share = share / np.bincount(unit, weights=share, minlength=len(shared))[unit]
    whole = ~shared[unit]
    share[whole] = np.round(share[whole])
    keep = share > 0
    return unit[keep], territory[keep], share[keep]


def _solution(search: _Search) -> AlignmentSolution:
    problem, grid = search.problem, search.grid
    unit, territory, share = plan_rows(grid, problem.shared)
    bound = min(search.bound, search.objective)
    if search.pairs_used:
        restriction = (f"the bound comes from a MIP over {search.pairs_used:,} of {grid.size:,} unit-territory "
                       "pairs; every excluded pair's LP reduced cost is accounted for, so it holds for the full model")
    else:
        restriction = f"the bound is the LP relaxation over all {grid.size:,} unit-territory pairs (by pricing)"
    proven = relative_gap(search.objective, bound) <= search.options.target_gap + 1e-12
    return AlignmentSolution(unit_index=unit, territory_index=territory, share=share,
                             status=SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE,
                             objective=search.objective, bound=bound, lp_bound=search.lp.value,
                             seconds={"build": search.clock.build, "solve": search.clock.solve},
                             stages=search.stages, restriction=restriction, log="\n".join(filter(None, search.logs)))

"""Improve a plan window by window: small exact MIPs over a few neighbouring territories at a time.

After rounding and band repair a national ZIP plan is 0.5-0.7 % above the LP bound, and the MIP over all
its cheap pairs (90,000+) makes no progress in a minute: HiGHS cannot find better plans at that size.
The loss sits in a few places (where the band repair had to push units around), so the plan is improved
locally, exactly, by a large-neighbourhood search:

* a **window** is a territory and its ``WINDOW - 1`` nearest territories (by distance between bases);
* every whole unit of the window's territories may move to any window territory among its ``ALTERNATIVES``
  cheapest by LP reduced cost (and stays where it is otherwise); units outside the window, and shared
  units, keep their territories, so the window's bands are the real bands minus what those bring in;
* that sub-model is ``models.alignment`` itself over the window's units and pairs, solved by HiGHS from
  the current plan, so a window never makes the plan worse;
* windows are visited worst first (the territories whose travel exceeds their LP travel most), and a
  window is solved again only after one of its territories changed; when no window improves the plan,
  windows grow by half.

The plan stays inside the band throughout; the bound is untouched (it is the LP's or a full MIP's).
"""

from __future__ import annotations

import time

import numpy as np

from optimizer.alignment.solve.pair_model import PairModel
from optimizer.alignment.solve.restricted import AlignmentProblem, Clock
from optimizer.solver.highs import SolverOptions, solve

WINDOW = 12
ALTERNATIVES = 4
WINDOW_SECONDS = 2.0
WINDOW_GROWTH = 1.5  # window size factor once no window of the current size improves the plan
WINDOW_GAP = 2e-5  # of the whole plan's travel: a window stops once that close to its own bound


def improve_by_windows(problem: AlignmentProblem, grid: np.ndarray, lp_shares: np.ndarray, reduced: np.ndarray,
                       options: SolverOptions, seconds: float, good_enough: float | None) -> tuple[np.ndarray, int]:
    """A plan at least as good as ``grid`` (same band); returns it and the number of windows solved."""
    deadline = time.perf_counter() + seconds
    n, k = problem.distance_km.shape
    window = min(WINDOW, k)
    bases = np.argmin(problem.distance_km, axis=0)  # the unit nearest each base stands for it
    by_distance = np.argsort(problem.distance_km[bases], axis=1)
    neighbours = by_distance[:, :window]
    cost = problem.cost
    whole = np.flatnonzero(~problem.shared)
    owner = np.argmax(grid, axis=1)
    lp_travel = (lp_shares * cost).sum(axis=0)
    shared_travel = (grid[problem.shared] * cost[problem.shared]).sum(axis=0)
    objective = problem.plan_cost(grid)
    stale = np.zeros(k, bool)  # windows solved since their territories last changed
    solved = 0
    while time.perf_counter() < deadline and (good_enough is None or objective > good_enough):
        open_seeds = np.flatnonzero(~stale)
        if open_seeds.size == 0:  # no window of this size improves the plan: try larger ones
            if window >= k:
                break
            window = min(k, int(window * WINDOW_GROWTH))
            neighbours = by_distance[:, :window]
            stale[:] = False
            continue
        travel = np.bincount(owner[whole], weights=cost[whole, owner[whole]], minlength=k) + shared_travel
        seed = int(open_seeds[np.argmax((travel - lp_travel)[open_seeds])])
        territories = neighbours[seed]
        left = deadline - time.perf_counter()
        moved = _solve_window(problem, owner, grid, territories, reduced, options,
                              min(WINDOW_SECONDS, max(left, 0.05)), WINDOW_GAP * objective)
        solved += 1
        stale[seed] = True
        if moved is not None:
            units, new_owner, gain = moved
            grid[units, owner[units]] = 0.0
            grid[units, new_owner] = 1.0
            changed = np.union1d(owner[units], new_owner)
            owner[units] = new_owner
            objective -= gain
            stale[np.isin(neighbours, changed).any(axis=1)] = False
            stale[seed] = True
    return grid, solved


def _solve_window(problem: AlignmentProblem, owner: np.ndarray, grid: np.ndarray, territories: np.ndarray,
                  reduced: np.ndarray, options: SolverOptions, seconds: float, tolerance: float):
    """``(units, new territory per unit, travel saved)`` of the best plan that only moves the window's whole
    units among the window's territories, or None when it saves nothing."""
    units = np.flatnonzero(np.isin(owner, territories) & ~problem.shared)
    if units.size == 0:
        return None
    fixed = problem.load @ grid[:, territories] - problem.load[units] @ grid[np.ix_(units, territories)]
    sub_reduced = reduced[np.ix_(units, territories)]
    count = min(ALTERNATIVES, len(territories))
    cheapest = np.argpartition(sub_reduced, count - 1, axis=1)[:, :count]
    pairs = np.zeros((len(units), len(territories)), bool)
    pairs[np.arange(len(units))[:, None], cheapest] = True
    current = owner[units][:, None] == territories[None, :]
    pairs |= current
    sub = AlignmentProblem(load=problem.load[units], distance_km=problem.distance_km[np.ix_(units, territories)],
                           shared=np.zeros(len(units), bool), lower=problem.lower[territories] - fixed,
                           upper=problem.upper[territories] - fixed, penalty=None)
    clock = Clock(seconds)
    model = PairModel(sub, pairs, clock, 1.0).restricted(pairs, None, clock)
    start = current.astype(float)
    gap = min(0.01, tolerance / max(sub.plan_cost(start), 1e-9))
    result = solve(model.compiled, SolverOptions(seconds, gap, options.threads, options.seed),
                   start=model.start(sub, start))
    if not result.status.has_plan:
        return None
    shares = model.grid(result.values)
    gain = sub.plan_cost(start) - sub.plan_cost(shares)
    if gain <= 1e-9 * max(1.0, sub.plan_cost(start)):
        return None
    return units, territories[np.argmax(shares, axis=1)], gain

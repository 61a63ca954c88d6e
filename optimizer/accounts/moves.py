"""Moves that bring a plan back inside every rep's hours window, cheapest per hour of violation first.

A single move (one family to another rep), else a chain of two (the second fixes the rep the first
unbalanced), else a path of up to ``PATH_HOPS`` moves through the rep graph from a rep with hours to
spare to a rep short of hours (or from a rep with too many hours to one with room), each hop moving the
family that is cheapest to move along it, else a move that shifts the average utilisation (and so every
rep's band) in the right direction, checked exactly.
"""

from __future__ import annotations

import itertools

import numpy as np

from optimizer.accounts.planstate import EPS, Families, State, limits, total_violation, violation
from optimizer.accounts.problem import AccountProblem

CHAIN_CANDIDATES = 8
MOVE_CANDIDATES = 40  # global moves checked exactly
PATH_HOPS = 4


def move_table(problem, fam, state, budget):
    """For every (family, rep): violation removed, extra cost, allowed, and the source side's change."""
    owner, hours = state.owner, state.hours
    low, high = limits(problem, hours)
    now = violation(hours, low, high)
    g_index = np.arange(owner.size)
    at = np.maximum(owner, 0)
    covered = owner >= 0
    out_hours = np.where(covered, fam.hours[g_index, at], 0.0)
    source_after = np.where(covered, violation(hours[at] - out_hours, low[at], high[at]) - now[at], 0.0)
    target_after = violation(hours[None, :] + fam.hours, low[None, :], high[None, :]) - now[None, :]
    gain = -(source_after[:, None] + target_after)  # hours of violation removed at source and target
    current_cost = np.where(covered, fam.cost[g_index, at], fam.uncovered_cost)
    extra = fam.cost - current_cost[:, None]
    weight_change = fam.weight - np.where(covered, fam.weight[g_index, at], fam.uncovered_weight)[:, None]
    allowed = np.isfinite(fam.cost) & (state.used + weight_change <= budget + EPS) & ~fam.locked[:, None]
    allowed[g_index[covered], at[covered]] = False
    return gain, extra, allowed, source_after, target_after, current_cost


def _global_gain(problem, fam, state, gain: np.ndarray) -> np.ndarray:
    """``gain`` plus, to first order, the violation removed elsewhere because the move shifts the average."""
    low, high = limits(problem, state.hours)
    slope = _average_slope(problem, state.hours, low, high)
    if not slope:
        return gain
    at = np.maximum(state.owner, 0)
    out_hours = np.where(state.owner >= 0, fam.hours[np.arange(at.size), at], 0.0)
    added = np.where(np.isfinite(fam.hours), fam.hours - out_hours[:, None], 0.0)
    return gain - slope * added / problem.capacity.sum()


def _average_slope(problem: AccountProblem, hours: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """How the band violation of all reps changes per unit of average utilisation: a move that adds or
    saves hours shifts every rep's band (a rep short of hours is helped when others travel less)."""
    if problem.tolerance is None or problem.band_penalty is not None:
        return 0.0
    tol, cap = problem.tolerance, problem.capacity
    under = hours < low - EPS
    over_band = (hours > high + EPS) & ((1 + tol) * cap * hours.sum() / cap.sum() < cap)
    return float((1 - tol) * cap[under].sum() - (1 + tol) * cap[over_band].sum())


def best_move(problem, fam, state, budget) -> list[tuple[int, int]] | None:
    """The move (family, new rep) removing the most violation at its two reps per unit of extra cost."""
    gain, extra, allowed, source_after, _, current_cost = move_table(problem, fam, state, budget)
    allowed &= gain > EPS
    if not allowed.any():
        return best_uncover(problem, fam, state, source_after, current_cost, budget)
    ratio = np.divide(np.maximum(extra, 0.0), gain, out=np.full(gain.shape, np.inf), where=allowed)
    score = ratio - (extra < 0) * 1e-12 * np.where(allowed, gain, 0.0)  # among free moves: the largest gain
    group, target = np.unravel_index(np.argmin(score), score.shape)
    return [(int(group), int(target))]


def best_global_move(problem, fam, state, budget) -> list[tuple[int, int]] | None:
    """When no local move helps (say, two reps short of hours with no one else in reach), a move that
    lowers the average utilisation and with it their band: the best by a first-order estimate among
    ``MOVE_CANDIDATES``, checked exactly."""
    gain, extra, allowed, *_ = move_table(problem, fam, state, budget)
    estimate = _global_gain(problem, fam, state, gain)
    ok = allowed & (estimate > EPS)
    score = np.divide(np.maximum(extra, 0.0) + 1e-9, estimate, out=np.full(gain.shape, np.inf), where=ok)
    before = total_violation(problem, state)
    best, best_score = None, np.inf
    for flat in np.argsort(score, axis=None)[:MOVE_CANDIDATES]:
        if not np.isfinite(score.flat[flat]):
            break
        group, target = (int(v) for v in np.unravel_index(flat, score.shape))
        trial = state.copy()
        trial.apply(fam, group, target)
        removed = before - total_violation(problem, trial)
        if removed > EPS and max(float(extra[group, target]), 0.0) / removed < best_score:
            best, best_score = [(group, target)], max(float(extra[group, target]), 0.0) / removed
    return best


def best_chain(problem, fam, state, budget, before: float) -> list[tuple[int, int]] | None:
    """Two moves: the first relieves a violated rep but overloads (or underloads) another, the second fixes
    that one; among the ``CHAIN_CANDIDATES`` cheapest first moves, the pair removing most violation per cost."""
    _, extra, allowed, source_after, target_after, _ = move_table(problem, fam, state, budget)
    relief = np.maximum(-source_after[:, None], -target_after)
    allowed &= relief > EPS
    if not allowed.any():
        return None
    score = np.divide(np.maximum(extra, 0.0) + 1e-9, relief, out=np.full(relief.shape, np.inf), where=allowed)
    flat = np.argsort(score, axis=None)[:CHAIN_CANDIDATES]
    best, best_score = None, np.inf
    for group, target in zip(*np.unravel_index(flat, score.shape)):
        if not np.isfinite(score[group, target]):
            break
        trial = state.copy()
        old = trial.cost(fam, int(group))
        trial.apply(fam, int(group), int(target))
        second = best_move(problem, fam, trial, budget)
        if not second:
            continue
        old += trial.cost(fam, second[0][0])
        trial.apply(fam, *second[0])
        removed = before - total_violation(problem, trial)
        added = trial.cost(fam, int(group)) + trial.cost(fam, second[0][0]) - old
        if removed > EPS and max(added, 0.0) / removed < best_score:
            best, best_score = [(int(group), int(target)), second[0]], max(added, 0.0) / removed
    return best


def best_uncover(problem, fam, state, source_after, current_cost, budget) -> list[tuple[int, int]] | None:
    """When coverage is optional and no move helps, leave the family uncovered whose loss per hour is least."""
    if problem.uncovered_cost is None:
        return None
    owner = state.owner
    g_index = np.arange(owner.size)
    ok = (owner >= 0) & (source_after < -EPS) & ~fam.locked
    ok &= state.used + fam.uncovered_weight - fam.weight[g_index, np.maximum(owner, 0)] <= budget + EPS
    if not ok.any():
        return None
    score = np.divide(fam.uncovered_cost - current_cost, -source_after, out=np.full(ok.shape, np.inf), where=ok)
    return [(int(np.argmin(score)), -1)]


def best_path(problem: AccountProblem, fam: Families, state: State, budget: float) -> list[tuple[int, int]] | None:
    """Up to ``PATH_HOPS`` moves along the cheapest path in the rep graph that feeds the most violated rep
    from a rep with hours to spare (or drains it into a rep with room); None if there is none."""
    low, high = limits(problem, state.hours)
    short = violation(state.hours, low, high)
    rep = int(np.argmax(short))
    under = state.hours[rep] < low[rep]
    edge, mover = _edges(fam, state)
    ends = (state.hours > low + EPS) if under else (state.hours < high - EPS)
    ends[rep] = False
    weights = edge.T if under else edge  # feeding the rep: walk the edges backwards from it
    cost, before = np.full(edge.shape[0], np.inf), np.full(edge.shape[0], -1)
    cost[rep] = 0.0
    for _ in range(PATH_HOPS):
        through = cost[:, None] + np.maximum(weights, 0.0)
        step = np.argmin(through, axis=0)
        better = through[step, np.arange(edge.shape[0])] < cost - EPS
        cost, before = np.where(better, through[step, np.arange(edge.shape[0])], cost), np.where(better, step, before)
    reachable = np.flatnonzero(ends & np.isfinite(cost))
    if reachable.size == 0:
        return None
    end = int(reachable[np.argmin(cost[reachable])])
    hops = [end]
    while hops[-1] != rep and len(hops) <= PATH_HOPS + 1:
        hops.append(int(before[hops[-1]]))
    hops = hops if under else hops[::-1]  # from the giving rep to the receiving one
    moves = [(int(mover[a, b]), b) for a, b in itertools.pairwise(hops)]
    trial = state.copy()
    for group, target in moves:
        trial.apply(fam, group, target)
    return moves if trial.used <= budget + EPS and len({g for g, _ in moves}) == len(moves) else None


def _edges(fam: Families, state: State) -> tuple[np.ndarray, np.ndarray]:
    """For every (rep u, rep v): the least extra cost of moving one family from u to v, and that family."""
    covered = np.flatnonzero((state.owner >= 0) & ~fam.locked)
    source = state.owner[covered]
    extra = fam.cost[covered] - fam.cost[covered, source][:, None]
    order = np.argsort(source, kind="stable")
    source, covered, extra = source[order], covered[order], extra[order]
    reps = fam.cost.shape[1]
    edge, mover = np.full((reps, reps), np.inf), np.full((reps, reps), -1)
    starts = np.searchsorted(source, np.arange(reps + 1))
    for u in range(reps):
        block = extra[starts[u]: starts[u + 1]]
        if block.size:
            best = np.argmin(block, axis=0)
            edge[u] = block[best, np.arange(reps)]
            mover[u] = covered[starts[u] + best]
    np.fill_diagonal(edge, np.inf)
    return edge, mover

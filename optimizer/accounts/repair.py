"""A fast first plan: round the LP relaxation, then repair capacity and band with greedy moves.

The LP relaxation splits few accounts; rounding each family to its largest share costs little but can
leave reps over capacity or outside the band. Repair moves one family at a time, always the move that
removes the most hours of violation per unit of extra cost, within the move budget, until every rep is
inside its limits (or no move helps). The plan is only a start: the certified bound decides whether it
is good enough, and HiGHS improves it when it is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.accounts.problem import AccountProblem

EPS = 1e-9
MOVES_PER_REP = 40
CHAIN_CANDIDATES = 30


@dataclass
class _Families:
    """Per family lead: hours, cost and move weight for every rep (inf where ineligible) and uncovered."""

    leads: np.ndarray
    hours: np.ndarray  # (G, R)
    cost: np.ndarray  # (G, R)
    weight: np.ndarray  # (G, R)
    uncovered_cost: np.ndarray  # (G,), inf when coverage is required
    uncovered_weight: np.ndarray  # (G,)
    locked: np.ndarray  # (G,) bool: a member is locked


def families(problem: AccountProblem) -> _Families:
    leads = np.unique(problem.lead)
    slot = np.searchsorted(leads, problem.lead)
    weight = problem.move_weight if problem.move_weight is not None else np.zeros(problem.lead.size)
    cost = problem.travel_cost + problem.move_cost[:, None] * problem.moves

    def summed(grid: np.ndarray) -> np.ndarray:
        out = np.zeros((leads.size,) + grid.shape[1:])
        np.add.at(out, slot, grid)
        return out
    ok = problem.eligible[leads]
    uncovered = (problem.uncovered_cost + problem.move_cost * problem.has_current
                 if problem.uncovered_cost is not None else np.full(problem.lead.size, np.inf))
    return _Families(leads, np.where(ok, summed(problem.hours), np.inf), np.where(ok, summed(cost), np.inf),
                     summed(weight[:, None] * problem.moves), summed(uncovered),
                     summed(weight * problem.has_current), summed(problem.locked.astype(float)) > 0)


def round_and_repair(problem: AccountProblem, share: np.ndarray, uncovered: np.ndarray,
                     repair: bool = True) -> np.ndarray | None:
    """Each account's rep (-1: uncovered) after rounding and repair, or None if the repair got stuck;
    ``repair=False`` returns the rounded plan as it is."""
    fam = families(problem)
    lead_share = share[fam.leads]
    owner = np.where(uncovered[fam.leads] > lead_share.max(axis=1), -1, lead_share.argmax(axis=1))
    owner = _fit_split(problem, fam, owner, lead_share)
    if repair:
        owner = _repair(problem, fam, owner)
    if owner is None:
        return None
    return owner[np.searchsorted(fam.leads, problem.lead)]


def _fit_split(problem: AccountProblem, fam: _Families, owner: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Place the families the LP split one by one, largest first, each with the rep among its LP reps
    that adds the least violation (then the least cost), given those placed so far."""
    split = np.flatnonzero((share > 1e-6).sum(axis=1) > 1)
    if split.size == 0:
        return owner
    whole = np.setdiff1d(np.arange(owner.size), split)
    covered = whole[owner[whole] >= 0]
    hours = np.bincount(owner[covered], weights=fam.hours[covered, owner[covered]], minlength=problem.capacity.size)
    hours += (share[split] * np.where(np.isfinite(fam.hours[split]), fam.hours[split], 0.0)).sum(axis=0)
    for group in split[np.argsort(-np.nanmax(np.where(share[split] > 1e-6, fam.hours[split], np.nan), axis=1))]:
        reps = np.flatnonzero(share[group] > 1e-6)
        hours[reps] -= share[group, reps] * fam.hours[group, reps]  # take its fractional hours out again
        low, high = _limits(problem, hours)
        added = _violation(hours[reps] + fam.hours[group, reps], low[reps], high[reps]) - _violation(hours[reps], low[reps], high[reps])
        best = reps[np.lexsort((fam.cost[group, reps], np.round(added, 6)))[0]]
        owner[group] = best
        hours[best] += fam.hours[group, best]
    return owner


def plan_hours(problem: AccountProblem, rep_of: np.ndarray) -> np.ndarray:
    covered = np.flatnonzero(rep_of >= 0)
    return np.bincount(rep_of[covered], weights=problem.hours[covered, rep_of[covered]],
                       minlength=problem.capacity.size)


def plan_violation(problem: AccountProblem, rep_of: np.ndarray) -> np.ndarray:
    """Hours each rep is over capacity or outside a hard band."""
    hours = plan_hours(problem, rep_of)
    low, high = _limits(problem, hours)
    return _violation(hours, low, high)


def plan_cost(problem: AccountProblem, rep_of: np.ndarray) -> float:
    """The model's objective for a plan that respects its rules."""
    a = np.flatnonzero(rep_of >= 0)
    moved = problem.moved(rep_of)
    cost = float(problem.travel_cost[a, rep_of[a]].sum() + problem.move_cost[moved].sum())
    if problem.uncovered_cost is not None:
        cost += float(problem.uncovered_cost[rep_of < 0].sum())
    if problem.band_penalty is not None and problem.tolerance is not None:
        hours = plan_hours(problem, rep_of)
        target = problem.capacity * hours.sum() / problem.capacity.sum()
        outside = (np.maximum((1 - problem.tolerance) * target - hours, 0)
                   + np.maximum(hours - (1 + problem.tolerance) * target, 0))
        cost += problem.band_penalty * float(outside.sum())
    return cost


def _limits(problem: AccountProblem, hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if problem.tolerance is None:
        return np.zeros_like(hours), problem.capacity
    average = hours.sum() / problem.capacity.sum()
    low = (1 - problem.tolerance) * problem.capacity * average
    high = np.minimum((1 + problem.tolerance) * problem.capacity * average, problem.capacity)
    if problem.band_penalty is not None:  # a soft band only has to respect capacity
        return np.zeros_like(hours), problem.capacity
    return low, high


def _violation(hours: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.maximum(low - hours, 0) + np.maximum(hours - high, 0)


@dataclass
class _State:
    """A plan under repair: each family's rep (-1: uncovered), hours per rep, budget used."""

    owner: np.ndarray
    hours: np.ndarray
    used: float

    def copy(self) -> _State:
        return _State(self.owner.copy(), self.hours.copy(), self.used)

    def apply(self, fam: _Families, group: int, target: int) -> None:
        source = self.owner[group]
        if source >= 0:
            self.hours[source] -= fam.hours[group, source]
        if target >= 0:
            self.hours[target] += fam.hours[group, target]
        self.used += _weight(fam, group, target) - _weight(fam, group, source)
        self.owner[group] = target

    def cost(self, fam: _Families, group: int) -> float:
        rep = self.owner[group]
        return float(fam.uncovered_cost[group] if rep < 0 else fam.cost[group, rep])


def _total_violation(problem: AccountProblem, state: _State) -> float:
    low, high = _limits(problem, state.hours)
    return float(_violation(state.hours, low, high).sum())


def _repair(problem: AccountProblem, fam: _Families, owner: np.ndarray) -> np.ndarray | None:
    g_index = np.arange(owner.size)
    covered = owner >= 0
    hours = np.bincount(owner[covered], weights=fam.hours[g_index[covered], owner[covered]],
                        minlength=problem.capacity.size)
    used = float(np.where(covered, fam.weight[g_index, np.maximum(owner, 0)], fam.uncovered_weight).sum())
    state = _State(owner, hours, used)
    budget = problem.move_budget if problem.move_budget is not None else np.inf
    for _ in range(MOVES_PER_REP * problem.capacity.size):
        before = _total_violation(problem, state)
        if before <= EPS * max(1.0, state.hours.sum()) and state.used <= budget + EPS:
            return state.owner
        moves = _best_move(problem, fam, state, budget)
        moves = moves or _best_chain(problem, fam, state, budget, before)
        if not moves:
            return None
        for group, target in moves:
            state.apply(fam, group, target)
        if _total_violation(problem, state) >= before - EPS:
            return None
    return None


def _weight(fam: _Families, group: int, rep: int) -> float:
    return float(fam.uncovered_weight[group] if rep < 0 else fam.weight[group, rep])


def _move_table(problem, fam, state, budget):
    """For every (family, rep): violation removed, extra cost, allowed, and the source side's change."""
    owner, hours = state.owner, state.hours
    low, high = _limits(problem, hours)
    violation = _violation(hours, low, high)
    g_index = np.arange(owner.size)
    at = np.maximum(owner, 0)
    covered = owner >= 0
    out_hours = np.where(covered, fam.hours[g_index, at], 0.0)
    source_after = np.where(covered, _violation(hours[at] - out_hours, low[at], high[at]) - violation[at], 0.0)
    target_after = _violation(hours[None, :] + fam.hours, low[None, :], high[None, :]) - violation[None, :]
    gain = -(source_after[:, None] + target_after)  # hours of violation removed
    current_cost = np.where(covered, fam.cost[g_index, at], fam.uncovered_cost)
    extra = fam.cost - current_cost[:, None]
    weight_change = fam.weight - np.where(covered, fam.weight[g_index, at], fam.uncovered_weight)[:, None]
    allowed = np.isfinite(fam.cost) & (state.used + weight_change <= budget + EPS) & ~fam.locked[:, None]
    allowed[g_index[covered], at[covered]] = False
    return gain, extra, allowed, source_after, target_after, current_cost


def _best_move(problem, fam, state, budget) -> list[tuple[int, int]] | None:
    """The move (family, new rep) removing the most violation per unit of extra cost."""
    gain, extra, allowed, source_after, _, current_cost = _move_table(problem, fam, state, budget)
    allowed &= gain > EPS
    if not allowed.any():
        return _best_uncover(problem, fam, state, source_after, current_cost, budget)
    ratio = np.divide(np.maximum(extra, 0.0), gain, out=np.full(gain.shape, np.inf), where=allowed)
    score = ratio - (extra < 0) * 1e-12 * np.where(allowed, gain, 0.0)  # among free moves: the largest gain
    group, target = np.unravel_index(np.argmin(score), score.shape)
    return [(int(group), int(target))]


def _best_chain(problem, fam, state, budget, before: float) -> list[tuple[int, int]] | None:
    """Two moves: the first relieves a violated rep but overloads (or underloads) another, the second fixes
    that one; among the ``CHAIN_CANDIDATES`` cheapest first moves, the pair removing most violation per cost."""
    _, extra, allowed, source_after, target_after, _ = _move_table(problem, fam, state, budget)
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
        second = _best_move(problem, fam, trial, budget)
        if not second:
            continue
        old += trial.cost(fam, second[0][0])
        trial.apply(fam, *second[0])
        removed = before - _total_violation(problem, trial)
        added = trial.cost(fam, int(group)) + trial.cost(fam, second[0][0]) - old
        if removed > EPS and max(added, 0.0) / removed < best_score:
            best, best_score = [(int(group), int(target)), second[0]], max(added, 0.0) / removed
    return best


def _best_uncover(problem, fam, state, source_after, current_cost, budget) -> list[tuple[int, int]] | None:
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

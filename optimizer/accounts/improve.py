"""Local search on a feasible plan: cheaper moves that keep every rep within capacity and band.

Rounding the LP costs little in travel, but a family the LP split between its current rep and another
may land on the other one and pay the whole disruption charge. This search takes the families whose
plan costs most above their cheapest eligible rep, tries their cheapest reps, and accepts a move when
the plan stays inside its limits, or when one more move out of (or into) the rep it unbalanced puts it
back inside at a total saving. First improvement, in order of regret, until a sweep finds nothing.
"""

from __future__ import annotations

import time

import numpy as np

from optimizer.accounts.planstate import EPS, Families, State, families, limits, state_of, violation
from optimizer.accounts.problem import AccountProblem

OPTIONS_PER_FAMILY = 5
FIXES = 3  # repairing moves after the improving one
SWEEPS = 10
FOCUS = 2000  # families of largest regret examined per sweep


def improve(problem: AccountProblem, rep_of: np.ndarray, seconds: float) -> np.ndarray:
    """A plan at most as costly as ``rep_of`` (which must be feasible), found within ``seconds``."""
    fam = families(problem)
    slot = np.searchsorted(fam.leads, problem.lead)
    state = state_of(fam, rep_of[fam.leads].copy())
    budget = problem.move_budget if problem.move_budget is not None else np.inf
    deadline = time.perf_counter() + seconds
    for _ in range(SWEEPS):
        if not _sweep(problem, fam, state, budget, deadline):
            break
    return state.owner[slot]


def _sweep(problem: AccountProblem, fam: Families, state: State, budget: float, deadline: float) -> bool:
    now = np.array([state.cost(fam, g) for g in range(state.owner.size)])
    regret = now - np.minimum(fam.cost.min(axis=1), fam.uncovered_cost)
    order = np.argsort(-regret, kind="stable")[:FOCUS]
    improved = False
    for group in order[regret[order] > EPS]:
        if time.perf_counter() > deadline:
            break
        if fam.locked[group]:
            continue
        improved |= _try_family(problem, fam, state, int(group), budget)
    return improved


def _try_family(problem: AccountProblem, fam: Families, state: State, group: int, budget: float) -> bool:
    """Apply the best improving move of ``group`` (alone or with one repairing move); True if one was made."""
    current = state.cost(fam, group)
    options = np.flatnonzero(fam.cost[group] < current - EPS)
    options = options[np.argsort(fam.cost[group, options])][:OPTIONS_PER_FAMILY]
    best, best_saving = None, EPS
    for target in options:
        trial = state.copy()
        trial.apply(fam, group, int(target))
        saving = current - fam.cost[group, target]
        if trial.used > budget + EPS:
            continue
        moves, total = [(group, int(target))], saving
        for _ in range(FIXES):
            if _inside(problem, trial.hours) or total <= best_saving:
                break
            fix = _fixing_move(problem, fam, trial, group, budget)
            if fix is None:
                break
            trial.apply(fam, *fix[0])
            moves, total = [*moves, fix[0]], total - fix[1]
        if total > best_saving and _inside(problem, trial.hours):
            best, best_saving = moves, total
    for g, t in best or []:
        state.apply(fam, g, t)
    return best is not None


def _inside(problem: AccountProblem, hours: np.ndarray) -> bool:
    low, high = limits(problem, hours)
    return float(violation(hours, low, high).sum()) <= EPS * max(1.0, float(hours.sum()))


def _fixing_move(problem: AccountProblem, fam: Families, state: State, moved: int,
                 budget: float) -> tuple[tuple[int, int], float] | None:
    """The cheapest single move that brings the most violated rep back inside its limits (without making
    the plan worse elsewhere), and its extra cost."""
    low, high = limits(problem, state.hours)
    now = violation(state.hours, low, high)
    bad = np.flatnonzero(now > EPS)
    if bad.size == 0 or bad.size > 2:
        return None
    rep = int(bad[np.argmax(now[bad])])
    over = state.hours[rep] > high[rep]
    if over:  # some family leaves the rep
        groups = np.flatnonzero((state.owner == rep) & ~fam.locked)
    else:  # some family joins it
        groups = np.flatnonzero(np.isfinite(fam.cost[:, rep]) & (state.owner != rep) & (state.owner >= 0) & ~fam.locked)
    groups = groups[groups != moved]
    if groups.size == 0:
        return None
    src = state.owner[groups]
    targets = np.arange(problem.capacity.size)[None, :] if over else np.full((groups.size, 1), rep)
    extra = (fam.cost[groups][:, targets[0]] if over else fam.cost[groups, rep][:, None]) - fam.cost[groups, src][:, None]
    extra = np.where(np.isfinite(extra), extra, np.inf)
    if over:
        extra[:, rep] = np.inf
    for flat in np.argsort(extra, axis=None)[:40]:
        row, col = np.unravel_index(flat, extra.shape)
        if not np.isfinite(extra[row, col]):
            break
        target = int(targets[0][col]) if over else rep
        trial = state.copy()
        trial.apply(fam, int(groups[row]), target)
        after = violation(trial.hours, *limits(problem, trial.hours))
        if trial.used <= budget + EPS and after[rep] <= EPS and after.sum() < now.sum() - EPS:
            return (int(groups[row]), target), float(extra[row, col])
    return None

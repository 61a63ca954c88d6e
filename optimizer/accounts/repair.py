"""A fast first plan: round the LP relaxation, then repair capacity and band with greedy moves.

The LP relaxation splits few accounts; rounding each family to its largest share costs little but can
leave reps over capacity or outside the band. Repair applies the moves of ``optimizer.accounts.moves``,
always the one removing the most hours of violation per unit of extra cost, within the move budget,
until every rep is inside its window (or nothing helps). The plan is only a start: the certified bound
decides whether it is good enough.
"""

from __future__ import annotations

import time

import numpy as np

from optimizer.accounts.moves import best_chain, best_global_move, best_move, best_path
from optimizer.accounts.planstate import (
    EPS,
    Families,
    families,
    limits,
    plan_cost,
    plan_hours,
    plan_violation,
    state_of,
    total_violation,
    violation,
)
from optimizer.accounts.problem import AccountProblem

MOVES_PER_REP = 40
STALE_MOVES = 30  # moves in a row that remove less than PROGRESS of the violation, before giving up
PROGRESS = 0.02

__all__ = ["families", "plan_cost", "plan_hours", "plan_violation", "round_and_repair"]


def round_and_repair(problem: AccountProblem, share: np.ndarray, uncovered: np.ndarray,
                     repair: bool = True, fit: bool = False, seconds: float = 60.0) -> np.ndarray | None:
    """Each account's rep (-1: uncovered) after rounding and repair, or None if the repair got stuck.

    Each family goes to its largest LP share; with ``fit`` the families the LP split are instead placed
    where they add the least violation. ``repair=False`` returns the rounded plan as it is; the repair
    gives up after ``seconds``.
    """
    fam = families(problem)
    lead_share = share[fam.leads]
    owner = np.where(uncovered[fam.leads] > lead_share.max(axis=1), -1, lead_share.argmax(axis=1))
    if fit:
        owner = _fit_split(problem, fam, owner, lead_share)
    if repair:
        owner = _repair(problem, fam, owner, time.perf_counter() + seconds)
    if owner is None:
        return None
    return owner[np.searchsorted(fam.leads, problem.lead)]


def _fit_split(problem: AccountProblem, fam: Families, owner: np.ndarray, share: np.ndarray) -> np.ndarray:
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
        low, high = limits(problem, hours)
        added = violation(hours[reps] + fam.hours[group, reps], low[reps], high[reps]) - violation(hours[reps], low[reps], high[reps])
        best = reps[np.lexsort((fam.cost[group, reps], np.round(added, 6)))[0]]
        owner[group] = best
        hours[best] += fam.hours[group, best]
    return owner


def _repair(problem: AccountProblem, fam: Families, owner: np.ndarray, deadline: float) -> np.ndarray | None:
    state = state_of(fam, owner)
    budget = problem.move_budget if problem.move_budget is not None else np.inf
    best, stale = np.inf, 0
    for _ in range(MOVES_PER_REP * problem.capacity.size):
        before = total_violation(problem, state)
        if before <= EPS * max(1.0, state.hours.sum()) and state.used <= budget + EPS:
            return state.owner
        best, stale = (before, 0) if before < (1 - PROGRESS) * best else (best, stale + 1)
        if stale > STALE_MOVES or time.perf_counter() > deadline:  # the average moves the band a little
            return None
        moves = best_move(problem, fam, state, budget)
        moves = moves or best_chain(problem, fam, state, budget, before) or best_path(problem, fam, state, budget)
        moves = moves or best_global_move(problem, fam, state, budget)
        if not moves:
            return None
        for group, target in moves:
            state.apply(fam, group, target)
    return None

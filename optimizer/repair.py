"""A fast first plan: round the LP relaxation, then repair the band with greedy moves.

The LP relaxation splits at most ``K - 1`` whole units; rounding each to its largest share costs almost
nothing but leaves some territories slightly outside the band. Repair moves one unit at a time, always
the move that removes the most band violation per km of extra weighted distance, until every territory is
inside its band (or no move helps). The plan is only a warm start: HiGHS and the certified bound decide.
"""

from __future__ import annotations

import numpy as np

MAX_MOVES_PER_TERRITORY = 20
EPS = 1e-9


def round_and_repair(lp_share: np.ndarray, cost: np.ndarray, load: np.ndarray, shared: np.ndarray,
                     lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, bool]:
    """Shares (units x territories) after rounding and greedy repair, and whether the band now holds."""
    plan = np.zeros_like(lp_share)
    whole = np.flatnonzero(~shared)
    plan[whole, np.argmax(lp_share[whole], axis=1)] = 1.0
    plan[shared] = lp_share[shared] / lp_share[shared].sum(axis=1, keepdims=True)
    owner = np.argmax(plan, axis=1)
    territory_load = (plan * load[:, None]).sum(axis=0)
    for _ in range(MAX_MOVES_PER_TERRITORY * len(lower)):
        excess = _violation(territory_load, lower, upper)
        if excess.sum() <= EPS:
            return plan, True
        move = _best_move(owner, whole, cost, load, territory_load, lower, upper)
        transfer = _best_transfer(plan, np.flatnonzero(shared), cost, load, territory_load, lower, upper)
        if move is None and transfer is None:
            return plan, False
        if transfer is not None and (move is None or transfer[0] < move[0]):
            _, unit, source, target, amount = transfer
        else:
            _, unit, source, target = move
            amount = load[unit]
            owner[unit] = target
        plan[unit, source] -= amount / load[unit]
        plan[unit, target] += amount / load[unit]
        territory_load[source] -= amount
        territory_load[target] += amount
    return plan, False


def _violation(territory_load: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    return np.maximum(territory_load - upper, 0.0) + np.maximum(lower - territory_load, 0.0)


def _best_move(owner, whole, cost, load, territory_load, lower, upper):
    """The whole-unit move with the best ratio of violation removed to cost added, if any removes some."""
    units = whole
    source = owner[units]
    w = load[units][:, None]
    before = _violation(territory_load, lower, upper)
    src_after = _violation(territory_load[source][:, None] - w, lower[source][:, None], upper[source][:, None])
    tgt_after = _violation(territory_load[None, :] + w, lower[None, :], upper[None, :])
    gain = before[source][:, None] + before[None, :] - src_after - tgt_after
    gain[np.arange(len(units)), source] = 0.0
    extra = cost[units] - cost[units, source][:, None]
    score = _score(gain, extra)
    flat = int(np.argmin(score))
    if not np.isfinite(score.ravel()[flat]):
        return None
    row, target = divmod(flat, score.shape[1])
    return float(score.ravel()[flat]), int(units[row]), int(source[row]), int(target)


def _score(gain: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """Lower is better: free moves by gain, else extra cost per unit of violation removed."""
    ratio = (extra + 1e-6) / np.maximum(gain, EPS)
    return np.where(gain > EPS, np.where(extra <= 0, -gain, ratio), np.inf)


def _best_transfer(plan, shared_units, cost, load, territory_load, lower, upper):
    """Move part of a shared unit's workload from one of its territories to another territory."""
    best = None
    before = _violation(territory_load, lower, upper)
    for unit in shared_units:
        for source in np.flatnonzero(plan[unit] > EPS):
            available = plan[unit, source] * load[unit]
            options = np.stack([
                np.full_like(territory_load, available),
                np.full_like(territory_load, max(territory_load[source] - upper[source], 0.0)),
                np.maximum(lower - territory_load, 0.0),
                np.maximum(upper - territory_load, 0.0),
                np.full_like(territory_load, max(territory_load[source] - lower[source], 0.0)),
            ])
            amount = np.clip(options, 0.0, available)
            src_after = _violation(territory_load[source] - amount, lower[source], upper[source])
            tgt_after = _violation(territory_load[None, :] + amount, lower[None, :], upper[None, :])
            gain = before[source] + before[None, :] - src_after - tgt_after
            gain[:, source] = 0.0
            extra = amount / load[unit] * (cost[unit][None, :] - cost[unit, source])
            score = _score(gain, extra)
            flat = int(np.argmin(score))
            if np.isfinite(score.ravel()[flat]) and (best is None or score.ravel()[flat] < best[0]):
                row, target = divmod(flat, score.shape[1])
                best = (float(score.ravel()[flat]), int(unit), int(source), int(target), float(amount[row, target]))
    return best

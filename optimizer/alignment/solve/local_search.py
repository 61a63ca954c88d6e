"""Improve a plan inside its band by moving and swapping whole units, before HiGHS sees it.

Finding good plans, not proving bounds, is the hard part of this model (shared/PERFORMANCE_NOTES.md):
HiGHS can spend minutes in root cuts with a plan a percent above the LP bound. Classic territory-design
local search closes much of that gap in a second:

* **move** a unit to another territory when that lowers the weighted distance and both territories stay
  inside their bands;
* **swap** two units of two territories when the exchange lowers the weighted distance and both bands
  still hold (this is what gets past territories that sit at the edge of their band).

Shared units keep their shares. Every accepted change strictly lowers the objective, so it terminates.
"""

from __future__ import annotations

import time

import numpy as np

ALTERNATIVES = 4  # a unit looks at the territories of its few cheapest alternatives
EPS = 1e-9


def improve_plan(grid: np.ndarray, cost: np.ndarray, load: np.ndarray, shared: np.ndarray,
                 lower: np.ndarray, upper: np.ndarray, seconds: float) -> np.ndarray:
    """A plan at least as good as ``grid`` (same band), improved by moves and swaps for up to ``seconds``."""
    deadline = time.perf_counter() + seconds
    whole = np.flatnonzero(~shared)
    owner = np.argmax(grid, axis=1)
    loads = load @ grid
    alternatives = np.argsort(cost[whole], axis=1)[:, :ALTERNATIVES]
    while time.perf_counter() < deadline:
        moved = _moves(owner, whole, alternatives, cost, load, loads, lower, upper)
        swapped = _swaps(owner, whole, alternatives, cost, load, loads, lower, upper, deadline)
        if not (moved or swapped):
            break
    plan = grid.copy()
    plan[whole] = 0.0
    plan[whole, owner[whole]] = 1.0
    return plan


def _moves(owner, whole, alternatives, cost, load, loads, lower, upper) -> int:
    source = owner[whole]
    gain = cost[whole[:, None], alternatives] - cost[whole, source][:, None]
    order = np.argsort(gain, axis=None)
    applied = 0
    for flat in order[: np.count_nonzero(gain < -EPS)]:
        row, col = divmod(int(flat), alternatives.shape[1])
        unit, target = whole[row], alternatives[row, col]
        source_now, w = owner[unit], load[unit]
        if source_now == target or cost[unit, target] - cost[unit, source_now] >= -EPS:
            continue
        if loads[source_now] - w >= lower[source_now] - EPS and loads[target] + w <= upper[target] + EPS:
            owner[unit] = target
            loads[source_now] -= w
            loads[target] += w
            applied += 1
    return applied


def _swaps(owner, whole, alternatives, cost, load, loads, lower, upper, deadline) -> int:
    """Best swap for each unit with a cheaper alternative, among units of that alternative territory."""
    applied = 0
    wants = cost[whole[:, None], alternatives] - cost[whole, owner[whole]][:, None] < -EPS
    for row, col in zip(*np.nonzero(wants)):
        if time.perf_counter() > deadline:
            break
        unit, target = whole[row], alternatives[row, col]
        source = owner[unit]
        if source == target:
            continue
        partners = whole[owner[whole] == target]
        delta = (cost[unit, target] - cost[unit, source]) + (cost[partners, source] - cost[partners, target])
        net = load[unit] - load[partners]
        fits = ((loads[source] - net >= lower[source] - EPS) & (loads[source] - net <= upper[source] + EPS)
                & (loads[target] + net >= lower[target] - EPS) & (loads[target] + net <= upper[target] + EPS))
        delta = np.where(fits, delta, np.inf)
        best = int(np.argmin(delta)) if partners.size else -1
        if best >= 0 and delta[best] < -EPS:
            partner = partners[best]
            owner[unit], owner[partner] = target, source
            loads[source] -= net[best]
            loads[target] += net[best]
            applied += 1
    return applied

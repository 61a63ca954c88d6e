"""Put a rounded LP plan back inside its band by moving and swapping units between nearby territories.

Rounding the LP relaxation moves each split unit wholly to one of its territories; when both sat at the
edge of their band, one ends above and the other below it, usually next to each other. The repair is a
descent on ``violation`` (workload outside the band, summed) with travel as the tie-breaker:

* **move** unit ``i`` from territory ``a`` to ``b`` (one of ``i``'s cheapest alternatives) when that
  lowers the violation of ``a`` and ``b`` together, choosing the move of least added travel per unit of
  violation removed;
* **swap** ``i`` in ``a`` with ``j`` in ``b`` when a single move overshoots (a unit heavier than the room
  in ``b``): the pair's net transfer ``w_i - w_j`` is what fixes both.

Each accepted change strictly lowers the violation, so it terminates; territories it cannot fix are left
to the repair MIP (``optimizer.repair``). Moves between territories already in their band never happen
here: cost improvement is ``optimizer.local_search``'s job.
"""

from __future__ import annotations

import time

import numpy as np

ALTERNATIVES = 6
EPS = 1e-9


def repair_band(grid: np.ndarray, cost: np.ndarray, load: np.ndarray, shared: np.ndarray, lower: np.ndarray,
                upper: np.ndarray, seconds: float) -> np.ndarray:
    """A plan with no more workload outside the band than ``grid`` (usually none), whole units only moved."""
    deadline = time.perf_counter() + seconds
    whole = ~shared
    owner = np.argmax(grid, axis=1)
    loads = load @ grid
    alternatives = _cheapest(cost, min(ALTERNATIVES, cost.shape[1]))
    members = _members(owner, whole, len(lower))
    while time.perf_counter() < deadline:
        outside = _outside(loads, lower, upper)
        violated = np.flatnonzero(outside > EPS)
        if violated.size == 0:
            break
        changed = 0
        for a in violated[np.argsort(-outside[violated])]:
            changed += _fix(int(a), owner, members, alternatives, cost, load, loads, lower, upper)
        if not changed:
            break
    plan = grid.copy()
    plan[whole] = 0.0
    plan[np.flatnonzero(whole), owner[whole]] = 1.0
    return plan


def _cheapest(cost: np.ndarray, count: int) -> np.ndarray:
    """Each row's ``count`` cheapest columns, cheapest first."""
    part = np.argpartition(cost, count - 1, axis=1)[:, :count] if count < cost.shape[1] else np.tile(
        np.arange(cost.shape[1]), (cost.shape[0], 1))
    return np.take_along_axis(part, np.argsort(np.take_along_axis(cost, part, axis=1), axis=1), axis=1)


def _members(owner: np.ndarray, whole: np.ndarray, k: int) -> list[set[int]]:
    sets: list[set[int]] = [set() for _ in range(k)]
    for i in np.flatnonzero(whole):
        sets[owner[i]].add(int(i))
    return sets


def _outside(loads, lower, upper):
    return np.maximum(lower - loads, 0.0) + np.maximum(loads - upper, 0.0)


def _violation_change(loads, lower, upper, a, b, shift):
    """Change of total violation when ``shift`` workload goes from ``a`` to ``b``."""
    before = _one(loads[a], lower[a], upper[a]) + _one(loads[b], lower[b], upper[b])
    after = _one(loads[a] - shift, lower[a], upper[a]) + _one(loads[b] + shift, lower[b], upper[b])
    return after - before


def _one(value, low, high):
    return max(low - value, 0.0) + max(value - high, 0.0)


def _fix(a, owner, members, alternatives, cost, load, loads, lower, upper) -> int:
    """Best move or swap that lowers the violation of territory ``a`` (giving if above, taking if below)."""
    over = loads[a] > upper[a]
    best, best_score = None, 0.0
    if over:  # a unit of a goes to one of its alternatives
        candidates = [(i, a, int(b)) for i in members[a] for b in alternatives[i] if b != a]
    else:  # a unit that has a among its alternatives comes to a
        candidates = [(i, int(owner[i]), a) for b in _near(a, alternatives, members) for i in members[b]
                      if a in alternatives[i]]
    for i, src, dst in candidates:
        dv = _violation_change(loads, lower, upper, src, dst, load[i])
        if dv < -EPS:
            score = (cost[i, dst] - cost[i, src]) / -dv
            if best is None or score < best_score:
                best, best_score = ("move", i, src, dst), score
    if best is None:
        best = _best_swap(a, over, owner, members, alternatives, cost, load, loads, lower, upper)
    if best is None:
        return 0
    if best[0] == "move":
        _, i, src, dst = best
        _apply(i, src, dst, owner, members, load, loads)
    else:
        _, i, j, src, dst = best
        _apply(i, src, dst, owner, members, load, loads)
        _apply(j, dst, src, owner, members, load, loads)
    return 1


def _near(a, alternatives, members):
    """Territories whose units count ``a`` among their alternatives (found through a's own units)."""
    return {int(b) for i in members[a] for b in alternatives[i] if b != a}


def _best_swap(a, over, owner, members, alternatives, cost, load, loads, lower, upper):
    best, best_score = None, 0.0
    for b in _near(a, alternatives, members):
        src, dst = (a, b) if over else (b, a)
        outgoing = [i for i in members[src] if dst in alternatives[i]]
        incoming = [j for j in members[dst] if src in alternatives[j]]
        for i in outgoing:
            for j in incoming:
                shift = load[i] - load[j]
                dv = _violation_change(loads, lower, upper, src, dst, shift)
                if dv < -EPS:
                    score = (cost[i, dst] - cost[i, src] + cost[j, src] - cost[j, dst]) / -dv
                    if best is None or score < best_score:
                        best, best_score = ("swap", i, j, src, dst), score
    return best


def _apply(i, src, dst, owner, members, load, loads):
    owner[i] = dst
    members[src].discard(i)
    members[dst].add(i)
    loads[src] -= load[i]
    loads[dst] += load[i]

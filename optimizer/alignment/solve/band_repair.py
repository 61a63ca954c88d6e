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
to the repair MIP (``optimizer.alignment.solve.repair``). Moves between territories already in their band never happen
here: cost improvement is ``optimizer.alignment.solve.local_search``'s job.
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


def _violation_change(loads, lower, upper, src, dst, shift):
    """Change of total violation when ``shift`` workload goes from ``src`` to ``dst`` (arrays)."""
    before = _outside(loads[src], lower[src], upper[src]) + _outside(loads[dst], lower[dst], upper[dst])
    after = (_outside(loads[src] - shift, lower[src], upper[src])
             + _outside(loads[dst] + shift, lower[dst], upper[dst]))
    return after - before


def _array(items: set[int]) -> np.ndarray:
    return np.fromiter(items, dtype=np.int64, count=len(items))


def _fix(a, owner, members, alternatives, cost, load, loads, lower, upper) -> int:
    """Best move or swap that lowers the violation of territory ``a`` (giving if above, taking if below)."""
    over = loads[a] > upper[a]
    near = _near(a, alternatives, members)
    if over:  # a unit of a goes to one of its alternatives
        units = _array(members[a])
        unit, dst = np.repeat(units, alternatives.shape[1]), alternatives[units].ravel()
        keep = dst != a
        unit, dst = unit[keep], dst[keep]
        src = np.full(len(unit), a)
    else:  # a unit that has a among its alternatives comes to a
        units = np.concatenate([_array(members[b]) for b in near]) if near else np.zeros(0, np.int64)
        unit = units[(alternatives[units] == a).any(axis=1)] if units.size else units
        src, dst = owner[unit], np.full(len(unit), a)
    if unit.size:
        dv = _violation_change(loads, lower, upper, src, dst, load[unit])
        helps = np.flatnonzero(dv < -EPS)
        if helps.size:
            score = (cost[unit[helps], dst[helps]] - cost[unit[helps], src[helps]]) / -dv[helps]
            best = helps[int(np.argmin(score))]
            _apply(int(unit[best]), int(src[best]), int(dst[best]), owner, members, load, loads)
            return 1
    swap = _best_swap(a, over, near, members, alternatives, cost, load, loads, lower, upper)
    if swap is None:
        return 0
    i, j, src_t, dst_t = swap
    _apply(i, src_t, dst_t, owner, members, load, loads)
    _apply(j, dst_t, src_t, owner, members, load, loads)
    return 1


def _near(a, alternatives, members) -> list[int]:
    """Territories among the alternatives of a's own units."""
    units = _array(members[a])
    if units.size == 0:
        return []
    return [int(b) for b in np.unique(alternatives[units]) if b != a]


def _best_swap(a, over, near, members, alternatives, cost, load, loads, lower, upper):
    """Best exchange of one unit of ``a`` with one unit of a nearby territory, by added travel per
    unit of violation removed."""
    best, best_score = None, np.inf
    for b in near:
        src, dst = (a, b) if over else (b, a)
        out_units, in_units = _array(members[src]), _array(members[dst])
        if out_units.size == 0 or in_units.size == 0:
            continue
        out_units = out_units[(alternatives[out_units] == dst).any(axis=1)]
        in_units = in_units[(alternatives[in_units] == src).any(axis=1)]
        if out_units.size == 0 or in_units.size == 0:
            continue
        shift = load[out_units][:, None] - load[in_units][None, :]
        dv = _violation_change(loads, lower, upper, np.array([src]), np.array([dst]), shift)
        extra = (cost[out_units, dst] - cost[out_units, src])[:, None] + (cost[in_units, src] - cost[in_units, dst])[None, :]
        score = np.where(dv < -EPS, extra / np.maximum(-dv, EPS), np.inf)
        flat = int(np.argmin(score))
        if score.flat[flat] < best_score:
            r, c = divmod(flat, score.shape[1])
            best, best_score = (int(out_units[r]), int(in_units[c]), src, dst), float(score.flat[flat])
    return best


def _apply(i, src, dst, owner, members, load, loads):
    owner[i] = dst
    members[src].discard(i)
    members[dst].add(i)
    loads[src] -= load[i]
    loads[dst] += load[i]

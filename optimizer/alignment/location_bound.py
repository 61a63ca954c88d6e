r"""A lower bound that covers the choice of bases: the Lagrangian of the location-allocation model.

The model (``models.location``, with a base able to host several territories): every unit ``i`` is served
by candidate bases ``j`` with shares ``x_ij`` adding up to one, ``y_j \in \{0, 1, 2, ...\}`` territories sit
at ``j``, ``sum_j y_j = K``, ``x_ij <= y_j`` and each base's workload lies in its band,
``L y_j <= sum_i w_i x_ij <= U y_j`` (soft band: a penalty ``pi`` per unit of workload outside it).
The cost is ``sum_ij w_i d_ij x_ij``, the alignment model's travel with the bases free.

Relaxing "every unit served once" with multipliers ``u_i`` leaves, for any ``u``:

.. math::

    L(u) = \sum_i u_i + \min_{y \in \mathbb{Z}_+^J,\ \sum y = K} \sum_j \rho_j(y_j), \qquad
    \rho_j(y) = \min_{W \ge 0} F_j(W) + \pi\,\mathrm{dist}(W, [yL, yU]),

where ``F_j(W)`` is the continuous knapsack ``min sum_i (w_i d_ij - u_i) x_i`` with ``sum_i w_i x_i = W``
and ``0 <= x_i <= 1``: items taken by increasing ratio ``d_ij - u_i / w_i``. ``F_j`` is convex and
piecewise linear, so ``rho_j`` is convex in ``y`` and the best ``y`` takes the ``K`` smallest marginals
``rho_j(y) - rho_j(y - 1)`` over all candidates (a separable convex allocation). **Every** ``u`` gives a
valid bound (weak duality); at the LP's duals it is at least the LP relaxation, since ``y`` is integral.

Sparse pairs, still every pair bounded. Each unit keeps only the candidates within a radius ``R_i`` of it;
a pair left out has ratio ``d_ij - a_i >= R_i - a_i >= theta`` (``a_i = u_i / w_i``). The knapsack is
evaluated over the kept pairs below ``theta`` plus an unlimited item at ratio ``theta``: that relaxes the
left-out pairs (none can be cheaper), so the value stays a lower bound for the model over all pairs.
Radii are widened when the multipliers grow past them.

The multipliers are improved by subgradient ascent with Polyak steps towards the best plan's objective
(``g_i = 1 - sum_j x_ij``), keeping the best value found. Units without workload cost nothing anywhere
and are left out (their ``u_i = 0``). Rules other than the band (locks, groups, contiguity, further
measures, move budgets and penalties) only remove plans or add non-negative costs, so leaving them out
keeps the bound valid for the scenario's model.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from optimizer.areas.distance import EARTH_RADIUS_KM, great_circle_km
from optimizer.solver.result import relative_gap

SAFETY = 1e-9  # relative margin taken off the bound for floating-point sums
MIN_NEIGHBOURS = 8  # each unit keeps at least its nearest candidates
STALL_ITERATIONS = 12  # halve the step after this many iterations without a better bound
MIN_STEP = 1e-4
AIM = 0.5  # each step aims this share of the way from the best bound to the best plan
DEFLECT = 0.5  # share of the previous direction kept (deflected subgradient)
MARGIN = 0.75
PAIR_WORK = 12_000_000  # pair evaluations the ascent may spend (Texas x 20: its 150 iterations over 64,516 pairs)
DENSE_PAIRS = 400_000  # units x candidates up to which every pair is kept (no unlimited item needed)


@dataclass(frozen=True)
class LocationInstance:
    """Units, candidate bases and the band of the location-allocation model, as plain arrays."""

    load: np.ndarray  # (N,) workload in average territories
    lat: np.ndarray
    lon: np.ndarray
    xy: np.ndarray  # (N, 2) projected metres
    candidates: np.ndarray  # (J,) unit indices that may host bases
    territories: int
    lower: float  # band per territory, in average territories (the loosest of the territories' bands)
    upper: float
    penalty: float | None = None  # soft band: cost per average territory outside it
    distance: str = "great_circle"


@dataclass
class LocationBound:
    """The best Lagrangian bound found and what it rests on."""

    value: float
    multipliers: np.ndarray  # (N,) u at the best bound
    opened: np.ndarray  # candidate unit index per territory at the best bound (repeats: several at one unit)
    iterations: int
    seconds: float
    pairs: int
    history: list[float] = field(default_factory=list)

    @property
    def scope(self) -> str:
        return "Lagrangian bound of location-allocation over every unit-candidate pair"


class _Pairs:
    """Kept (unit, candidate) pairs with their distances, and the radius each unit's list covers.

    Small instances keep every pair (radius infinite). Larger ones keep, per unit, the candidates within
    ``a_i + margin`` (``MARGIN`` x the median ``a``) and widen a list when ``a_i`` grows to within half the
    margin of its radius, so the unlimited item's ratio stays at least half the margin.
    """

    def __init__(self, inst: LocationInstance, active: np.ndarray):
        self.inst = inst
        self.active = active  # unit indices with workload
        self.points = _points(inst)
        self.dense = len(active) * len(inst.candidates) <= DENSE_PAIRS
        self.radius = np.zeros(len(active))
        if self.dense:
            self.unit = np.repeat(np.arange(len(active)), len(inst.candidates))
            self.cand = np.tile(np.arange(len(inst.candidates)), len(active))
            self.dist = _km(inst, active[self.unit], inst.candidates[self.cand])
            self.radius[:] = np.inf
            return
        self.tree = cKDTree(self.points[inst.candidates])
        self.unit = np.zeros(0, np.int64)
        self.cand = np.zeros(0, np.int64)
        self.dist = np.zeros(0)

    def cover(self, a: np.ndarray) -> None:
        """Make every active unit's list reach past ``a`` (its multiplier per unit of workload, in km)."""
        if self.dense:
            return
        margin = MARGIN * float(np.median(np.maximum(a, 0))) + 1e-6
        need = np.maximum(a, 0) + 0.5 * margin > self.radius
        if not need.any():
            return
        rows = np.flatnonzero(need)
        reach_km = np.maximum(a[rows], 0) + margin
        k = min(MIN_NEIGHBOURS, len(self.inst.candidates))
        far, _ = self.tree.query(self.points[self.active[rows]], k=k)
        far = np.atleast_2d(far)[:, -1] if k > 1 else np.atleast_1d(far)
        chord = np.maximum(_to_chord(reach_km, self.inst.distance), far * (1 + 1e-9))
        lists = self.tree.query_ball_point(self.points[self.active[rows]], chord)
        counts = np.fromiter((len(x) for x in lists), np.int64, len(lists))
        unit = np.repeat(rows, counts)
        cand = np.concatenate([np.asarray(x, np.int64) for x in lists]) if len(lists) else np.zeros(0, np.int64)
        keep = ~need[self.unit]
        self.unit = np.concatenate([self.unit[keep], unit])
        self.cand = np.concatenate([self.cand[keep], cand])
        dist = _km(self.inst, self.active[unit], self.inst.candidates[cand])
        self.dist = np.concatenate([self.dist[keep], dist])
        # the radius a list provably covers, in km (chord -> km is monotone; a hair less for rounding)
        self.radius[rows] = _from_chord(chord, self.inst.distance) * (1 - 1e-9)


def location_bound(inst: LocationInstance, start: np.ndarray, best_plan: float, seconds: float,
                   max_iterations: int = 2000, pair_work: float = math.inf) -> LocationBound:
    """Subgradient ascent on ``L(u)`` from ``start`` (N,) for at most ``seconds``; see the module docstring.

    Directions are deflected (``g + DEFLECT * previous``) and steps aim a share ``AIM`` of the way from
    the best bound to ``best_plan``, the objective of the best plan known; the step halves after
    ``STALL_ITERATIONS`` without a better bound, restarting from the best multipliers.
    """
    began = time.perf_counter()
    active = np.flatnonzero(inst.load > 0)
    w = inst.load[active]
    pairs = _Pairs(inst, active)
    u = np.asarray(start, float)[active].copy()
    best = LocationBound(-math.inf, np.zeros(len(inst.load)), np.zeros(0, np.int64), 0, 0.0, 0)
    step, stall, direction, work = 1.0, 0, None, 0.0
    for it in range(max_iterations):
        a = u / w
        pairs.cover(a)
        theta = float(np.min(pairs.radius - a))  # every pair left out has at least this ratio
        value, opened, served = _evaluate(inst, pairs, w, u, theta)
        best.history.append(value)
        if value > best.value + 1e-9 * abs(value):
            best.value, best.opened, stall = value, opened, 0
            best.multipliers = np.zeros(len(inst.load))
            best.multipliers[active] = u
        else:
            stall += 1
            if stall >= STALL_ITERATIONS:
                step, stall = step * 0.5, 0
                u = best.multipliers[active].copy()
                direction = None
                continue
        best.iterations = it + 1
        work += len(pairs.unit)
        if step < MIN_STEP or time.perf_counter() - began > seconds or best.value >= best_plan * (1 - 1e-7) \
                or work >= pair_work:
            break
        g = (1.0 - served) * w  # the subgradient in a = u / w (km): every unit's price moves on one scale
        direction = g if direction is None else g + DEFLECT * direction
        norm = float(direction @ direction)
        if norm < 1e-12:
            break
        target = best.value + AIM * (best_plan - best.value) if math.isfinite(best_plan) else value + abs(value) * 0.05 + 1.0
        u = u + step * max(target - value, 1e-9 * abs(target)) / norm * direction * w
    best.value -= SAFETY * abs(best.value)
    best.seconds, best.pairs = time.perf_counter() - began, len(pairs.unit)
    return best


def _evaluate(inst: LocationInstance, pairs: _Pairs, w: np.ndarray, u: np.ndarray, theta: float):
    """``L(u)``, the bases opened (unit index per territory) and how much of each unit they serve."""
    ratio = pairs.dist - (u / w)[pairs.unit]
    keep = np.flatnonzero(ratio < theta)
    cand, ratio = pairs.cand[keep], ratio[keep]
    order = _by_candidate_then_ratio(cand, ratio)
    cand, ratio, unit = cand[order], ratio[order], pairs.unit[keep][order]
    weight = w[unit]
    n_cand = len(inst.candidates)
    starts = np.searchsorted(cand, np.arange(n_cand + 1))
    cum_w = np.concatenate([[0.0], np.cumsum(weight)])
    cum_v = np.concatenate([[0.0], np.cumsum(weight * ratio)])
    k = inst.territories
    levels = max(1, min(k, int(math.ceil(float(w.max()) / max(inst.lower, 1e-9))) + 1))
    while True:
        rho = _rho(inst, starts, cum_w, cum_v, ratio, cand, theta, levels)  # (J, levels)
        marginal = np.diff(np.concatenate([np.zeros((n_cand, 1)), rho], axis=1), axis=1)
        flat = np.argpartition(marginal.ravel(), k - 1)[:k] if marginal.size > k else np.arange(marginal.size)
        cutoff = float(marginal.ravel()[flat].max())
        counts = np.bincount(flat // levels, minlength=n_cand)
        if levels >= k or not ((counts == levels).any()):
            break
        full = counts == levels  # candidates using every level computed: is one more level cheaper?
        more = _rho(inst, starts, cum_w, cum_v, ratio, cand, theta, levels + 1)[:, -1] - rho[:, -1]
        if not (more[full] < cutoff).any():
            break
        levels = min(k, levels * 2)
    value = float(u.sum() + marginal.ravel()[flat].sum())
    opened_cands = np.flatnonzero(counts)
    served = np.zeros(len(w))
    for j in opened_cands:
        fraction = _knapsack_solution(inst, starts, cum_w, ratio, int(j), int(counts[j]), theta)
        served[unit[starts[j]: starts[j] + len(fraction)]] += fraction
    opened = np.repeat(inst.candidates[opened_cands], counts[opened_cands])
    return value, opened, served


def _by_candidate_then_ratio(cand: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """The order sorting pairs by candidate, then ratio: one float sort of ``cand + scaled ratio`` (half the
    time of a two-key lexsort); the sums below do not depend on how equal ratios are ordered."""
    if ratio.size == 0:
        return np.zeros(0, np.int64)
    low, span = float(ratio.min()), float(np.ptp(ratio)) or 1.0
    return np.argsort(cand + (ratio - low) * (0.5 / span), kind="stable")


def _weight_target(inst: LocationInstance, starts, cum_w, ratio, cand_idx, y, theta):
    """The knapsack weight ``W*`` of ``rho_j(y)`` for candidates ``cand_idx`` (arrays) at ``y`` territories."""
    lo, hi = starts[cand_idx], starts[cand_idx + 1]

    def weight_below(level: float) -> np.ndarray:  # weight of the kept items with ratio < level
        if level >= theta:
            return np.full(len(lo), np.inf)
        pos = _position_below(ratio, lo, hi, level)
        return cum_w[pos] - cum_w[lo]

    w_zero = weight_below(0.0)
    low, high = y * inst.lower, y * inst.upper
    pi = inst.penalty
    w_pi = weight_below(pi) if pi is not None else np.full(len(lo), np.inf)
    w_minus = weight_below(-pi) if pi is not None else np.zeros(len(lo))
    target = np.clip(w_zero, low, high)
    target = np.where(w_zero < low, np.minimum(low, w_pi), target)
    return np.where(w_zero > high, np.maximum(high, w_minus), target)


def _position_below(ratio: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: float) -> np.ndarray:
    """Per group ``[lo, hi)`` (sorted by ratio), the first position whose ratio is not below ``level``
    (a binary search over all groups at once)."""
    left, right = lo.copy(), hi.copy()
    while True:
        active = left < right
        if not active.any():
            return left
        mid = (left + right) // 2
        below = np.zeros(len(lo), bool)
        below[active] = ratio[mid[active]] < level
        left = np.where(active & below, mid + 1, left)
        right = np.where(active & ~below, mid, right)


def _knapsack_value(starts, cum_w, cum_v, ratio, cand_idx, target, theta):
    """``F_j(W)`` at ``W = target`` per candidate: kept items by ratio, then the unlimited item at ``theta``."""
    lo, hi = starts[cand_idx], starts[cand_idx + 1]
    base_w = cum_w[lo]
    goal = base_w + target
    pos = np.searchsorted(cum_w, goal, side="left")  # first cumulative weight reaching the goal
    inside = pos <= hi
    pos_c = np.clip(pos, 1, len(cum_w) - 1)
    # item pos_c - 1 is the partial one when inside
    prev_w, prev_v = cum_w[pos_c - 1], cum_v[pos_c - 1]
    part = ratio[np.clip(pos_c - 1, 0, len(ratio) - 1)] if len(ratio) else np.zeros(len(lo))
    value_inside = (prev_v - cum_v[lo]) + part * (goal - prev_w)
    with np.errstate(invalid="ignore"):  # theta is infinite when every pair is kept
        value_beyond = (cum_v[hi] - cum_v[lo]) + theta * np.maximum(goal - cum_w[hi], 0.0)
    at_start = target <= 0
    value = np.where(inside & (pos > lo), value_inside, value_beyond)
    return np.where(at_start, 0.0, value)


def _rho(inst, starts, cum_w, cum_v, ratio, cand, theta, levels):
    """``rho_j(y)`` for every candidate and ``y = 1..levels``."""
    n_cand = len(starts) - 1
    idx = np.arange(n_cand)
    out = np.empty((n_cand, levels))
    pi = inst.penalty
    for y in range(1, levels + 1):
        target = _weight_target(inst, starts, cum_w, ratio, idx, y, theta)
        value = _knapsack_value(starts, cum_w, cum_v, ratio, idx, target, theta)
        if pi is not None:
            value = value + pi * (np.maximum(y * inst.lower - target, 0) + np.maximum(target - y * inst.upper, 0))
        out[:, y - 1] = value
    return out


def _knapsack_solution(inst, starts, cum_w, ratio, j, y, theta):
    """The shares of candidate ``j``'s kept items in ``rho_j(y)`` (in its sorted order)."""
    target = float(_weight_target(inst, starts, cum_w, ratio, np.array([j]), y, theta)[0])
    lo, hi = starts[j], starts[j + 1]
    within = cum_w[lo + 1: hi + 1] - cum_w[lo]
    before = np.concatenate([[0.0], within[:-1]])
    weight = within - before
    fraction = np.where(weight > 0, np.clip((target - before) / np.where(weight > 0, weight, 1.0), 0.0, 1.0),
                        (before < target).astype(float))
    return fraction


def _points(inst: LocationInstance) -> np.ndarray:
    if inst.distance == "projected":
        return inst.xy / 1000.0
    lat, lon = np.radians(inst.lat), np.radians(inst.lon)
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _to_chord(km: np.ndarray, kind: str) -> np.ndarray:
    if kind == "projected":
        return km
    return 2 * np.sin(np.minimum(km / EARTH_RADIUS_KM, math.pi) / 2)


def _from_chord(chord: np.ndarray, kind: str) -> np.ndarray:
    if kind == "projected":
        return chord
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2, 0.0, 1.0))


def _km(inst: LocationInstance, units: np.ndarray, bases: np.ndarray) -> np.ndarray:
    if inst.distance == "projected":
        return np.hypot(*(inst.xy[units] - inst.xy[bases]).T) / 1000.0
    return great_circle_km(inst.lat[units], inst.lon[units], inst.lat[bases], inst.lon[bases])


ITERATIONS = 150  # fixed, so a scenario's bound repeats exactly; the time below is only a safety net
TIME_SHARE = 0.25  # of solver.time_limit
MAX_SECONDS = 30.0


def bound_for_plan(units, problem, distance: np.ndarray, objective: float, time_limit: float, kind: str,
                   candidates: np.ndarray | None = None) -> LocationBound:
    """The location bound of a solved alignment: every unit (or each of ``candidates``) a possible base.

    ``problem`` is the alignment model's data (load in average territories, bands, penalty) and
    ``distance`` its units x bases distances; the ascent starts from ``u_i = w_i d(i, nearest base)``.
    """
    inst = LocationInstance(load=problem.load, lat=units.lat, lon=units.lon, xy=units.xy,
                            candidates=np.arange(len(problem.load)) if candidates is None else candidates,
                            territories=len(problem.lower), lower=float(problem.lower.min()),
                            upper=float(problem.upper.max()), penalty=problem.penalty, distance=kind)
    start = problem.load * distance.min(axis=1)
    return location_bound(inst, start, objective, min(time_limit * TIME_SHARE, MAX_SECONDS), ITERATIONS,
                          PAIR_WORK)


def summary_fields(scenario, units, problem, distance: np.ndarray, solution, candidates: np.ndarray | None = None,
                   exact: float = math.nan) -> dict:
    """``summary.json``'s ``location_bound``, ``location_gap`` and what they cover, for a solved plan.

    ``exact`` is the location MIP's own bound when it held every unit-candidate pair (``territories.candidates``);
    the larger valid bound is kept, and never above the bound for the plan's own bases (the best plan with any
    bases is at most the best with these)."""
    found = bound_for_plan(units, problem, distance, solution.objective, scenario.solver.time_limit,
                           scenario.objective.distance, candidates)
    value, share = found.value, "several territories may share one"
    if math.isfinite(exact) and exact > value:
        value, share = exact, "one territory each (the location MIP over every pair proved it)"
    value = min(value, solution.bound)
    scope = ("every listed candidate a possible base" if candidates is not None else "every unit a possible base") \
        + f", {share}; same band and sharing, other rules relaxed"
    gap = relative_gap(solution.objective, value)
    return {"location_bound": value, "location_gap": None if math.isnan(gap) else gap,
            "location_bound_scope": scope,
            "location_search": {"method": "Lagrangian relaxation of location-allocation, subgradient ascent",
                                "iterations": found.iterations, "seconds": round(found.seconds, 3),
                                "pairs": found.pairs}}


GIVEN = {"location_bound": None, "location_gap": None,
         "location_bound_scope": "bases given in the scenario: the gap is for these bases"}


"""Heavy whole units made whole in the LP relaxation first: a strong-branching dive before the repair MIP.

Rounding the LP relaxation moves each split unit wholly to one of its territories. When split units are
heavy (a county of 0.3 average territories in a ±5 % band, whose width is 0.1), rounding pushes
territories far outside their band: on the national counties (3,108 x 100) 48 territories, and the
repair MIP over every unit that could help spent 13.6 s, 5 s of it in HiGHS's root cuts on the band
knapsacks, for a plan 0.85 % above the bound. So the heavy units are decided first, by the LP itself:

* a whole unit is **heavy** when its workload exceeds half the narrowest band's width (moving it
  across a border can take a territory from one edge of its band past the other);
* while a heavy unit is split in the LP solution, the heaviest such unit is tried in each of its
  territories: held there (its other columns at zero), the LP is re-solved from the last basis in the
  pricing session (milliseconds), and the territory of least LP value is kept (a strong-branching dive).
  A territory whose trial needs the elastic band is refused; a unit with every territory refused stays
  free;
* when no heavy unit is split, only light units are: rounding them moves less than half a band, and
  the repair MIP (``optimizer.alignment.solve.align``) works with the heavy units held where the dive put them, so its
  knapsacks are over light units only.

Measured on the national counties: x100 dive 2.1 s (97 units held, LP 0.44 % above the relaxation), then
the repair MIP 3.2 s to a plan 0.89 % above the bound (before: 13.6 s, 0.85 %); x200 dive 4.9 s, repair
10.4 s, 0.88 % (before: 29 s to 1.6 %). The LP values of the dive are not bounds of the full model (units
are held); the certified bound stays the pricing LP's (``optimizer.alignment.solve.align``). The session's bounds are
restored when the dive ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.alignment.solve.pair_model import PairModel
from optimizer.alignment.solve.repair import nearest
from optimizer.alignment.solve.restricted import AlignmentProblem, Clock
from optimizer.solver.highs import SolverOptions

HEAVY_SHARE_OF_BAND = 0.5  # a whole unit heavier than this share of the narrowest band's width is dived on
SPLIT_EPS = 1e-6
ELASTIC_EPS = 1e-7  # elastic band columns above this: the held units leave some territory outside its band
REPAIR_NEAREST = 2  # nearest territories a light unit may move to in the repair MIP after the dive


@dataclass
class Dive:
    """The LP solution with every heavy unit whole (or refused), and where each held unit went."""

    shares: np.ndarray  # (N, K)
    held: np.ndarray  # (N,) territory a heavy unit is held in, -1 for every other unit
    refused: np.ndarray  # (N,) heavy units left free: every territory tried needed the elastic band
    objective: float  # LP value with the units held (not a bound of the full model)
    lp_solves: int
    reduced: np.ndarray | None  # (N, K) reduced costs of the last LP (None when no unit was held)

    @property
    def steps(self) -> int:
        return int((self.held >= 0).sum())


def heavy_units(problem: AlignmentProblem) -> np.ndarray:
    """Mask of the whole units heavier than half the narrowest band's width."""
    width = float(np.min(problem.upper - problem.lower))
    return ~problem.shared & (problem.load > HEAVY_SHARE_OF_BAND * width)


def split_heavy(problem: AlignmentProblem, shares: np.ndarray) -> np.ndarray:
    """Mask of the heavy units split by ``shares``."""
    return heavy_units(problem) & ((shares > SPLIT_EPS) & (shares < 1 - SPLIT_EPS)).any(axis=1)


def dive(model: PairModel, options: SolverOptions, clock: Clock, shares: np.ndarray, penalty: float,
         seconds: float) -> Dive:
    """Hold split heavy units whole, heaviest first, each where the re-solved LP is cheapest."""
    problem = model.problem
    deadline = time.perf_counter() + seconds
    held = np.full(len(shares), -1)
    refused = np.zeros(len(shares), bool)
    objective, solves, duals = float("nan"), 0, None
    try:
        while time.perf_counter() < deadline and clock.left() > 0:
            open_units = np.flatnonzero(split_heavy(problem, shares) & (held < 0) & ~refused)
            if open_units.size == 0:
                break
            unit = int(open_units[np.argmax(problem.load[open_units])])
            territory, result, tried = _cheapest_hold(model, options, clock, penalty, unit, shares[unit])
            solves += tried
            if territory is None:
                refused[unit] = True
                continue
            if result.values is None:  # out of time while putting the unit back where it was cheapest
                model.hold(unit, None)
                break
            held[unit] = territory
            shares, objective, duals = model.shares(result.values), result.objective, result.row_duals
    finally:
        for unit in np.flatnonzero(held >= 0):
            model.hold(int(unit), None)
    # reduced costs of the LP with the units held: what the repair MIP's pairs follow
    reduced = model.reduced_costs(duals) if duals is not None else None
    return Dive(shares=shares, held=held, refused=refused, objective=objective, lp_solves=solves, reduced=reduced)


def _cheapest_hold(model: PairModel, options: SolverOptions, clock: Clock, penalty: float, unit: int,
                   unit_shares: np.ndarray):
    """Try ``unit`` held in each territory it has a share in; leave it held in the one of least LP value.

    Returns ``(territory, LP result there, LP solves)``, or ``(None, None, solves)`` with the unit free
    again when every territory needs the elastic band."""
    best, solves = None, 0
    candidates = np.flatnonzero(unit_shares > SPLIT_EPS)
    for territory in candidates[np.argsort(unit_shares[candidates])]:  # the largest share (often best) last
        model.hold(unit, int(territory))
        result = model.solve_lp(options, clock, penalty)
        solves += 1
        if result.values is None or result.values[model.size:].max(initial=0.0) > ELASTIC_EPS:
            continue
        if best is None or result.objective < best[1].objective:
            best = (int(territory), result)
    if best is None:
        model.hold(unit, None)
        return None, None, solves
    if best[0] != territory:  # the session holds the last territory tried: move the unit back
        model.hold(unit, best[0])
        return best[0], model.solve_lp(options, clock, penalty), solves + 1
    return best[0], best[1], solves


def repair_pairs_after_dive(problem: AlignmentProblem, plan: np.ndarray, dived: Dive) -> np.ndarray:
    """Pairs of the repair MIP after a dive: held units only where they are held; every other whole unit
    its plan territory, its LP territories and its ``REPAIR_NEAREST`` of least reduced cost in the dive's
    last LP (nearest when no unit was held); shared units every pair.

    Reduced costs rather than distance: on the national counties x100 / x200 the MIP found a plan 0.84 % /
    0.89 % above the bound in 2.6 s / 6.0 s with them, 0.89 % / 0.94 % in 3.3 s / 6.8 s with distance."""
    guide = dived.reduced if dived.reduced is not None else problem.distance_km
    pairs = nearest(guide, REPAIR_NEAREST) | (plan > 0) | (dived.shares > SPLIT_EPS)
    pairs[problem.shared] = True
    units = np.flatnonzero(dived.held >= 0)
    pairs[units] = False
    pairs[units, dived.held[units]] = True
    return pairs

r"""A connected plan from any plan: keep each territory's anchored piece, regrow the rest, repair the band.

The contiguity rounds of ``optimizer.alignment.solve.rules`` give valid bounds but, on large instances, plans that
stay in pieces for many rounds. This heuristic turns any plan (a round's MIP plan, or the rounded LP)
into one where every territory is connected on the unit adjacency graph (declared links included), so the
rounds have an incumbent from the first seconds on. Each step keeps every territory connected:

1. **Anchor.** A territory's base unit and the units locked to it are its anchors: a whole anchor is put
   in it, a shared one keeps at least ``root_share`` of itself there.
2. **Cut pieces off.** Of the sub-graph each territory induces, the component holding the base (else the
   heaviest) is kept; every other piece is cut off. A split (shared) unit in a cut-off piece hands its
   share to its other territories.
3. **Regrow** (Dijkstra-like): the cheapest pair (unit ``i``, territory ``t``) with ``i`` cut off and next to
   a unit of ``t`` is assigned first, with a surcharge when ``t`` would leave its band; a unit joining a
   territory it borders keeps that territory connected.
4. **Balance repair** while a hard band is broken, by moves that keep every territory connected: a
   boundary unit moves between adjacent territories (``i: t -> u``, ``i`` next to ``u``, ``t \ {i}`` still
   connected: a local articulation test), the move of least cost increase per unit of violation removed
   first; else workload is pushed along the shortest chain of adjacent territories to one with room; else
   workload is evened out around the broken bands (moves lowering ``sum_t (L_t - c_t)^2``) so full
   neighbours make room; else a least-total-flow LP over the territory graph says how much must cross
   each border and boundary units follow it; else a move may cut its donor, the cut-off part regrown.
   Shared units' shares are re-optimised by a small LP (whole units fixed, least violation then least
   cost). When this descent sticks, a random move around a broken band and a new descent are tried,
   keeping the least violated state (iterated local search).
5. **Improve** the objective with the same connected moves, swaps of two units between two adjacent
   territories, and pairs (an improving move that breaks a band, then the cheapest move that mends it),
   never breaking a band that holds.

Shared units are share rows moved by the share LP only (which may also give them a share in a territory
they border). Locks, together groups and base units never move; apart groups are never joined; further
bands and a move budget count as band violation and a move penalty as cost. The result is checked for
connectivity and every rule before it is returned (a plan still outside a band is returned marked so).
The heuristic proves nothing: it only supplies plans, the MIP rounds supply the bound.

Modules: the plan state and its moves in ``optimizer.alignment.contiguity.state``; steps 1-3 in
``optimizer.alignment.contiguity.regrow``, step 4 in ``optimizer.alignment.contiguity.balance``, step 5 in
``optimizer.alignment.contiguity.improve`` (each a subclass of the one before); this module runs them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optimizer.areas.adjacency import components
from optimizer.alignment.contiguity.improve import Improving
from optimizer.alignment.contiguity.state import BAND_EPS, SPLIT_EPS

BALANCE_SHARE = 0.8  # of the time given, at most this share goes to the band; the rest improves the cost


@dataclass
class Repaired:
    """A connected plan that meets every rule, and how it was found."""

    grid: np.ndarray
    objective: float
    seconds: float
    moves: int
    outside: float = 0.0  # hard band (and budget) violation left: 0 for a plan of the model
    violated: tuple[int, ...] = ()  # territories outside their band

    @property
    def feasible(self) -> bool:
        return self.outside <= 0.0


def rules_objective(problem, rules, grid: np.ndarray) -> float:
    """The rules model's objective of a share grid: travel, soft-band penalty and move penalty."""
    value = problem.plan_cost(grid)
    if rules.current is not None and rules.move_penalty:
        value += rules.move_penalty * float(_moved(rules, grid))
    return value


def _moved(rules, grid: np.ndarray) -> float:
    kept = np.where(rules.current >= 0, grid[np.arange(len(grid)), np.maximum(rules.current, 0)], 0.0)
    return float((rules.moved_weight * (1.0 - kept)).sum())


def connected_plan(problem, rules, grid: np.ndarray, seconds: float, root_share: float) -> Repaired | None:
    """A connected plan built from ``grid`` meeting every rule, or every rule but the bands (``outside > 0``,
    for a caller that can re-solve around ``violated``); ``None`` if no such plan was found in ``seconds``."""
    began = time.perf_counter()
    deadline = began + seconds
    state = Improving(problem, rules, grid, root_share)
    for _ in range(4):
        state.anchor()
        state.cut_pieces()
        state.regrow()
        if state.all_connected():
            break
    if not state.all_connected():
        return None
    state.balance(began + BALANCE_SHARE * seconds)
    state.improve(deadline)
    plan = state.grid()
    if not state.valid(band=False):
        return None
    outside = state.total_violation()
    outside = 0.0 if outside <= BAND_EPS else outside
    return Repaired(plan, rules_objective(problem, rules, plan), time.perf_counter() - began, state.moves, outside,
                    tuple(state._violated()) if outside else ())


def is_connected_plan(grid: np.ndarray, neighbours: list[np.ndarray]) -> bool:
    """True when every territory's units (any share) form one connected piece."""
    return all(len(components(np.flatnonzero(grid[:, t] > SPLIT_EPS), neighbours)) <= 1
               for t in range(grid.shape[1]) if (grid[:, t] > SPLIT_EPS).any())



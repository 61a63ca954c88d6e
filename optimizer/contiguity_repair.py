r"""A connected plan from any plan: keep each territory's anchored piece, regrow the rest, repair the band.

The contiguity rounds of ``optimizer.align_rules`` give valid bounds but, on large instances, plans that
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
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_array, hstack, vstack

from optimizer.adjacency import components

EPS = 1e-9
SPLIT_EPS = 1e-6
GROW_SURCHARGE = 1e6  # cost added in the regrowth for a territory pushed out of its band
CHAIN_DEPTH = 12  # longest chain of territories a balance push may use
DESCENT_STEPS = 2_000  # steps of one descent of the balance repair
DIFFUSE_HOPS = 3  # territories this far from a broken band help even out the workload
COMPOUND_TRIES = 20  # moves tried per stuck territory that may cut its donor
BAND_EPS = 1e-7  # band violation taken as none
FLOW_AIM = 0.5  # the flow LP aims this share of each half-band inside the band
BALANCE_SHARE = 0.8  # of the time given, at most this share goes to the band; the rest improves the cost
LP_MARGIN = 1e-7  # the share LP aims this far inside each band, so renormalised shares stay inside


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
    state = _State(problem, rules, grid, root_share)
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


class _State:
    """Owners of whole units, fixed shares of split units, members and totals per territory."""

    def __init__(self, problem, rules, grid: np.ndarray, root_share: float) -> None:
        n, k = grid.shape
        self.problem, self.rules, self.root_share, self.moves = problem, rules, root_share, 0
        self.nbr = [a.tolist() for a in rules.neighbours]
        lens = np.array([len(a) for a in self.nbr])
        self.edge_src = np.repeat(np.arange(n), lens)
        self.edge_dst = np.concatenate(rules.neighbours).astype(int) if n else np.zeros(0, int)
        self.allowed = rules.allowed
        self.shares = np.where(problem.shared[:, None], np.where(grid > SPLIT_EPS, grid, 0.0), 0.0)
        self.shares[problem.shared] /= self.shares[problem.shared].sum(axis=1, keepdims=True)
        self.split = problem.shared.copy()  # shared units live as share rows, moved by the share LP only
        self.shared_idx = np.flatnonzero(problem.shared)
        self.owner = np.where(self.split, -1, np.argmax(grid, axis=1))
        self.fixed = np.zeros(n, bool)  # never moved: bases, locks, together groups
        for t, r in enumerate(rules.roots):
            if r >= 0:
                self.fixed[r] = True
        for u in rules.locks:
            self.fixed[u] = True
        for group in rules.together:
            self.fixed[group] = True
        self.grouped = np.zeros(n, bool)  # in a together or apart group
        for group in rules.together + rules.apart:
            self.grouped[group] = True
        self.apart_of = [[] for _ in range(n)]
        for g, group in enumerate(rules.apart):
            for u in group.tolist():
                self.apart_of[u].append(g)
        self.cost = problem.cost.copy()
        if rules.current is not None and rules.move_penalty:
            self.cost += rules.move_penalty * rules.moved_weight[:, None] * (
                np.arange(k)[None, :] != rules.current[:, None])
        rows = [(problem.load, problem.lower, problem.upper)]
        rows += [(per_unit, lower, upper) for _, per_unit, lower, upper in rules.extra_bands]
        self.weight = np.array([r[0] for r in rows], float)  # (R, N)
        self.lo = np.array([r[1] for r in rows], float)  # (R, K)
        self.hi = np.array([r[2] for r in rows], float)
        self.hard = np.ones(len(rows), bool)
        self.hard[0] = problem.penalty is None
        self.budget = rules.max_moved if rules.current is not None else None
        self._anchor_pairs = {(int(r), t) for t, r in enumerate(rules.roots) if r >= 0}
        self._anchor_pairs |= {(int(u), int(t)) for u, t in rules.locks.items()}
        self._rebuild()

    # ---- bookkeeping -------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        k = self.lo.shape[1]
        self.members = [set() for _ in range(k)]
        for i in np.flatnonzero(self.owner >= 0).tolist():
            self.members[self.owner[i]].add(i)
        for i in np.flatnonzero(self.split).tolist():
            for t in np.flatnonzero(self.shares[i] > SPLIT_EPS).tolist():
                self.members[t].add(i)
        self.totals = self._totals()

    def _totals(self) -> np.ndarray:
        """Each measure's total per territory, without a dense grid (sparse in the whole units)."""
        whole = np.flatnonzero(self.owner >= 0)
        k = self.lo.shape[1]
        totals = np.stack([np.bincount(self.owner[whole], weights=row[whole], minlength=k) for row in self.weight])
        return totals + self.weight[:, self.shared_idx] @ self.shares[self.shared_idx]

    def snapshot(self) -> tuple:
        return self.owner.copy(), self.shares[self.shared_idx].copy(), self.split.copy()

    def restore(self, saved: tuple) -> None:
        self.owner, self.split = saved[0].copy(), saved[2].copy()
        self.shares[self.shared_idx] = saved[1]
        self._rebuild()

    def grid(self) -> np.ndarray:
        plan = self.shares.copy()
        whole = np.flatnonzero(self.owner >= 0)
        plan[whole, self.owner[whole]] = 1.0
        return plan

    def territories_of(self, j: int) -> list[int]:
        if self.owner[j] >= 0:
            return [int(self.owner[j])]
        return list(np.flatnonzero(self.shares[j] > SPLIT_EPS)) if self.split[j] else []

    def _move(self, i: int, t: int, u: int) -> None:
        self._last = (i, t, u)
        self.owner[i] = u
        if t >= 0:
            self.members[t].discard(i)
            self.totals[:, t] -= self.weight[:, i]
        self.members[u].add(i)
        self.totals[:, u] += self.weight[:, i]
        self.moves += 1

    def _violation(self, totals: np.ndarray) -> np.ndarray:
        """Hard band violation per territory column of ``totals`` (R, m)."""
        lo, hi = self.lo[:, : totals.shape[1]], self.hi[:, : totals.shape[1]]
        over = np.maximum(lo - totals, 0.0) + np.maximum(totals - hi, 0.0)
        return (over * self.hard[:, None]).sum(axis=0)

    def _territory_violation(self) -> np.ndarray:
        return self._violation_at(self.totals, np.arange(self.lo.shape[1]))

    def _violation_at(self, totals: np.ndarray, cols: np.ndarray) -> np.ndarray:
        over = np.maximum(self.lo[:, cols] - totals, 0.0) + np.maximum(totals - self.hi[:, cols], 0.0)
        return (over * self.hard[:, None]).sum(axis=0)

    def _budget_excess(self, moved: float) -> float:
        return max(moved - self.budget, 0.0) if self.budget is not None else 0.0

    def _moved_now(self) -> float:
        if self.rules.current is None:
            return 0.0
        cur = self.rules.current
        kept = np.where(self.owner >= 0, self.owner == cur, False).astype(float)
        shared = self.shared_idx[cur[self.shared_idx] >= 0]
        kept[shared] = self.shares[shared, cur[shared]]
        return float((self.rules.moved_weight * (1.0 - kept)).sum())

    def deltas(self, units: np.ndarray, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Change of hard violation and of cost when each ``units[m]`` moves ``src[m] -> dst[m]``."""
        w = self.weight[:, units]
        before = self._violation_at(self.totals[:, src], src) + self._violation_at(self.totals[:, dst], dst)
        after = (self._violation_at(self.totals[:, src] - w, src)
                 + self._violation_at(self.totals[:, dst] + w, dst))
        d_cost = self.cost[units, dst] - self.cost[units, src]
        if not self.hard[0]:
            soft = lambda x, c: np.maximum(self.lo[0, c] - x, 0.0) + np.maximum(x - self.hi[0, c], 0.0)  # noqa: E731
            d_out = (soft(self.totals[0, src] - w[0], src) + soft(self.totals[0, dst] + w[0], dst)
                     - soft(self.totals[0, src], src) - soft(self.totals[0, dst], dst))
            d_cost = d_cost + self.problem.penalty * d_out
        d_viol = after - before
        if self.budget is not None:
            cur = self.rules.current[units]
            change = self.rules.moved_weight[units] * ((src == cur).astype(float) - (dst == cur))
            moved = self._moved_now()
            d_viol = d_viol + np.array([self._budget_excess(moved + c) for c in change]) - self._budget_excess(moved)
        return d_viol, d_cost

    # ---- legality ----------------------------------------------------------------------------------
    def may_join(self, i: int, u: int) -> bool:
        if not self.allowed[i, u]:
            return False
        return not any(self._group_in(g, u, i) for g in self.apart_of[i])

    def _group_in(self, g: int, u: int, besides: int) -> bool:
        return any(v != besides and v in self.members[u] for v in self.rules.apart[g].tolist())

    def stays_connected(self, t: int, i: int) -> bool:
        """True when territory ``t`` without unit ``i`` is non-empty and connected (``t`` connected now)."""
        mem = self.members[t]
        near = [j for j in self.nbr[i] if j in mem]
        if len(mem) <= 1 or not near:
            return False
        if len(near) == 1:
            return True
        targets, seen, stack = set(near[1:]), {i, near[0]}, [near[0]]
        while stack:
            for y in self.nbr[stack.pop()]:
                if y in mem and y not in seen:
                    if y in targets:
                        targets.discard(y)
                        if not targets:
                            return True
                    seen.add(y)
                    stack.append(y)
        return not targets

    def _connected_set(self, mem: set) -> bool:
        if not mem:
            return False
        start = next(iter(mem))
        seen, stack = {start}, [start]
        while stack:
            for y in self.nbr[stack.pop()]:
                if y in mem and y not in seen:
                    seen.add(y)
                    stack.append(y)
        return len(seen) == len(mem)

    def all_connected(self) -> bool:
        return (self.owner >= -1).all() and not (self.owner[~self.split] < 0).any() and all(
            self._connected_set(m) for m in self.members)

    # ---- steps 1-3: anchors, pieces, regrowth ------------------------------------------------------
    def anchor(self) -> None:
        wanted = [(int(r), t) for t, r in enumerate(self.rules.roots) if r >= 0]
        wanted += [(int(u), int(t)) for u, t in self.rules.locks.items()]
        for unit, t in wanted:
            if self.problem.shared[unit]:
                self._keep_share(unit, t)
            elif self.owner[unit] != t:
                self.owner[unit] = t
        self._rebuild()

    def _keep_share(self, unit: int, t: int) -> None:
        if not self.split[unit]:  # cut off earlier and not regrown: put it back as a share row
            self.shares[unit] = 0.0
            self.shares[unit, max(int(self.owner[unit]), 0) if self.owner[unit] >= 0 else t] = 1.0
            self.owner[unit], self.split[unit] = -1, True
        row = self.shares[unit]
        if row[t] >= self.root_share:
            return
        give = int(np.argmax(np.where(np.arange(len(row)) == t, -1.0, row)))
        row[give] -= self.root_share - row[t]
        row[t] = self.root_share

    def _anchors(self, t: int) -> set:
        found = {int(self.rules.roots[t])} if self.rules.roots[t] >= 0 else set()
        return found | {u for u, lt in self.rules.locks.items() if lt == t}

    def cut_pieces(self) -> None:
        for t, mem in enumerate(self.members):
            if not mem:
                continue
            pieces = components(np.fromiter(mem, int), self.rules.neighbours)
            if len(pieces) <= 1:
                continue
            anchors = self._anchors(t)
            kept = [p for p in pieces if anchors & set(p.tolist())]
            if not kept:
                kept = [max(pieces, key=lambda p: float(self.weight[0, p].sum()))]
            keep = set(np.concatenate(kept).tolist())
            for i in mem - keep:
                if self.split[i]:
                    self._drop_share(i, t)
                else:
                    self.owner[i] = -2  # cut off: regrown below
        self._rebuild()

    def _drop_share(self, i: int, t: int) -> None:
        """A shared unit cut off from ``t`` hands its share to its other territories, or is regrown whole."""
        row = self.shares[i]
        others = np.flatnonzero((row > SPLIT_EPS) & (np.arange(len(row)) != t))
        if others.size:
            row[others[np.argmax(row[others])]] += row[t]
            row[t] = 0.0
        else:
            self.owner[i], self.split[i], self.shares[i] = -2, False, 0.0

    def regrow(self) -> None:
        """Assign every cut-off unit (owner -2) by cheapest adjacent pair, band overflow surcharged."""
        heap: list = []
        for i in np.flatnonzero(self.owner == -2).tolist():
            self._push(heap, i)
        while heap:
            key, i, u = heapq.heappop(heap)
            if self.owner[i] != -2:
                continue
            now = self._grow_key(i, u)
            if now > key + EPS:
                heapq.heappush(heap, (now, i, u))
                continue
            self._move(i, -1, u)
            for j in self.nbr[i]:
                if self.owner[j] == -2:
                    self._push(heap, j)
        stranded = np.flatnonzero(self.owner == -2)
        for i in stranded.tolist():  # no territory next to it may take it: nearest allowed, checked later
            self.owner[i] = int(np.argmin(np.where(self.allowed[i], self.cost[i], np.inf)))
        regrown = np.flatnonzero(self.problem.shared & (self.owner >= 0))
        self.shares[regrown, self.owner[regrown]] = 1.0
        self.owner[regrown], self.split[regrown] = -1, True
        self._rebuild()

    def _grow_key(self, i: int, u: int) -> float:
        over = self.totals[0, u] + self.weight[0, i] - self.hi[0, u]
        return float(self.cost[i, u]) + (GROW_SURCHARGE * max(over, 0.0) if self.hard[0] else 0.0)

    def _push(self, heap: list, i: int) -> None:
        for j in self.nbr[i]:
            for u in self.territories_of(j):
                if self.may_join(i, u):
                    heapq.heappush(heap, (self._grow_key(i, u), i, u))

    # ---- step 4: balance repair --------------------------------------------------------------------
    def _candidates(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Connected-looking moves touching ``t``: its boundary units out, neighbours' boundary units in."""
        units, src, dst = [], [], []
        for i in self.members[t]:
            for j in self.nbr[i]:
                if j in self.members[t]:
                    continue
                if not self.fixed[i] and not self.split[i]:
                    for u in self.territories_of(j):
                        units.append(i), src.append(t), dst.append(u)
                if self.owner[j] >= 0 and not self.fixed[j]:
                    units.append(j), src.append(int(self.owner[j])), dst.append(t)
        if not units:
            return np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)
        moves = np.unique(np.array([units, src, dst]).T, axis=0)
        return moves[:, 0], moves[:, 1], moves[:, 2]

    def _try(self, units, src, dst, order) -> bool:
        for m in order.tolist():
            i, t, u = int(units[m]), int(src[m]), int(dst[m])
            if self.owner[i] == t and self.may_join(i, u) and self.stays_connected(t, i):
                self._move(i, t, u)
                return True
        return False

    def total_violation(self) -> float:
        return float(self._territory_violation().sum()) + self._budget_excess(self._moved_now())

    def rebalance_shares(self) -> None:
        """LP over the split units' shares, whole units fixed: least band violation first, then least cost.

        Each split unit keeps every territory it is in (at least ``min(share, root_share)``, anchors at least
        ``root_share``), so no territory's membership, hence connectivity, changes.
        """
        split = np.flatnonzero(self.split)
        if not split.size:
            return
        pairs = {(int(i), int(t)) for i in split.tolist() for t in self.territories_of(i)}
        for i in split.tolist():
            if not self.grouped[i]:  # may spread to territories it borders
                pairs |= {(i, t) for j in self.nbr[i] for t in self.territories_of(j) if self.allowed[i, t]}
        unit, terr = np.array(sorted(pairs)).T
        m, (r, k) = len(unit), self.lo.shape
        current = self.shares[unit, terr]
        anchored = np.array([(int(u), int(t)) in self._anchor_pairs for u, t in zip(unit, terr)], bool)
        lower = np.where(anchored, self.root_share, np.minimum(current, self.root_share))
        base = self.totals - self.weight[:, split] @ self.shares[split]  # (R, K) of the whole units
        rows = np.arange(r * k).reshape(r, k)
        w = coo_array((self.weight[:, unit].ravel(), (rows[:, terr].ravel(), np.tile(np.arange(m), r))),
                      shape=(r * k, m))
        eye = coo_array((np.ones(r * k), (np.arange(r * k), np.arange(r * k))))
        a_up = hstack([w, eye, -eye])  # sum w x + under - over <= hi - base
        a_lo = hstack([-w, -eye, eye])  # -(sum w x + under - over) <= -(lo - base)
        penalty = np.where(self.hard, 1e6, self.problem.penalty or 0.0)
        cost = np.concatenate([self.cost[unit, terr], np.repeat(penalty, k), np.repeat(penalty, k)])
        eq = coo_array((np.ones(m), (np.searchsorted(split, unit), np.arange(m))), shape=(len(split), 2 * r * k + m))
        res = linprog(cost, A_ub=vstack([a_up, a_lo]), b_ub=np.concatenate([(self.hi - LP_MARGIN - base).ravel(),
                                                                             -(self.lo + LP_MARGIN - base).ravel()]),
                      A_eq=eq, b_eq=np.ones(len(split)),
                      bounds=np.concatenate([np.c_[lower, np.ones(m)], np.c_[np.zeros(2 * r * k),
                                                                           np.full(2 * r * k, np.inf)]]),
                      method="highs")
        if res.status != 0:
            return
        before = (self.total_violation(), float((self.cost[unit, terr] * current).sum()))
        saved = self.snapshot()
        value = np.clip(res.x[:m], lower, 1.0)
        value[(value < SPLIT_EPS * 10) & (current <= SPLIT_EPS)] = 0.0  # a new territory given ~nothing: none
        self.shares[unit, terr] = value
        self.shares[split] /= self.shares[split].sum(axis=1, keepdims=True)
        self._rebuild()
        after = (self.total_violation(), float((self.cost[unit, terr] * self.shares[unit, terr]).sum()))
        if after[0] > before[0] + EPS or (after[0] > before[0] - EPS and after[1] > before[1] + EPS):
            self.restore(saved)

    def balance(self, deadline: float) -> None:
        """Descend (see :meth:`_descend`); while a band is still broken, perturb around a broken territory
        (a random move, possibly cutting its donor, the cut-off part regrown) and descend again, keeping
        the least violated state (iterated local search)."""
        self.rebalance_shares()
        self._descend(deadline)
        best = (self.total_violation(), self.snapshot())
        rng = np.random.default_rng(0)
        while time.perf_counter() < deadline and best[0] > EPS:
            violated = self._violated()
            if not any(self._perturb(t, rng) for t in rng.permutation(violated).tolist()):
                break
            self._descend(deadline)
            now = self.total_violation()
            if now < best[0] - EPS:
                best = (now, self.snapshot())
            else:
                self.restore(best[1])

    def _violated(self) -> list[int]:
        viol = self._territory_violation()
        if self.budget is not None and self._budget_excess(self._moved_now()) > EPS:
            viol = viol + EPS * 10  # every territory may help the budget
        return [int(t) for t in np.argsort(-viol) if viol[t] > EPS]

    def _descend(self, deadline: float) -> None:
        """Moves of least cost per unit of violation removed; when none helps, a chain push, then
        evening out the workload around the broken bands, then a move that may cut its donor."""
        for _ in range(DESCENT_STEPS):
            worst = self._violated()
            if not worst or time.perf_counter() > deadline:
                return
            t = worst[0]
            if not (self._direct(t) or self._chain(t) or self._diffuse(worst) or self._flow()
                    or self._compound(t)):
                return

    def _perturb(self, t: int, rng: np.random.Generator) -> bool:
        units, src, dst = self._candidates(t)
        for m in rng.permutation(len(units)).tolist():
            i, a, b = int(units[m]), int(src[m]), int(dst[m])
            if self.owner[i] != a or not self.may_join(i, b):
                continue
            if self.stays_connected(a, i):
                self._move(i, a, b)
                return True
            if rng.random() < 0.5:
                saved = self.snapshot()
                self._move(i, a, b)
                self.cut_pieces()
                self.regrow()
                if self.all_connected():
                    return True
                self.restore(saved)
        return False

    def _diffuse(self, violated: list[int]) -> bool:
        """Even out workload near the broken bands: moves that lower ``sum_t (L_t - c_t)^2`` (``c_t`` the
        band's centre) without adding violation, over territories up to ``DIFFUSE_HOPS`` from a broken one,
        so full neighbours make room. At most one move per territory per call; then the share LP."""
        graph, _ = self._territory_graph()
        region, frontier = set(violated), set(violated)
        for _ in range(DIFFUSE_HOPS):
            frontier = {y for x in frontier for y in graph[x]} - region
            region |= frontier
        units, src, dst = self._boundary_moves()
        inside = np.isin(src, list(region)) & np.isin(dst, list(region))
        units, src, dst = units[inside], src[inside], dst[inside]
        if not units.size:
            return False
        w, centre = self.weight[0, units], 0.5 * (self.lo[0] + self.hi[0])
        d_square = 2 * w * ((self.totals[0, dst] - centre[dst]) - (self.totals[0, src] - centre[src]) + w)
        d_viol, _ = self.deltas(units, src, dst)
        good = np.flatnonzero((d_viol <= EPS) & (d_square < -EPS))
        busy, applied = set(), 0
        for m in good[np.argsort(d_square[good])].tolist():
            i, a, b = int(units[m]), int(src[m]), int(dst[m])
            if a in busy or b in busy or self.owner[i] != a:
                continue
            if self.may_join(i, b) and self.stays_connected(a, i):
                self._move(i, a, b)
                busy |= {a, b}
                applied += 1
        if applied:
            self.rebalance_shares()
        return applied > 0

    def _flow(self) -> bool:
        """Route workload between adjacent territories as a least-total-flow LP says every band needs (aiming
        ``FLOW_AIM`` of the half-band inside), then move boundary units along each edge with flow; kept
        only if the total violation drops. Regional surpluses need flows along many paths at once."""
        if not self.hard[0]:
            return False
        graph, _ = self._territory_graph()
        edges = np.array([(a, b) for a in range(len(graph)) for b in graph[a]], int).reshape(-1, 2)
        if not edges.size:
            return False
        k, m = self.lo.shape[1], len(edges)
        load, lo, hi = self.totals[0], self.lo[0], self.hi[0]
        aim = FLOW_AIM * 0.5 * (hi - lo)
        net = coo_array((np.r_[-np.ones(m), np.ones(m)], (np.r_[edges[:, 0], edges[:, 1]],
                                                          np.r_[np.arange(m), np.arange(m)])), shape=(k, m))
        eye = coo_array((np.ones(k), (np.arange(k), np.arange(k))), shape=(k, k))
        zero = coo_array((k, k))
        a_up = hstack([net, -eye, zero])  # load + net - excess <= hi - aim
        a_lo = hstack([-net, zero, -eye])  # load + net + shortfall >= lo + aim
        res = linprog(np.r_[np.ones(m), np.full(2 * k, 1e4)], A_ub=vstack([a_up, a_lo]),
                      b_ub=np.r_[hi - aim - load, load - lo - aim], bounds=(0, None), method="highs")
        if res.status != 0:
            return False
        flow = res.x[:m]
        before, saved = self.total_violation(), self.snapshot()
        for e in np.argsort(-flow).tolist():
            left = flow[e]
            while left > 0.5 * self.weight[0].mean() and left > EPS:
                moved = self._push_one(int(edges[e, 0]), int(edges[e, 1]), left)
                if moved is None or self.weight[0, moved] > 1.5 * left + EPS:
                    if moved is not None:
                        self._move(moved, int(edges[e, 1]), int(edges[e, 0]))
                    break
                left -= self.weight[0, moved]
        self.rebalance_shares()
        if self.total_violation() < before - EPS:
            return True
        self.restore(saved)
        return False

    def _compound(self, t: int, tries: int = COMPOUND_TRIES) -> bool:
        """A move that may cut its donor in two, the cut-off part regrown into its neighbours (step 3);
        kept only if the total violation drops."""
        units, src, dst = self._candidates(t)
        if not units.size:
            return False
        d_viol, _ = self.deltas(units, src, dst)
        before = self.total_violation()
        for m in np.argsort(d_viol, kind="stable")[:tries].tolist():
            i, a, b = int(units[m]), int(src[m]), int(dst[m])
            if self.owner[i] != a or not self.may_join(i, b):
                continue
            saved = self.snapshot()
            self._move(i, a, b)
            self.cut_pieces()
            self.regrow()
            if self.all_connected() and self.total_violation() < before - EPS:
                return True
            self.restore(saved)
        return False

    def _direct(self, t: int) -> bool:
        units, src, dst = self._candidates(t)
        if not units.size:
            return False
        d_viol, d_cost = self.deltas(units, src, dst)
        good = np.flatnonzero(d_viol < -EPS)
        ratio = d_cost[good] / -d_viol[good]
        return self._try(units, src, dst, good[np.argsort(ratio, kind="stable")])

    def _territory_graph(self) -> tuple[list[set], set]:
        """Adjacent territories; the second set holds the pairs that touch through a split unit (the share
        LP can move workload across those)."""
        a, b = self.owner[self.edge_src], self.owner[self.edge_dst]
        keep = (a >= 0) & (b >= 0) & (a != b)
        graph = [set() for _ in range(self.lo.shape[1])]
        for x, y in zip(a[keep].tolist(), b[keep].tolist()):
            graph[x].add(y)
        by_share = set()
        for i in np.flatnonzero(self.split).tolist():
            inside = self.territories_of(i)
            around = {u for j in self.nbr[i] for u in self.territories_of(j)} | set(inside)
            by_share |= {(x, y) for x in inside for y in around if x != y}
        for x, y in by_share:
            graph[x].add(y)
            graph[y].add(x)
        return graph, by_share | {(y, x) for x, y in by_share}

    def _chain(self, t: int) -> bool:
        """Push workload out of (or into) ``t`` along the shortest chain to a territory with room; a link
        of the chain through a split unit is left to the share LP."""
        if not self.hard[0]:
            return False
        load, lo, hi = self.totals[0], self.lo[0], self.hi[0]
        outward = load[t] > hi[t] + EPS
        if not outward and load[t] >= lo[t] - EPS:
            return False
        margin = 0.25 * (hi[t] - lo[t])
        need = (load[t] - hi[t] + margin) if outward else (lo[t] - load[t] + margin)
        room = (hi - load) if outward else (load - lo)
        graph, by_share = self._territory_graph()
        path = self._path(graph, t, room >= need)
        if path is None:
            return False
        before, done, saved, via_share = self.total_violation(), [], self.snapshot(), False
        steps = list(zip(path[:-1], path[1:]))  # outward: units flow path[m] -> path[m+1]
        for a, b in reversed(steps):
            donor, taker = (a, b) if outward else (b, a)
            moved = self._push_one(donor, taker, need)
            if moved is None and (donor, taker) in by_share:
                via_share = True
                continue
            if moved is None:
                break
            done.append((moved, donor, taker))
        if via_share:
            self.rebalance_shares()
        if self.total_violation() < before - EPS:
            return True
        for i, donor, taker in reversed(done):
            self._move(i, taker, donor)
        if via_share:
            self.restore(saved)
        return False

    @staticmethod
    def _path(graph: list[set], t: int, has_room: np.ndarray) -> list[int] | None:
        parent, frontier = {t: -1}, [t]
        for _ in range(CHAIN_DEPTH):
            nxt = []
            for x in frontier:
                for y in graph[x]:
                    if y in parent:
                        continue
                    parent[y] = x
                    if has_room[y]:
                        path = [y]
                        while parent[path[-1]] != -1:
                            path.append(parent[path[-1]])
                        return path[::-1]
                    nxt.append(y)
            frontier = nxt
        return None

    def _push_one(self, donor: int, taker: int, need: float) -> int | None:
        """Move the donor's boundary unit next to ``taker`` whose workload best matches ``need``."""
        found = [i for i in self.members[donor] if not self.fixed[i] and not self.split[i]
                 and any(j in self.members[taker] for j in self.nbr[i])]
        if not found:
            return None
        units = np.array(found)
        d_cost = self.cost[units, taker] - self.cost[units, donor]
        spread = float(np.ptp(d_cost)) or 1.0
        key = np.abs(self.weight[0, units] - need) / max(need, EPS) + 0.2 * (d_cost - d_cost.min()) / spread
        for m in np.argsort(key).tolist():
            i = int(units[m])
            if self.may_join(i, taker) and self.stays_connected(donor, i):
                self._move(i, donor, taker)
                return i
        return None

    # ---- step 5: improvement -----------------------------------------------------------------------
    def improve(self, deadline: float) -> None:
        while time.perf_counter() < deadline:
            if not (self._improving_moves(deadline) + self._improving_swaps(deadline)
                    + self._improving_pairs(deadline)):
                break
        self.rebalance_shares()

    def _boundary_moves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src_unit, dst_unit = self.edge_src, self.edge_dst
        a, b = self.owner[src_unit], self.owner[dst_unit]
        keep = (a >= 0) & (b >= 0) & (a != b) & ~self.fixed[src_unit]
        moves = np.unique(np.array([src_unit[keep], a[keep], b[keep]]).T, axis=0)
        if not moves.size:
            return np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)
        return moves[:, 0], moves[:, 1], moves[:, 2]

    def _improving_moves(self, deadline: float) -> int:
        units, src, dst = self._boundary_moves()
        if not units.size:
            return 0
        gain = self.cost[units, dst] - self.cost[units, src]
        applied = 0
        for m in np.argsort(gain).tolist():
            if gain[m] >= -EPS or time.perf_counter() > deadline:
                break
            i, t, u = int(units[m]), int(src[m]), int(dst[m])
            if self.owner[i] != t or not any(j in self.members[u] for j in self.nbr[i]):
                continue
            d_viol, d_cost = self.deltas(units[m: m + 1], src[m: m + 1], dst[m: m + 1])
            if d_viol[0] <= EPS and d_cost[0] < -EPS and self.may_join(i, u) and self.stays_connected(t, i):
                self._move(i, t, u)
                applied += 1
        return applied

    def _improving_swaps(self, deadline: float) -> int:
        """Swap ``i: t -> u`` with ``j: u -> t`` when the pair lowers the cost and every band still holds."""
        units, src, dst = self._boundary_moves()
        gain = self.cost[units, dst] - self.cost[units, src]
        applied = 0
        for m in np.flatnonzero(gain < -EPS)[np.argsort(gain[gain < -EPS])].tolist():
            if time.perf_counter() > deadline:
                break
            i, t, u = int(units[m]), int(src[m]), int(dst[m])
            if self.owner[i] != t or not self.may_join(i, u):
                continue
            partner = self._best_partner(i, t, u)
            if partner is not None:
                self._move(i, t, u)
                self._move(partner, u, t)
                applied += 1
        return applied

    def _improving_pairs(self, deadline: float) -> int:
        """An improving move that breaks a band, followed by the cheapest move that mends it (out of the
        territory it overloaded or into the one it emptied, to or from any neighbour); kept if the pair
        lowers the cost. Swaps are the special case where the second move goes back."""
        units, src, dst = self._boundary_moves()
        gain = self.cost[units, dst] - self.cost[units, src]
        applied = 0
        for m in np.flatnonzero(gain < -EPS)[np.argsort(gain[gain < -EPS])].tolist():
            if time.perf_counter() > deadline:
                break
            i, t, u = int(units[m]), int(src[m]), int(dst[m])
            if self.owner[i] != t or not any(j in self.members[u] for j in self.nbr[i]):
                continue  # an earlier move changed its side of the border
            if self.split[i] or not self.may_join(i, u) or not self.stays_connected(t, i):
                continue
            before = self.total_violation()
            d_viol, d_cost = self.deltas(units[m: m + 1], src[m: m + 1], dst[m: m + 1])
            if d_cost[0] >= -EPS:
                continue
            self._move(i, t, u)
            if self._mend(t, u, before, float(d_cost[0])):
                applied += 1
            else:
                self._move(i, u, t)
        return applied

    def _mend(self, t: int, u: int, before: float, spent: float) -> bool:
        found = [self._candidates(x) for x in (u, t)]
        units = np.concatenate([f[0] for f in found])
        if not units.size:
            return False
        src, dst = np.concatenate([f[1] for f in found]), np.concatenate([f[2] for f in found])
        d_viol, d_cost = self.deltas(units, src, dst)
        now = self.total_violation()
        good = np.flatnonzero((now + d_viol <= before + EPS) & (spent + d_cost < -EPS))
        return self._try(units, src, dst, good[np.argsort(d_cost[good])])

    def _best_partner(self, i: int, t: int, u: int) -> int | None:
        near_t = {j for x in self.members[t] if x != i for j in self.nbr[x]}
        found = [j for j in self.members[u] if j in near_t and j != i and not self.fixed[j]
                 and not self.split[j] and self.may_join(j, t)]
        if not found:
            return None
        js = np.array(found)
        w = self.weight[:, [i]] - self.weight[:, js]  # net flow t -> u
        d_cost = (self.cost[i, u] - self.cost[i, t]) + self.cost[js, t] - self.cost[js, u]
        before = float(self._violation_at(self.totals[:, [t, u]], np.array([t, u])).sum())
        after = (self._violation_at(self.totals[:, [t]] - w, np.full(len(js), t))
                 + self._violation_at(self.totals[:, [u]] + w, np.full(len(js), u)))
        ok = (after <= before + EPS) & (d_cost < -EPS)
        if self.budget is not None or not self.hard[0]:
            ok &= False  # the swap's budget and soft-band effects are not counted: moves only
        for m in np.flatnonzero(ok)[np.argsort(d_cost[ok])].tolist():
            j = int(js[m])
            new_t = (self.members[t] - {i}) | {j}
            new_u = (self.members[u] - {j}) | {i}
            if self._connected_set(new_t) and self._connected_set(new_u):
                return j
        return None

    # ---- the final word ----------------------------------------------------------------------------
    def valid(self, band: bool = True) -> bool:
        plan = self.grid()
        if not self.all_connected() or (band and self.total_violation() > BAND_EPS):
            return False
        if not np.allclose(plan.sum(axis=1), 1.0, atol=1e-6) or (plan[~self.allowed & ~self.problem.shared[:, None]]
                                                                   > 0).any():
            return False
        for t, r in enumerate(self.rules.roots):
            if r >= 0 and plan[r, t] < min(self.root_share, 1.0) - 1e-9:
                return False
        if any(plan[u, t] < self.root_share - 1e-9 for u, t in self.rules.locks.items()):
            return False
        if any(len({tuple(np.flatnonzero(plan[u] > SPLIT_EPS)) for u in g.tolist()}) > 1 for g in self.rules.together):
            return False
        return not any(((plan[g] > SPLIT_EPS).sum(axis=0) > 1).any() for g in self.rules.apart)


def is_connected_plan(grid: np.ndarray, neighbours: list[np.ndarray]) -> bool:
    """True when every territory's units (any share) form one connected piece."""
    return all(len(components(np.flatnonzero(grid[:, t] > SPLIT_EPS), neighbours)) <= 1
               for t in range(grid.shape[1]) if (grid[:, t] > SPLIT_EPS).any())



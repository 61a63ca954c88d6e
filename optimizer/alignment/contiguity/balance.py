"""Step 4 of the contiguity repair (``optimizer.alignment.contiguity.repair``): put broken bands right by moves that keep
every territory connected — best single moves, pushes along chains of territories, evening out around the
broken bands, a least-flow LP over the territory graph, moves that cut their donor (regrown), the split
units' shares by a small LP — with random restarts when the descent sticks (iterated local search)."""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_array, hstack, vstack

from optimizer.alignment.contiguity.regrow import Regrowing
from optimizer.alignment.contiguity.state import EPS, SPLIT_EPS

CHAIN_DEPTH = 12  # longest chain of territories a balance push may use
DESCENT_STEPS = 2_000  # steps of one descent of the balance repair
DIFFUSE_HOPS = 3  # territories this far from a broken band help even out the workload
COMPOUND_TRIES = 20  # moves tried per stuck territory that may cut its donor
FLOW_AIM = 0.5  # the flow LP aims this share of each half-band inside the band
LP_MARGIN = 1e-7  # the share LP aims this far inside each band, so renormalised shares stay inside


class Balancing(Regrowing):
    """A plan state that can repair broken bands without breaking a territory."""

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

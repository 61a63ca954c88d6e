"""Steps 1-3 of the contiguity repair (``optimizer.alignment.contiguity.repair``): anchor bases and locked units, cut off
every piece of a territory but the anchored one, regrow the cut-off units by the cheapest adjacent pair."""

from __future__ import annotations

import heapq

import numpy as np

from optimizer.areas.adjacency import components
from optimizer.alignment.contiguity.state import EPS, SPLIT_EPS, PlanState

GROW_SURCHARGE = 1e6  # cost added in the regrowth for a territory pushed out of its band


class Regrowing(PlanState):
    """A plan state that can put every territory back in one piece."""

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

"""Step 5 of the contiguity repair (``optimizer.alignment.contiguity.repair``): lower the cost with connected moves,
swaps of two units between adjacent territories, and pairs (an improving move that breaks a band, then
the cheapest move that mends it), never breaking a band that holds."""

from __future__ import annotations

import time

import numpy as np

from optimizer.alignment.contiguity.balance import Balancing
from optimizer.alignment.contiguity.state import EPS


class Improving(Balancing):
    """A plan state that can lower its cost while staying connected and inside its bands."""

    def improve(self, deadline: float) -> None:
        while time.perf_counter() < deadline:
            if not (self._improving_moves(deadline) + self._improving_swaps(deadline)
                    + self._improving_pairs(deadline)):
                break
        self.rebalance_shares()

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

    def _gaining_moves(self, deadline: float):
        """``(unit, from, to)`` of the border moves that lower the cost, largest gain first, until ``deadline``
        (the gains are those of the plan when called: callers re-check each move against the plan now)."""
        units, src, dst = self._boundary_moves()
        gain = self.cost[units, dst] - self.cost[units, src]
        for m in np.flatnonzero(gain < -EPS)[np.argsort(gain[gain < -EPS])].tolist():
            if time.perf_counter() > deadline:
                return
            yield int(units[m]), int(src[m]), int(dst[m])

    def _improving_swaps(self, deadline: float) -> int:
        """Swap ``i: t -> u`` with ``j: u -> t`` when the pair lowers the cost and every band still holds."""
        applied = 0
        for i, t, u in self._gaining_moves(deadline):
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
        applied = 0
        for i, t, u in self._gaining_moves(deadline):
            if self.owner[i] != t or not any(j in self.members[u] for j in self.nbr[i]):
                continue  # an earlier move changed its side of the border
            if self.split[i] or not self.may_join(i, u) or not self.stays_connected(t, i):
                continue
            before = self.total_violation()
            d_viol, d_cost = self.deltas(np.array([i]), np.array([t]), np.array([u]))
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

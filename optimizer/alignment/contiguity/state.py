"""The plan a contiguity repair works on (``optimizer.alignment.contiguity.repair``): owners of whole units, shares of
split units, members and measure totals per territory; moves, what they change, and whether they are legal.

The steps of the repair build on it, each in its own module: ``optimizer.alignment.contiguity.regrow`` (anchors, cut-off
pieces, regrowth), ``optimizer.alignment.contiguity.balance`` (band repair) and ``optimizer.alignment.contiguity.improve`` (cost).
"""

from __future__ import annotations

import numpy as np

EPS = 1e-9
SPLIT_EPS = 1e-6
BAND_EPS = 1e-7  # band violation taken as none


class PlanState:
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

    # ---- measures of the whole plan ------------------------------------------------------------
    def total_violation(self) -> float:
        return float(self._territory_violation().sum()) + self._budget_excess(self._moved_now())

    def _violated(self) -> list[int]:
        viol = self._territory_violation()
        if self.budget is not None and self._budget_excess(self._moved_now()) > EPS:
            viol = viol + EPS * 10  # every territory may help the budget
        return [int(t) for t in np.argsort(-viol) if viol[t] > EPS]

    def _boundary_moves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src_unit, dst_unit = self.edge_src, self.edge_dst
        a, b = self.owner[src_unit], self.owner[dst_unit]
        keep = (a >= 0) & (b >= 0) & (a != b) & ~self.fixed[src_unit]
        moves = np.unique(np.array([src_unit[keep], a[keep], b[keep]]).T, axis=0)
        if not moves.size:
            return np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)
        return moves[:, 0], moves[:, 1], moves[:, 2]

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

"""The plain alignment model built once by Pyomo, then grown by columns of its own ``Assign`` family.

At ZIP level every restricted model differs from the last by a few thousand pairs, and rebuilding the
Pyomo model for each (250,000 pairs: about 4 s to build and compile) is what made pricing slow. So:

* the model of ``models.alignment`` is built and compiled **once**, over the first pair set, with the
  elastic band columns ``Under``/``Over`` (the LP pricing phase needs them in a hard band);
* a pair that enters later gets the column the Pyomo model gives every ``Assign[p]``: cost
  ``c[i,t] = w_i d[i,t]``, coefficient 1 in row ``one_territory[i]`` and ``w_i`` in row
  ``workload_in_band[t]``, bounds ``[0, 1]``, binary unless the unit is shared. The rows are located by
  their Pyomo names, and ``tests/test_pair_model.py`` checks that a grown model equals the one Pyomo
  builds over the same pairs;
* a restricted model over any pair set is a column slice of the grown arrays (no Pyomo work), with the
  elastic columns kept (soft band, priced at the band penalty) or dropped (hard band);
* the LP relaxation is priced in one HiGHS instance that receives entering columns with ``addCols`` and
  re-optimises from its last basis instead of starting over.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from optimizer.alignment.solve.restricted import AlignmentProblem, Clock, Restricted, restrict
from optimizer.solver.highs import CompiledModel, LpSession, SolveResult, SolverOptions


class PairModel:
    """The alignment model's columns for every pair seen so far (see the module docstring)."""

    def __init__(self, problem: AlignmentProblem, pairs: np.ndarray, clock: Clock, lp_penalty: float):
        first = restrict(problem, pairs, clock, lp_penalty)  # Pyomo build and compile, pair order checked
        began = time.perf_counter()
        n, k = pairs.shape
        self.problem = problem
        base, unit, territory = first.compiled, first.unit, first.territory
        self.pyomo_model = first.model
        self.rows = base.rows
        self.row_lower, self.row_upper = base.row_lower, base.row_upper
        self.unit_row, band_rows = np.full(n, -1), [[] for _ in range(k)]
        for row, con in enumerate(base.rows):  # a ranged band compiles to two rows, an equal band to one
            if con.parent_component().local_name == "one_territory":
                self.unit_row[con.index()] = row
            else:
                band_rows[con.index()].append(row)
        width = max(len(rows) for rows in band_rows)
        if (self.unit_row < 0).any() or min(len(rows) for rows in band_rows) != width:
            raise RuntimeError("a unit row or a band row is missing from the compiled model")
        self.band_rows = np.array(band_rows)  # (K, 1 or 2)
        position = {(var.parent_component().local_name, var.index()): column
                    for column, var in enumerate(base.columns)}
        under = [position["Under", t] for t in range(k)]
        over = [position["Over", t] for t in range(k)]
        self.elastic = base.matrix[:, under + over].tocsc()  # Under[t] then Over[t]
        self.unit, self.territory = unit, territory
        self.pair_id = np.full((n, k), -1, dtype=np.int64)
        self.pair_id[unit, territory] = np.arange(len(unit))
        self._blocks = [base.matrix[:, : len(unit)].tocsc()]
        self._matrix: sp.csc_array | None = None
        self.session: LpSession | None = None
        clock.build += time.perf_counter() - began

    @property
    def size(self) -> int:
        return len(self.unit)

    @property
    def matrix(self) -> sp.csc_array:
        """Every pair column so far, in pair-id order."""
        if self._matrix is None or self._matrix.shape[1] != self.size:
            self._matrix = sp.hstack(self._blocks, format="csc")
            self._blocks = [self._matrix]
        return self._matrix

    def columns(self, unit: np.ndarray, territory: np.ndarray) -> sp.csc_array:
        """The ``Assign`` columns of new pairs, as the Pyomo model would give them."""
        count, rows, width = len(unit), len(self.row_lower), self.band_rows.shape[1]
        index = np.column_stack([self.unit_row[unit], self.band_rows[territory]])
        values = np.column_stack([np.ones(count)] + [self.problem.load[unit]] * width)
        order = np.argsort(index, axis=1)  # CSC wants ascending row indices within a column
        index = np.take_along_axis(index, order, axis=1).ravel()
        values = np.take_along_axis(values, order, axis=1).ravel()
        per = width + 1
        return sp.csc_array((values, index, np.arange(0, per * count + 1, per)), shape=(rows, count))

    def add(self, pairs: np.ndarray) -> np.ndarray:
        """Give every pair of the mask that has none a column; returns the new pairs' ids."""
        unit, territory = np.nonzero(pairs & (self.pair_id < 0))
        ids = np.arange(self.size, self.size + len(unit))
        if len(unit):
            self._blocks.append(self.columns(unit, territory))
            self.pair_id[unit, territory] = ids
            self.unit, self.territory = np.concatenate([self.unit, unit]), np.concatenate([self.territory, territory])
        return ids

    # --- the LP relaxation, priced in one HiGHS instance -------------------------------------------------
    def solve_lp(self, options: SolverOptions, clock: Clock, penalty: float) -> SolveResult:
        """Solve the LP relaxation over every pair so far, from the last basis when there is one."""
        began = time.perf_counter()
        if self.session is None:
            self.session = LpSession(self._lp_arrays(penalty), options)
        else:
            fresh = np.arange(self.session.num_columns() - 2 * len(self.band_rows), self.size)
            if fresh.size:
                self.session.add_columns(self.problem.cost[self.unit[fresh], self.territory[fresh]],
                                         np.zeros(len(fresh)), np.full(len(fresh), np.inf), self.matrix[:, fresh])
        clock.build += time.perf_counter() - began
        result = self.session.run(max(clock.left(), 1.0))
        clock.solve += result.seconds
        if result.values is not None:  # the session's columns: K Under, K Over first, then pairs in id order
            k = len(self.band_rows)
            result.values = np.concatenate([result.values[2 * k:], result.values[:2 * k]])
        return result

    def hold(self, unit: int, territory: int | None) -> None:
        """Fix ``unit`` wholly to ``territory`` in the LP session (``None``: free it again)."""
        ids = self.pair_id[unit][self.pair_id[unit] >= 0]
        columns = 2 * len(self.band_rows) + ids  # the session's columns: K Under, K Over, then the pairs
        order = np.argsort(columns)
        columns, ids = columns[order], ids[order]
        if territory is None:
            lower, upper = np.zeros(len(ids)), np.full(len(ids), np.inf)
        else:
            lower = (self.territory[ids] == territory).astype(float)
            upper = lower.copy()
        self.session.highs.changeColsBounds(len(columns), columns.astype(np.int32), lower, upper)

    def _lp_arrays(self, penalty: float) -> CompiledModel:
        """The LP over every pair so far with the elastic columns first, so later pairs can be appended."""
        k = len(self.band_rows)
        matrix = sp.hstack([self.elastic, self.matrix], format="csc")
        cost = np.concatenate([np.full(2 * k, penalty), self.problem.cost[self.unit, self.territory]])
        lower = np.zeros(matrix.shape[1])
        return CompiledModel(columns=[], rows=self.rows, cost=cost, offset=0.0, matrix=matrix,
                             row_lower=self.row_lower, row_upper=self.row_upper, col_lower=lower,
                             col_upper=np.full(matrix.shape[1], np.inf), integer=np.zeros(matrix.shape[1], bool),
                             model=self.pyomo_model)

    def reduced_costs(self, row_duals: np.ndarray) -> np.ndarray:
        """Reduced cost of every unit-territory pair (N, K) at the LP's row duals:
        ``r[i,t] = c[i,t] - y_i - w_i z_t`` (``y`` the unit rows', ``z`` the band rows' duals)."""
        unit_dual, band_dual = row_duals[self.unit_row], row_duals[self.band_rows].sum(axis=1)
        return self.problem.cost - unit_dual[:, None] - self.problem.load[:, None] * band_dual[None, :]

    def shares(self, values: np.ndarray) -> np.ndarray:
        """The (N, K) shares of an LP solution over the pairs so far (``values`` in pair-id order)."""
        grid = np.zeros(self.pair_id.shape)
        grid[self.unit, self.territory] = values[: self.size]
        return grid

    # --- restricted MIPs ----------------------------------------------------------------------------------
    def restricted(self, pairs: np.ndarray, penalty: float | None, clock: Clock) -> Restricted:
        """The MIP over the pairs of the mask (columns added where missing), as ``optimizer.alignment.solve.restricted`` has it:
        pair columns in row-major pair order, then ``Under[t]``, ``Over[t]`` in a soft band."""
        began = time.perf_counter()
        self.add(pairs)
        unit, territory = np.nonzero(pairs)
        ids = self.pair_id[unit, territory]
        blocks = [self.matrix[:, ids]] + ([self.elastic] if penalty is not None else [])
        matrix = sp.hstack(blocks, format="csc") if len(blocks) > 1 else blocks[0].tocsc()
        k, count = len(self.band_rows), len(ids)
        cost = self.problem.cost[unit, territory]
        integer = ~self.problem.shared[unit]
        lower, upper = np.zeros(count), np.ones(count)
        if penalty is not None:
            cost = np.concatenate([cost, np.full(2 * k, penalty)])
            integer = np.concatenate([integer, np.zeros(2 * k, bool)])
            lower, upper = np.concatenate([lower, np.zeros(2 * k)]), np.concatenate([upper, np.full(2 * k, np.inf)])
        compiled = CompiledModel(columns=[], rows=self.rows, cost=cost, offset=0.0, matrix=matrix,
                                 row_lower=self.row_lower, row_upper=self.row_upper, col_lower=lower,
                                 col_upper=upper, integer=integer, model=self.pyomo_model)
        clock.build += time.perf_counter() - began
        return Restricted(pairs=pairs, unit=unit, territory=territory, compiled=compiled, model=self.pyomo_model)

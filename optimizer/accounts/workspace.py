"""One compiled account model over a pool of pairs, reused by every LP and MIP through column bounds.

Building and compiling the Pyomo model costs more than many of the solves, so it is done once over a
pool of candidate pairs (rebuilt only if a later step needs pairs outside it). A restricted LP or MIP is
a *view*: the same arrays with the excluded pairs' columns fixed at 0. The model is built in its
elastic form (every account may stay uncovered, the band is soft, at prohibitive prices unless the
scenario sets real ones); a view of the real problem fixes those slack columns at 0 where the scenario
does not allow them.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, replace

import numpy as np
import pyomo.environ as pyo

from models.accounts import build
from optimizer.accounts.problem import AccountProblem
from optimizer.solver.highs import CompiledModel, compile_model

ELASTIC_FACTOR = 1.0e3


@dataclass
class Clock:
    """Seconds left of the run's time limit, and seconds spent building and solving."""

    limit: float
    start: float = 0.0
    build: float = 0.0
    solve: float = 0.0

    def __post_init__(self) -> None:
        self.start = time.perf_counter()

    def left(self) -> float:
        return self.limit - (time.perf_counter() - self.start)


def compiled_model(data, clock: Clock) -> tuple[pyo.ConcreteModel, CompiledModel]:
    """Build and compile, with the columns reordered so that the pairs come first, in pair order."""
    began = time.perf_counter()
    collecting = gc.isenabled()
    gc.disable()  # building creates ~3 objects per pair; generational GC passes would cost ~40 %
    try:
        model = build(data)
        compiled = compile_model(model)
    finally:
        if collecting:
            gc.enable()
    n_pairs = len(data.pair_account)
    pair_of = np.array([var.index() if var.parent_component().local_name == "Assign" else -1
                        for var in compiled.columns])
    if sorted(pair_of[pair_of >= 0]) != list(range(n_pairs)):
        raise RuntimeError("the compiled model does not hold every pair once; the solution would be misread")
    order = np.concatenate([np.flatnonzero(pair_of >= 0)[np.argsort(pair_of[pair_of >= 0])],
                            np.flatnonzero(pair_of < 0)])
    compiled = replace(compiled, columns=[compiled.columns[k] for k in order], cost=compiled.cost[order],
                       matrix=compiled.matrix[:, order].tocsc(), col_lower=compiled.col_lower[order],
                       col_upper=compiled.col_upper[order], integer=compiled.integer[order])
    clock.build += time.perf_counter() - began
    return model, compiled


def elastic_prices(problem: AccountProblem) -> tuple[np.ndarray, float]:
    """Uncovered cost per account and band penalty per hour: the scenario's, else ones no plan would pay."""
    costs = np.where(problem.eligible, problem.travel_cost, 0.0)
    scale = float(costs.max()) + float(problem.move_cost.max(initial=0.0)) + 1.0
    per_hour = scale / max(float(np.where(problem.eligible, problem.hours, np.inf).min()), 1e-3)
    uncovered = (problem.uncovered_cost if problem.uncovered_cost is not None
                 else np.full(problem.lead.size, ELASTIC_FACTOR * scale))
    band = problem.band_penalty if problem.band_penalty is not None else ELASTIC_FACTOR * per_hour
    return uncovered, band


def family_closed(problem: AccountProblem, mask: np.ndarray) -> np.ndarray:
    """Extend ``mask`` so every family member has the same reps as its lead."""
    grouped = np.zeros_like(mask)
    np.logical_or.at(grouped, problem.lead, mask)
    return grouped[problem.lead] & problem.eligible


def current_pairs(problem: AccountProblem) -> np.ndarray:
    """Mask of each account's current rep (where eligible)."""
    mask = np.zeros(problem.eligible.shape, bool)
    has = np.flatnonzero(problem.current >= 0)
    mask[has, problem.current[has]] = True
    return mask & problem.eligible


class Workspace:
    """The compiled elastic model over ``pool`` and the views of it that the solve steps use."""

    def __init__(self, problem: AccountProblem, pool: np.ndarray, clock: Clock) -> None:
        self.problem, self.clock = problem, clock
        self.uncovered_price, self.band_price = elastic_prices(problem)
        self._build(family_closed(problem, pool | current_pairs(problem)))  # the budget row always has terms

    def _build(self, pool: np.ndarray) -> None:
        data, pairs = self.problem.data(pool, self.uncovered_price, self.band_price, elastic=True)
        self.model, self.compiled = compiled_model(data, self.clock)  # the model must outlive its columns
        self.pool, self.pairs = pool, pairs
        self.kind = np.array([var.parent_component().local_name for var in self.compiled.columns])
        self.row_kind = np.array([con.parent_component().local_name for con in self.compiled.rows])

    @property
    def n_pairs(self) -> int:
        return len(self.pairs[0])

    def ensure(self, mask: np.ndarray) -> None:
        """Rebuild over a larger pool if ``mask`` holds pairs outside it."""
        if (mask & self.problem.eligible & ~self.pool).any():
            self._build(family_closed(self.problem, self.pool | mask))

    def view(self, mask: np.ndarray, elastic: bool) -> CompiledModel:
        """The model restricted to the pairs in ``mask``; ``elastic=False`` is the scenario's own problem."""
        upper = self.compiled.col_upper.copy()
        upper[: self.n_pairs][~mask[self.pairs]] = 0.0
        if elastic:
            return replace(self.compiled, col_upper=upper)
        off = np.zeros(upper.size, bool)
        if self.problem.uncovered_cost is None:
            off |= self.kind == "Uncovered"
        if self.problem.band_penalty is None:
            off |= (self.kind == "Under") | (self.kind == "Over")
        upper[off] = 0.0
        cost = np.where(off, 0.0, self.compiled.cost)  # no prohibitive prices left to upset HiGHS's scaling
        return replace(self.compiled, col_upper=upper, cost=cost)

    def values_of(self, name: str, values: np.ndarray) -> np.ndarray:
        """Values of the columns of variable ``name``, by its index (accounts or reps)."""
        size = self.problem.lead.size if name == "Uncovered" else self.problem.capacity.size
        out = np.zeros(size)
        for column in np.flatnonzero(self.kind == name):
            out[self.compiled.columns[column].index()] = values[column]
        return out

    def rep_of(self, values: np.ndarray) -> np.ndarray:
        """Each account's rep (-1: uncovered) in a MIP solution."""
        rep_of = np.full(self.problem.lead.size, -1)
        take = values[: self.n_pairs] > 0.5
        rep_of[self.pairs[0][take]] = self.pairs[1][take]
        return rep_of

    def start_values(self, rep_of: np.ndarray) -> np.ndarray:
        """Column values of the plan ``rep_of`` (hours, utilisation and band slack computed from it)."""
        problem = self.problem
        hours = np.zeros(problem.capacity.size)
        covered = np.flatnonzero(rep_of >= 0)
        np.add.at(hours, rep_of[covered], problem.hours[covered, rep_of[covered]])
        utilization = hours.sum() / problem.capacity.sum()
        tol = problem.tolerance or 0.0
        per_rep = {"Hours": hours, "Under": np.maximum((1 - tol) * problem.capacity * utilization - hours, 0.0),
                   "Over": np.maximum(hours - (1 + tol) * problem.capacity * utilization, 0.0)}
        values = np.zeros(len(self.compiled.columns))
        values[: self.n_pairs] = rep_of[self.pairs[0]] == self.pairs[1]
        for column in range(self.n_pairs, len(values)):
            name, index = self.kind[column], self.compiled.columns[column].index()
            if name == "Uncovered":
                values[column] = float(rep_of[index] < 0)
            elif name == "Utilization":
                values[column] = utilization
            elif name in per_rep:
                values[column] = per_rep[name][index]
        return values

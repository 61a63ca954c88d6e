"""The alignment model over a subset of unit-territory pairs: build it, solve it, read plans back.

Plans travel between stages as dense ``units x territories`` share grids, so a plan found over one pair
set can warm-start a model over another.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from models.alignment import AlignmentData, build
from models.alignment_rules import AlignmentRules
from optimizer.solver.highs import CompiledModel, compile_model

ELASTIC_PRICE = 1.0e5  # km per average territory outside the band: only the LP pricing phase uses it


@dataclass(frozen=True)
class AlignmentProblem:
    """The full model's data: every unit-territory pair is allowed."""

    load: np.ndarray  # (N,) workload / average territory workload
    distance_km: np.ndarray  # (N, K)
    shared: np.ndarray  # (N,) bool: may be split
    lower: np.ndarray  # (K,)
    upper: np.ndarray  # (K,)
    penalty: float | None  # soft band when set
    start_pairs: np.ndarray | None = None  # (M, 2) unit, territory: a balanced allocation to start the LP from

    @cached_property
    def cost(self) -> np.ndarray:
        """``load x distance`` per pair, computed once (every stage prices plans with it; at ZIP level it is
        15.6M entries)."""
        return self.load[:, None] * self.distance_km

    def loads(self, grid: np.ndarray) -> np.ndarray:
        """Workload per territory of a share grid."""
        return self.load @ grid

    def outside_band(self, grid: np.ndarray) -> np.ndarray:
        """Workload outside the band per territory."""
        loads = self.loads(grid)
        return np.maximum(self.lower - loads, 0.0) + np.maximum(loads - self.upper, 0.0)

    def plan_cost(self, grid: np.ndarray) -> float:
        """The model's objective for a share grid (the soft-band penalty included)."""
        travel = float((grid * self.cost).sum())
        return travel + (self.penalty or 0.0) * float(self.outside_band(grid).sum())


@dataclass
class Clock:
    """The time budget of one solve, and where the time went."""

    limit: float
    start: float = field(default_factory=time.perf_counter)
    build: float = 0.0
    solve: float = 0.0

    def left(self) -> float:
        return self.limit - self.elapsed()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def stage(self, name: str, **fields) -> dict:
        """A stage's record for summary.json: its name, the seconds since the solve began, then ``fields``."""
        return {"stage": name, "elapsed": round(self.elapsed(), 3), **fields}


@dataclass
class Restricted:
    """A built, compiled model over ``pairs`` (bool grid) and the pair index of each column."""

    pairs: np.ndarray
    unit: np.ndarray
    territory: np.ndarray
    compiled: CompiledModel
    model: object  # the Pyomo model: kept alive, since compiled rows and columns refer back to it

    def grid(self, values: np.ndarray) -> np.ndarray:
        """Column values back to a share grid."""
        grid = np.zeros(self.pairs.shape)
        grid[self.unit, self.territory] = values[: len(self.unit)]
        return grid

    def start(self, problem: AlignmentProblem, grid: np.ndarray) -> np.ndarray:
        """A share grid as column values (Assign in pair order, then Under and Over when soft)."""
        values = [grid[self.unit, self.territory]]
        if problem.penalty is not None:
            loads = problem.loads(grid)
            values += [np.maximum(problem.lower - loads, 0.0), np.maximum(loads - problem.upper, 0.0)]
        return np.concatenate(values)


def restrict(problem: AlignmentProblem, pairs: np.ndarray, clock: Clock, penalty: float | None,
             rules: AlignmentRules | None = None) -> Restricted:
    """Build and compile the model over ``pairs``; columns are checked to be in pair order."""
    began = time.perf_counter()
    unit, territory = np.nonzero(pairs)
    data = AlignmentData(load=problem.load, shared=problem.shared, pair_unit=unit, pair_territory=territory,
                         pair_cost=problem.cost[unit, territory], lower=problem.lower, upper=problem.upper,
                         penalty=penalty, rules=rules)
    model = build(data)
    compiled = compile_model(model)
    leading = compiled.columns[: len(unit)]
    if any(var.parent_component().local_name != "Assign" or var.index() != p for p, var in enumerate(leading)):
        raise RuntimeError("compiled columns are not in pair order; the solution would be misread")
    clock.build += time.perf_counter() - began
    return Restricted(pairs=pairs, unit=unit, territory=territory, compiled=compiled, model=model)

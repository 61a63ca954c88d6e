"""The sizing curve: the sizing model solved at every headcount of a range, each solve warm-started.

The model is built and compiled once; each headcount only changes the bounds of the ``Headcount``
column. When every curve is concave the only integer is the headcount, so with it fixed the model is
an LP and is solved as one (its bound is then its optimum). Otherwise each solve is a MIP started
from the previous headcount's plan with one more rep, which is feasible because capacity only grows.

The facade minimises: a maximise model comes back with objective and bound negated, so both are
turned back into profit here.

Each headcount is solved to a relative gap of at most ``CURVE_GAP`` (or the scenario's target if that is
tighter): the marginal profit of the last rep is the difference of two neighbouring profits, which
a looser gap would drown.

**Every warm-started result is verified.** With HiGHS 1.16, a start passed by ``setSolution`` can make
presolve return the start itself as the solution, with an objective and dual bound that belong to
no plan (measured here: reported profit 31,156,780 and bound equal to it, while the returned plan
earns 30,565,674 and the true optimum is 31,133,835). So the objective of the returned columns is
recomputed; if it differs from the reported one, the warm start is discarded and the headcount is
solved cold. ``CurvePoint.warm_start`` records what happened.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from models.sizing import SizingData, build
from optimizer.solver.highs import CompiledModel, SolveResult, SolverOptions, SolveStatus, compile_model, solve

CURVE_GAP = 1e-5


@dataclass(frozen=True)
class CurvePoint:
    """One headcount's solve: efforts, the model's profit and the bound on the true best profit."""

    headcount: int
    status: SolveStatus
    effort: np.ndarray | None
    model_profit: float
    upper: float
    seconds: float
    nodes: int
    values: np.ndarray | None = None  # every column, for the next warm start
    warm_start: str = "none"  # none, used, or rejected (inconsistent result, solved cold)


@dataclass
class SizingModel:
    """The built and compiled model, and where its headcount and effort columns are."""

    model: pyo.ConcreteModel
    compiled: CompiledModel
    headcount_column: int
    effort_columns: np.ndarray
    build_seconds: float

    @property
    def only_headcount_is_integer(self) -> bool:
        integer = self.compiled.integer.copy()
        integer[self.headcount_column] = False
        return not integer.any()


def compile_sizing(data: SizingData) -> SizingModel:
    """Build and compile the sizing model once."""
    began = time.perf_counter()
    model = build(data)
    compiled = compile_model(model)
    position = {id(var): j for j, var in enumerate(compiled.columns)}
    efforts = [position.get(id(model.Effort[s])) for s in range(len(data.margin))]
    headcount = position.get(id(model.Headcount))
    if headcount is None or any(j is None for j in efforts):
        raise RuntimeError("the compiled sizing model lost its headcount or effort columns")
    return SizingModel(model, compiled, headcount, np.asarray(efforts), time.perf_counter() - began)


def solve_at(sizing: SizingModel, headcount: int | None, options: SolverOptions,
             start: np.ndarray | None = None) -> CurvePoint:
    """Solve with the headcount fixed (or free within its range when ``headcount`` is None)."""
    compiled, column = sizing.compiled, sizing.headcount_column
    saved = compiled.col_lower[column], compiled.col_upper[column]
    if headcount is not None:
        compiled.col_lower[column] = compiled.col_upper[column] = float(headcount)
    relax = headcount is not None and sizing.only_headcount_is_integer
    warm = "none" if relax or start is None else "used"
    try:
        result = solve(compiled, options, relax=relax, start=None if relax else start)
        if warm == "used" and not consistent(compiled, result):
            spent = result.seconds
            warm, result = "rejected", solve(compiled, options, relax=relax)
            result.seconds += spent
    finally:
        compiled.col_lower[column], compiled.col_upper[column] = saved
    effort = None
    if result.values is not None:  # within the solver's feasibility tolerance of the bounds: clip onto them
        lower, upper = compiled.col_lower[sizing.effort_columns], compiled.col_upper[sizing.effort_columns]
        effort = np.clip(result.values[sizing.effort_columns], lower, upper)
    chosen = headcount if headcount is not None else (
        round(result.values[column]) if result.values is not None else -1)
    return CurvePoint(headcount=chosen, status=result.status, effort=effort, model_profit=-result.objective,
                      upper=-result.bound, seconds=result.seconds, nodes=result.nodes, values=result.values,
                      warm_start=warm)


def consistent(compiled: CompiledModel, result: SolveResult) -> bool:
    """Whether the reported objective is the objective of the returned columns (and the bound not past it)."""
    if result.values is None:
        return True
    recomputed = float(compiled.cost @ result.values + compiled.offset)
    tol = 1e-7 * max(1.0, abs(recomputed))
    return abs(recomputed - result.objective) <= tol and not result.bound > result.objective + tol


def solve_curve(sizing: SizingModel, headcounts: range, options: SolverOptions) -> tuple[list[CurvePoint], bool]:
    """Solve every headcount in order until the time limit; returns the points and whether all were solved."""
    deadline = time.perf_counter() + options.time_limit
    points: list[CurvePoint] = []
    start = None
    for n in headcounts:
        left = deadline - time.perf_counter()
        if left <= 0.01:
            return points, False
        if start is not None:
            start[sizing.headcount_column] = float(n)
        step = SolverOptions(left, min(options.target_gap, CURVE_GAP), options.threads, options.seed)
        point = solve_at(sizing, n, step, start)
        points.append(point)
        if point.status.has_plan and not sizing.only_headcount_is_integer:
            start = point.values.copy()
    return points, True


def true_profit(effort: np.ndarray, curves: list, margin: np.ndarray, rep_cost: float, headcount: int) -> dict:
    """Revenue, contribution, cost and profit of ``effort`` under the true curves."""
    sales = np.array([float(c.value(x)) for c, x in zip(curves, effort)])
    contribution = float((margin * sales).sum())
    cost = rep_cost * headcount
    return {"revenue": float(sales.sum()), "contribution": contribution, "cost": cost,
            "profit": contribution - cost, "sales": sales}


def relative(upper: float, value: float) -> float:
    """``(upper - value) / |value|``: the share of the profit that may still be missing."""
    if math.isnan(upper) or math.isnan(value):
        return math.nan
    if abs(value) < 1e-9:
        return 0.0 if abs(upper - value) < 1e-9 else math.inf
    return max(0.0, (upper - value) / abs(value))

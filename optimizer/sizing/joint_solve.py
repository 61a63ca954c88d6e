"""Solving the joint model: a heuristic plan first, then the exact model with an honest gap.

1. **Heuristic** (a restricted model): every unit may only be covered from its nearest eligible
   candidate (``HEURISTIC_NEAREST``), so the alignment is fixed and HiGHS chooses only the reps per
   base and the calls. Solved to the target gap within a share of the time limit.
2. **Exact model** over every eligible pair, warm-started from the heuristic plan, for the rest of the
   time, aiming at the target gap less the linearisation error's share of the profit (so that the
   reported gap, true profit against bound, can meet the target). A warm-started result whose
   reported objective is not that of its returned plan (HiGHS 1.16 presolve, see
   :mod:`optimizer.sizing.curve`) is discarded and the model solved cold.
3. The plan reported is the one of higher *true* profit (curves, not envelopes) among the heuristic
   and the exact model's incumbent; the bound is the exact model's dual bound, which is valid for the
   true curves because the envelopes lie above them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from models.sizing_joint import JointData, build
from optimizer.core.errors import InfeasibleError, NoPlanError
from optimizer.sizing.curve import consistent
from optimizer.solver.highs import CompiledModel, SolveResult, SolverOptions, SolveStatus, compile_model, solve
from optimizer.solver.result import Solution

HEURISTIC_SHARE = 0.3  # of the time limit
HEURISTIC_NEAREST = 1  # candidate bases per unit in the heuristic's restricted model (2 and 3 were slower)
MIN_GAP_SHARE = 0.25  # HiGHS aims at least this share of the user's target gap


@dataclass
class JointModel:
    """The compiled joint model and the columns of each variable family."""

    model: pyo.ConcreteModel
    compiled: CompiledModel
    columns: dict[str, np.ndarray]
    build_seconds: float


@dataclass(kw_only=True)
class JointSolution(Solution):
    """The chosen plan (all column values), its model profit and the bound on the best true profit.

    The model maximises profit by minimising its negative, so ``objective`` is ``-model_profit`` and
    ``bound`` is ``-upper`` (see :class:`Solution`); ``source`` says which solve gave the plan.
    """

    values: np.ndarray
    source: str

    @property
    def model_profit(self) -> float:
        """The model's (linearised) profit of the plan."""
        return -self.objective

    @property
    def upper(self) -> float:
        """The bound on the best true profit (NaN when the exact model gave none)."""
        return -self.bound


def compile_joint(data: JointData) -> JointModel:
    """Build and compile once; find each family's columns (refuse if any went missing)."""
    began = time.perf_counter()
    model = build(data)
    compiled = compile_model(model)
    position = {id(var): j for j, var in enumerate(compiled.columns)}
    families = {"Open": model.Open, "Reps": model.Reps, "Cover": model.Cover, "Calls": model.Calls,
                "Effort": model.Effort}
    columns = {name: np.array([position.get(id(v), -1) for v in comp.values()]) for name, comp in families.items()}
    columns["Headcount"] = np.array([position.get(id(model.Headcount), -1)])
    if any((c < 0).any() for c in columns.values()):
        raise RuntimeError("the compiled joint model lost some of its columns")
    return JointModel(model, compiled, columns, time.perf_counter() - began)


def nearest_pairs(data: JointData, distance_km: np.ndarray, count: int) -> np.ndarray:
    """Bool per pair: the pair's base is among its unit's ``count`` nearest eligible bases."""
    d = distance_km[data.pair_unit, data.pair_base]
    order = np.lexsort((d, data.pair_unit))
    starts = np.searchsorted(data.pair_unit[order], data.pair_unit[order], side="left")
    rank = np.arange(len(order)) - starts
    keep = np.zeros(len(d), bool)
    keep[order[rank < count]] = True
    return keep


def solve_joint(jm: JointModel, data: JointData, distance_km: np.ndarray, options: SolverOptions,
                true_profit: Callable[[np.ndarray], float]) -> JointSolution:
    """Heuristic plan, then the exact model; see the module docstring."""
    began, stages = time.perf_counter(), []
    deadline = began + options.time_limit
    cover = jm.columns["Cover"]
    upper = jm.compiled.col_upper
    saved = upper[cover].copy()
    upper[cover[~nearest_pairs(data, distance_km, HEURISTIC_NEAREST)]] = 0.0
    try:
        first = _run(jm, _until(options, began + HEURISTIC_SHARE * options.time_limit), None, "heuristic", stages)
    finally:
        upper[cover] = saved
    start = first.values if first.status.has_plan else None
    exact_options = _until(options, deadline, _mip_gap(options, data, first, true_profit))
    exact = _run(jm, exact_options, start, "exact", stages)
    if start is not None and exact.values is not None and not consistent(jm.compiled, exact):
        stages[-1]["warm_start"] = "rejected: reported objective is not that of the returned plan"
        exact = _run(jm, _until(options, deadline, exact_options.target_gap), None, "exact (cold)", stages)
    return _choose(first, exact, stages, options, true_profit, time.perf_counter() - began)


def _until(options: SolverOptions, deadline: float, gap: float | None = None) -> SolverOptions:
    return SolverOptions(max(deadline - time.perf_counter(), 1.0), options.target_gap if gap is None else gap,
                         options.threads, options.seed)


def _mip_gap(options: SolverOptions, data: JointData, first: SolveResult, true_profit) -> float:
    """HiGHS's gap target: the user's less the linearisation error's share, so that the true gap meets it."""
    if not first.status.has_plan:
        return options.target_gap * MIN_GAP_SHARE
    share = data.error_bound / max(abs(true_profit(first.values)), 1e-9)
    return max(options.target_gap - share, options.target_gap * MIN_GAP_SHARE)


def _run(jm: JointModel, options: SolverOptions, start, name: str, stages: list[dict]) -> SolveResult:
    result = solve(jm.compiled, options, start=start)
    stages.append({"stage": name, "status": result.status.value, "seconds": round(result.seconds, 3),
                   "profit": -result.objective, "bound": -result.bound, "nodes": result.nodes,
                   "warm_start": "used" if start is not None else "none"})
    return result


def _choose(first: SolveResult, exact: SolveResult, stages, options, true_profit, seconds) -> JointSolution:
    if exact.status is SolveStatus.INFEASIBLE:
        raise InfeasibleError("reps.headcount", "no plan covers every unit within the headcount range and the "
                              "reps per base", "raise reps.headcount.max or bases.max_reps")
    plans = [(r, name) for r, name in ((exact, "exact model"), (first, "heuristic")) if r.status.has_plan]
    if not plans:
        raise NoPlanError("solver", "the time limit was reached before any plan was found", "raise solver.time_limit")
    result, source = max(plans, key=lambda rs: true_profit(rs[0].values))
    bound = -exact.bound if exact.status.has_plan or math.isfinite(exact.bound) else math.nan
    proven = exact.status is SolveStatus.OPTIMAL and source == "exact model"
    return JointSolution(values=result.values, status=SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE,
                         objective=result.objective, bound=-bound, lp_bound=None, source=source, stages=stages,
                         seconds={"solve": seconds})


def solve_with_alignment_fixed(jm: JointModel, values: np.ndarray, headcount: int,
                               options: SolverOptions) -> SolveResult | None:
    """Re-solve reps per base and calls with the plan's open bases and coverage kept and ``headcount`` reps."""
    c = jm.compiled
    fixed = np.concatenate([jm.columns["Open"], jm.columns["Cover"], jm.columns["Headcount"]])
    saved = c.col_lower[fixed].copy(), c.col_upper[fixed].copy()
    target = np.round(values[fixed])
    target[-1] = headcount
    c.col_lower[fixed] = c.col_upper[fixed] = target
    try:
        result = solve(c, options)
    finally:
        c.col_lower[fixed], c.col_upper[fixed] = saved
    return result if result.status.has_plan else None

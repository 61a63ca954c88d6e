"""The one place where a Pyomo model meets HiGHS.

A model is compiled once with Pyomo's standard-form compiler into sparse arrays and handed to
``highspy`` directly (36x faster than writing an LP file; see shared/PERFORMANCE_NOTES.md). Results come
back as our own :class:`SolveResult`, never as HiGHS enums: status, objective, best bound, gap, seconds,
column values, duals (for LPs) and, on demand, the solver log.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from optimizer.solver.result import SolveStatus, relative_gap

_last_threads: list[int] = []
DEADLINE_SLACK = 1.05  # interrupt a solve that runs this much past its time limit (plus a second)


@dataclass(frozen=True)
class SolverOptions:
    """Options honoured by every solve."""

    time_limit: float
    target_gap: float
    threads: int = 1
    seed: int = 0
    keep_log: bool = False


@dataclass
class CompiledModel:
    """A Pyomo model as sparse arrays: ``row_lower <= A x <= row_upper``, ``col_lower <= x <= col_upper``."""

    columns: list  # Pyomo VarData per column
    rows: list  # Pyomo ConstraintData per row
    cost: np.ndarray
    offset: float
    matrix: object  # scipy.sparse.csc_array
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray  # bool per column
    model: object = None  # the Pyomo model: kept alive, since rows and columns refer back to it weakly


@dataclass
class SolveResult:
    """Outcome of one HiGHS run."""

    status: SolveStatus
    objective: float = math.nan
    bound: float = math.nan
    seconds: float = 0.0
    values: np.ndarray | None = None
    row_duals: np.ndarray | None = None
    nodes: int = 0
    log: str = ""
    detail: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def gap(self) -> float:
        return relative_gap(self.objective, self.bound)


def compile_model(model: pyo.ConcreteModel) -> CompiledModel:
    """Compile an active-objective, linear Pyomo model to sparse arrays (rows keep their sense)."""
    info = LinearStandardFormCompiler().write(model, mixed_form=True)
    senses = np.array([sense for _, sense in info.rows], dtype=int)
    rhs = np.asarray(info.rhs, dtype=float)
    row_lower = np.where(senses == 1, -np.inf, rhs)
    row_upper = np.where(senses == -1, np.inf, rhs)
    cols = info.columns
    col_lower = np.array([-np.inf if v.lb is None else v.lb for v in cols], dtype=float)
    col_upper = np.array([np.inf if v.ub is None else v.ub for v in cols], dtype=float)
    integer = np.array([v.is_integer() for v in cols], dtype=bool)
    cost = np.asarray(info.c.toarray()).ravel() if info.c.shape[0] else np.zeros(len(cols))
    return CompiledModel(columns=cols, rows=[con for con, _ in info.rows], cost=cost,
                         offset=float(info.c_offset[0]) if len(info.c_offset) else 0.0,
                         matrix=info.A.tocsc(), row_lower=row_lower, row_upper=row_upper,
                         col_lower=col_lower, col_upper=col_upper, integer=integer, model=model)


def solve(compiled: CompiledModel, options: SolverOptions, *, relax: bool = False,
          start: np.ndarray | None = None, stop_at_objective: float | None = None) -> SolveResult:
    """Solve with HiGHS, honouring the time limit and target gap; ``relax`` drops integrality.

    ``stop_at_objective`` ends a MIP as soon as a plan at least that good is found (used when a bound
    from elsewhere already certifies such a plan). The compiled model is always a minimisation (Pyomo's
    compiler negates a maximising objective), so objective and bound of a maximising model come back
    negated: the caller flips them.
    """
    highs = _new_highs(options)
    deadline = time.perf_counter() + options.time_limit * DEADLINE_SLACK + 1.0

    def stop(event) -> None:
        """HiGHS overran its own time_limit 3x in root cuts; the deadline is enforced from here too."""
        late = time.perf_counter() > deadline
        if late or (stop_at_objective is not None and event.data_out.mip_primal_bound <= stop_at_objective):
            event.interrupt()

    highs.cbMipInterrupt.subscribe(stop)
    highs.cbSimplexInterrupt.subscribe(lambda event: event.interrupt() if time.perf_counter() > deadline else None)
    log_path = Path(tempfile.mkstemp(suffix=".highs.log")[1]) if options.keep_log else None
    if log_path:
        highs.setOptionValue("log_file", str(log_path))
        highs.setOptionValue("output_flag", True)
        highs.setOptionValue("log_to_console", False)
    handing = time.perf_counter()
    highs.passModel(_as_lp(compiled, relax))
    if start is not None and not relax:
        solution = highspy.HighsSolution()
        solution.col_value = list(map(float, start))
        solution.value_valid = True
        highs.setSolution(solution)
    began = time.perf_counter()
    highs.run()
    result = _result(highs, compiled, relax, time.perf_counter() - began)
    result.extra["handover"] = began - handing
    if start is not None and not relax and _misreported(result, compiled):
        # HiGHS 1.16 with presolve can hand back a warm start with an objective and bound that belong to no
        # plan; solve again without the start (seen on sizing models, see the issue notes)
        retry = solve(compiled, replace(options, time_limit=max(options.time_limit - result.seconds, 0.05)),
                      stop_at_objective=stop_at_objective)
        retry.seconds += result.seconds
        retry.extra["warm_start_discarded"] = True
        result = retry
    if log_path:
        result.log = log_path.read_text(errors="replace")
        log_path.unlink(missing_ok=True)
    return result


class LpSession:
    """An LP kept in one HiGHS instance, so columns can be added and it re-optimises from its last basis."""

    def __init__(self, compiled: CompiledModel, options: SolverOptions):
        self.compiled = compiled
        self.highs = _new_highs(options)
        self.deadline = math.inf
        self.highs.cbSimplexInterrupt.subscribe(
            lambda event: event.interrupt() if time.perf_counter() > self.deadline else None)
        self.highs.passModel(_as_lp(compiled, relax=True))

    def num_columns(self) -> int:
        return int(self.highs.getNumCol())

    def add_columns(self, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray, matrix) -> None:
        """Append columns (``matrix``: scipy CSC with the session's rows)."""
        self.highs.addCols(len(cost), np.asarray(cost, float), np.asarray(lower, float), np.asarray(upper, float),
                           int(matrix.nnz), matrix.indptr[:-1].astype(np.int32), matrix.indices.astype(np.int32),
                           np.asarray(matrix.data, float))

    def run(self, time_limit: float) -> SolveResult:
        self.highs.setOptionValue("time_limit", float(max(time_limit, 0.01)))
        self.deadline = time.perf_counter() + time_limit * DEADLINE_SLACK + 1.0
        began = time.perf_counter()
        self.highs.run()
        return _result(self.highs, self.compiled, True, time.perf_counter() - began)


def _misreported(result: SolveResult, compiled: CompiledModel) -> bool:
    """True when the reported objective is not the objective of the returned values."""
    if result.values is None or math.isnan(result.objective):
        return False
    actual = float(compiled.cost @ result.values) + compiled.offset
    return not math.isclose(actual, result.objective, rel_tol=1e-6, abs_tol=1e-6)


def _new_highs(options: SolverOptions) -> highspy.Highs:
    if _last_threads and _last_threads[-1] != options.threads:
        highspy.Highs.resetGlobalScheduler(True)  # else HiGHS returns "unknown" after a change of threads
    _last_threads[:] = [options.threads]
    highs = _quiet_highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("time_limit", float(max(options.time_limit, 0.01)))
    highs.setOptionValue("mip_rel_gap", float(options.target_gap))
    highs.setOptionValue("threads", int(options.threads))
    highs.setOptionValue("random_seed", int(options.seed))
    return highs


def _quiet_highs() -> highspy.Highs:
    """A Highs instance, created with stdout silenced at the file-descriptor level (HiGHS prints a banner)."""
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def highs_version() -> str:
    """The HiGHS library version, e.g. ``1.16.0``."""
    return _quiet_highs().version()


def _as_lp(compiled: CompiledModel, relax: bool) -> highspy.HighsLp:
    lp = highspy.HighsLp()
    matrix = compiled.matrix
    lp.num_col_, lp.num_row_ = matrix.shape[1], matrix.shape[0]
    lp.col_cost_ = compiled.cost
    lp.offset_ = compiled.offset
    lp.col_lower_, lp.col_upper_ = compiled.col_lower, compiled.col_upper
    lp.row_lower_, lp.row_upper_ = compiled.row_lower, compiled.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    if not relax and compiled.integer.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
                           for flag in compiled.integer]
    return lp


def _result(highs: highspy.Highs, compiled: CompiledModel, relax: bool, seconds: float) -> SolveResult:
    status = highs.getModelStatus()
    info = highs.getInfo()
    has_solution = info.primal_solution_status == highspy.kSolutionStatusFeasible
    is_mip = bool(compiled.integer.any()) and not relax
    solution = highs.getSolution()
    values = np.asarray(solution.col_value, dtype=float) if has_solution else None
    objective = float(info.objective_function_value) if has_solution else math.nan
    bound = float(info.mip_dual_bound) if is_mip else objective
    duals = np.asarray(solution.row_dual, dtype=float) if (has_solution and not is_mip) else None
    nodes = int(info.mip_node_count) if is_mip else 0
    kind = _status(status, has_solution)
    if kind is SolveStatus.OPTIMAL and is_mip and not math.isfinite(bound):
        bound = objective
    return SolveResult(status=kind, objective=objective, bound=bound, seconds=seconds, values=values,
                       row_duals=duals, nodes=nodes, detail=highs.modelStatusToString(status))


def _status(status: highspy.HighsModelStatus, has_solution: bool) -> SolveStatus:
    done = {highspy.HighsModelStatus.kOptimal}
    infeasible = {highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible}
    if status in done and has_solution:
        return SolveStatus.OPTIMAL
    if status in infeasible:
        return SolveStatus.INFEASIBLE
    if has_solution:
        return SolveStatus.FEASIBLE
    limits = {highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kIterationLimit,
              highspy.HighsModelStatus.kInterrupt, highspy.HighsModelStatus.kSolutionLimit}
    return SolveStatus.NO_PLAN if status in limits else SolveStatus.ERROR


def load_values(compiled: CompiledModel, values: np.ndarray) -> None:
    """Write column values back into the Pyomo variables (so terms can be evaluated on the model)."""
    for var, value in zip(compiled.columns, values):
        var.set_value(float(value), skip_validation=True)

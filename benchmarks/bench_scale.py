"""ZIP-level scale (issue 8): the pipeline against cold HiGHS on the same model, generated and real instances.

    .venv/bin/python benchmarks/bench_scale.py --repeats 3 [--instances NAME ...] [--write]
    .venv/bin/python benchmarks/bench_scale.py --list

For each instance:

a) **Pipeline**: a fresh ``territory run`` process (``python -m optimizer.cli.main run``, the same entry point)
   per repetition, once with ``solver.target_gap`` 1 % and once with 0.2 % (a scenario file that
   ``extends`` the instance and overrides the key). Recorded: wall time of the process, exit code, status,
   certified gap, the phases of ``summary.json`` (``seconds``) and its ``stages``, and the child's peak
   memory (``ru_maxrss`` from ``os.wait4`` on that child). Exit code 4 is "no plan in T s"; a child that
   runs far past its limit is killed and reported as such.
b) **Cold HiGHS**: the same model, built from numpy arrays straight into ``highspy`` (see
   :func:`build_highs`) over **all** unit-base pairs with the bases the pipeline chose (read from
   ``territories.csv`` of its run folder), solved from scratch in a fresh process with the scenario's threads
   and the pipeline's time limit. Times to 1 % and 0.2 % come from HiGHS's MIP callbacks
   (``cbMipImprovingSolution``, ``cbMipLogging``, ``cbMipInterrupt``: ``mip_primal_bound``,
   ``mip_dual_bound``, ``running_time``), measured against HiGHS's own bound and against the larger of that
   and the pipeline's all-pairs LP bound (``summary.json`` ``lp_bound``). If the full model does not fit
   under ``--memory-limit-gb`` it is retried over each unit's nearest bases (halving until it fits) and the
   table says so. The child also recomputes the pipeline plan's cost in its own arrays (``same model``
   check) and whether the pipeline's bound is below cold HiGHS's best plan (``bound valid``).
c) A Markdown table (and the machine, versions, date and load average); ``--write`` puts it between
   ``<!-- bench_scale:start -->`` and ``<!-- bench_scale:end -->`` under "## ZIP-level scale (issue 8)" in
   BENCHMARKS.md, else it is printed.

Every timed child holds ``/tmp/territory-bench.lock`` (``fcntl.flock``, the lock ``flock(1)`` takes), so
runs of other developers' benchmarks that use the same lock do not overlap; time spent waiting for it is not
counted. Results are kept in ``~/.cache/territory-bench/results/`` (or ``$TERRITORY_BENCH_CACHE``) keyed
by the engine's code hash, the scenario and data hashes and the limits: an interrupted run resumes where it
stopped, and a change to ``optimizer/`` or ``models/`` reruns everything (``--fresh`` always reruns).
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import json
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Iterator

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.synthetic import PRESETS, InstanceSpec, cache_dir, ensure_instance  # noqa: E402

LOCK = Path("/tmp/territory-bench.lock")
START, END = "<!-- bench_scale:start -->", "<!-- bench_scale:end -->"
HEADING = "## ZIP-level scale (issue 8)"
GAPS = (0.01, 0.002)
EARTH_RADIUS_KM = 6371.0088
EXIT_NO_PLAN = 4
RESULT_VERSION = 1

SYNTHETIC = {f"synthetic-{s.units}x{s.territories}": s for s in
             (PRESETS["small"], PRESETS["5k"], PRESETS["20k"], PRESETS["40k"])}
REAL = {"national_counties": "national_counties.yaml", "national_counties_200": "national_counties_200.yaml",
        "national_zips": "national_zips.yaml"}
DEFAULT_INSTANCES = [*SYNTHETIC, "national_counties", "national_counties_200", "national_zips"]


# ---------------------------------------------------------------------------------------------------------
# The cold model: numpy arrays straight into highspy
# ---------------------------------------------------------------------------------------------------------

@dataclass
class ColdInstance:
    """The full alignment model's data, the same math as ``models/alignment.py``.

    ``load`` is each unit's workload in average territories, ``cost[i, t] = load[i] * distance_km[i, t]``,
    ``shared`` marks units whose assignment is a continuous share (sharing allowed and heavier than
    ``units.sharing.min_territory_share``), ``lower``/``upper`` the band per territory, ``penalty`` the soft
    band's price (``None``: hard band).
    """

    load: np.ndarray
    distance_km: np.ndarray
    shared: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    penalty: float | None = None
    unit_ids: np.ndarray | None = None
    territory_ids: np.ndarray | None = None
    distance_seconds: float = 0.0  # time to compute the distance matrix (part of building the model)

    @property
    def cost(self) -> np.ndarray:
        return self.load[:, None] * self.distance_km

    def plan_cost(self, unit: np.ndarray, territory: np.ndarray, share: np.ndarray) -> float:
        """Objective of a plan given as (unit index, territory index, share) rows, soft penalty included."""
        travel = float(np.sum(self.cost[unit, territory] * share))
        loads = np.bincount(territory, weights=self.load[unit] * share, minlength=len(self.lower))
        outside = np.maximum(self.lower - loads, 0.0) + np.maximum(loads - self.upper, 0.0)
        return travel + (self.penalty or 0.0) * float(outside.sum())

    def band_violation(self, unit: np.ndarray, territory: np.ndarray, share: np.ndarray) -> float:
        loads = np.bincount(territory, weights=self.load[unit] * share, minlength=len(self.lower))
        return float(np.max(np.maximum(self.lower - loads, 0.0) + np.maximum(loads - self.upper, 0.0)))


def great_circle_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Haversine distance in km (the scenario's default ``objective.distance``)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((np.radians(lon2) - np.radians(lon1)) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def instance_from_arrays(workload: np.ndarray, lat: np.ndarray, lon: np.ndarray, base_lat: np.ndarray,
                         base_lon: np.ndarray, tolerance: float, *, shared: np.ndarray | None = None,
                         penalty: float | None = None, targets: np.ndarray | None = None,
                         distance_km: np.ndarray | None = None) -> ColdInstance:
    """A :class:`ColdInstance` from raw workload and coordinates (great-circle distances unless given)."""
    began = time.perf_counter()
    k = len(base_lat)
    load = np.asarray(workload, float) / (float(np.sum(workload)) / k)
    if distance_km is None:
        distance_km = great_circle_km(np.asarray(lat)[:, None], np.asarray(lon)[:, None],
                                      np.asarray(base_lat)[None, :], np.asarray(base_lon)[None, :])
    target = np.ones(k) if targets is None else np.asarray(targets, float)
    return ColdInstance(load=load, distance_km=distance_km,
                        shared=np.zeros(len(load), bool) if shared is None else np.asarray(shared, bool),
                        lower=(1 - tolerance) * target, upper=(1 + tolerance) * target, penalty=penalty,
                        distance_seconds=time.perf_counter() - began)


@dataclass
class BuiltModel:
    """Column layout of a built cold model, and what it covers."""

    pair_unit: np.ndarray
    pair_territory: np.ndarray
    pairs_per_unit: int  # K when every pair is in
    build_seconds: float
    pass_seconds: float = 0.0

    @property
    def pairs(self) -> int:
        return len(self.pair_unit)


def model_arrays(inst: ColdInstance, pairs_per_unit: int | None = None) -> tuple[dict, BuiltModel]:
    """The alignment model as CSC arrays for ``Highs.passModel``; the same formulation as
    ``models/alignment.py``:

    - columns ``x[i, t]`` for every pair (unit-major order), in [0, 1], integer unless unit ``i`` is shared;
      soft band only: ``under[t]``, ``over[t]`` >= 0 priced at ``penalty``;
    - objective ``sum cost[i, t] x[i, t] (+ penalty * sum(under + over))``;
    - ``one_territory``: ``sum_t x[i, t] = 1`` for every unit (rows 0..N-1);
    - ``workload_in_band``: ``lower[t] <= sum_i load[i] x[i, t] (+ under[t] - over[t]) <= upper[t]``
      (rows N..N+K-1, ranged rows).

    ``pairs_per_unit`` < K keeps only each unit's nearest bases (shared units keep all): a *restricted*
    model, used only when the full one does not fit in memory.
    """
    began = time.perf_counter()
    n, k = inst.distance_km.shape
    if pairs_per_unit is None or pairs_per_unit >= k:
        pairs_per_unit = k
        unit = np.repeat(np.arange(n, dtype=np.int64), k)
        territory = np.tile(np.arange(k, dtype=np.int64), n)
    else:
        keep = np.zeros((n, k), bool)
        nearest = np.argpartition(inst.distance_km, pairs_per_unit - 1, axis=1)[:, :pairs_per_unit]
        np.put_along_axis(keep, nearest, True, axis=1)
        keep[inst.shared] = True
        unit, territory = np.nonzero(keep)
    coef = inst.load[unit]
    has_band_entry = coef != 0.0
    counts = 1 + has_band_entry.astype(np.int64)
    start = np.zeros(len(unit) + 1, np.int64)
    np.cumsum(counts, out=start[1:])
    nnz = int(start[-1])
    index = np.empty(nnz, np.int32)
    value = np.empty(nnz, np.float64)
    first = start[:-1]
    index[first] = unit
    value[first] = 1.0
    second = first[has_band_entry] + 1
    index[second] = n + territory[has_band_entry]
    value[second] = coef[has_band_entry]
    cost = inst.cost[unit, territory]
    col_lower = np.zeros(len(unit))
    col_upper = np.ones(len(unit))
    integrality = (~inst.shared[unit]).astype(np.int32)
    if inst.penalty is not None:  # under[t] (+1 in band row t), then over[t] (-1)
        extra_start = nnz + np.arange(1, 2 * k + 1, dtype=np.int64)
        start = np.concatenate([start, extra_start])
        index = np.concatenate([index, n + np.arange(k, dtype=np.int32), n + np.arange(k, dtype=np.int32)])
        value = np.concatenate([value, np.ones(k), -np.ones(k)])
        cost = np.concatenate([cost, np.full(2 * k, float(inst.penalty))])
        col_lower = np.concatenate([col_lower, np.zeros(2 * k)])
        col_upper = np.concatenate([col_upper, np.full(2 * k, np.inf)])
        integrality = np.concatenate([integrality, np.zeros(2 * k, np.int32)])
    row_lower = np.concatenate([np.ones(n), inst.lower])
    row_upper = np.concatenate([np.ones(n), inst.upper])
    arrays = dict(num_col=len(cost), num_row=n + k, num_nz=len(index), cost=cost, col_lower=col_lower,
                  col_upper=col_upper, row_lower=row_lower, row_upper=row_upper,
                  start=start[:-1].astype(np.int32),
                  index=index, value=value, integrality=integrality)
    return arrays, BuiltModel(unit, territory, pairs_per_unit, time.perf_counter() - began)


def new_highs(threads: int, seed: int, time_limit: float, target_gap: float, log_file: Path | None = None):
    import highspy

    highs = highspy.Highs()
    highs.setOptionValue("output_flag", log_file is not None)
    if log_file is not None:
        highs.setOptionValue("log_to_console", False)
        highs.setOptionValue("log_file", str(log_file))
    highs.setOptionValue("threads", int(threads))
    highs.setOptionValue("random_seed", int(seed))
    highs.setOptionValue("time_limit", float(time_limit))
    highs.setOptionValue("mip_rel_gap", float(target_gap))
    return highs


def pass_arrays(highs, arrays: dict) -> float:
    """``Highs.passModel`` from the arrays of :func:`model_arrays` (column-wise, minimise); seconds taken."""
    began = time.perf_counter()
    status = highs.passModel(arrays["num_col"], arrays["num_row"], arrays["num_nz"], 1, 1, 0.0,
                             arrays["cost"], arrays["col_lower"], arrays["col_upper"], arrays["row_lower"],
                             arrays["row_upper"], arrays["start"], arrays["index"], arrays["value"],
                             arrays["integrality"])
    if int(status) != 0:  # kOk
        raise RuntimeError(f"passModel returned {status}")
    return time.perf_counter() - began


@dataclass
class ColdResult:
    """What a cold solve reached, with its trajectory ``[(seconds, primal, dual), ...]`` in HiGHS time."""

    status: str
    objective: float
    bound: float
    seconds: float
    nodes: int
    trajectory: list = field(default_factory=list)
    values: np.ndarray | None = None

    def time_to(self, gap: float, extra_bound: float | None = None) -> float | None:
        """First HiGHS time at which the incumbent was within ``gap`` of the bound (or of ``extra_bound``)."""
        for seconds, primal, dual in self.trajectory:
            best = max(dual, extra_bound) if extra_bound is not None else dual
            if rel_gap(primal, best) <= gap + 1e-12:
                return seconds
        return None

    def final_gap(self, extra_bound: float | None = None) -> float:
        best = max(self.bound, extra_bound) if extra_bound is not None else self.bound
        return rel_gap(self.objective, best)


def rel_gap(primal: float, dual: float) -> float:
    """``(primal - dual) / |primal|`` (HiGHS's and the pipeline's definition); inf without both."""
    if not (math.isfinite(primal) and math.isfinite(dual)):
        return math.inf
    if abs(primal) < 1e-9:
        return 0.0 if abs(dual) < 1e-9 else math.inf
    return max(0.0, (primal - dual) / abs(primal))


def solve_cold(highs, time_limit: float, stop_gap: float, extra_bound: float | None = None,
               keep_values: bool = False) -> ColdResult:
    """Run a passed model from scratch, recording every incumbent and bound change through the callbacks.

    Stops at HiGHS's own ``mip_rel_gap``, at ``stop_gap`` against ``extra_bound`` (a bound known to hold,
    such as the all-pairs LP bound), or at ``time_limit`` (also enforced from the interrupt callback, since
    HiGHS has overrun its own limit in root cuts).
    """
    trajectory: list[tuple[float, float, float]] = []
    last = [math.inf, -math.inf]
    deadline = time.perf_counter() + time_limit * 1.05 + 1.0

    def record(event) -> None:
        out = event.data_out
        primal, dual = float(out.mip_primal_bound), float(out.mip_dual_bound)
        if primal != last[0] or dual != last[1]:
            last[:] = [primal, dual]
            trajectory.append((float(out.running_time), primal, dual))

    def interrupt(event) -> None:
        record(event)
        best = max(last[1], extra_bound) if extra_bound is not None else last[1]
        if time.perf_counter() > deadline or rel_gap(last[0], best) <= stop_gap:
            event.interrupt()

    highs.cbMipImprovingSolution.subscribe(record)
    highs.cbMipLogging.subscribe(record)
    highs.cbMipInterrupt.subscribe(interrupt)
    highs.cbSimplexInterrupt.subscribe(lambda event: event.interrupt() if time.perf_counter() > deadline else None)
    began = time.perf_counter()
    highs.run()
    seconds = time.perf_counter() - began
    info = highs.getInfo()
    has_plan = info.primal_solution_status == 2  # kSolutionStatusFeasible
    objective = float(info.objective_function_value) if has_plan else math.inf
    bound = float(info.mip_dual_bound)
    if has_plan:
        trajectory.append((float(highs.getRunTime()), objective, bound))
    values = np.asarray(highs.getSolution().col_value) if (has_plan and keep_values) else None
    return ColdResult(status=highs.modelStatusToString(highs.getModelStatus()), objective=objective, bound=bound,
                      seconds=seconds, nodes=int(info.mip_node_count), trajectory=trajectory, values=values)


# ---------------------------------------------------------------------------------------------------------
# The cold child: one fresh process per cold solve (peak memory is then the model's own)
# ---------------------------------------------------------------------------------------------------------

def cold_instance_from_run(scenario_path: Path, run_folder: Path | None) -> tuple[ColdInstance, str, object]:
    """The full model of ``scenario_path`` with the bases of ``run_folder/territories.csv``.

    Units and the workload index are read by ``optimizer.areas.units.load_units`` (the instance's definition);
    bases come from the run folder (or, when the run wrote no plan, from ``optimizer.alignment.pipeline.prepare``, the
    same deterministic choice); distances, band, shares and the model itself are computed here.
    """
    import pandas as pd

    from optimizer.alignment.feasibility import shareable_units
    from optimizer.core.scenario import load_scenario
    from optimizer.areas.units import load_units

    scenario = load_scenario(scenario_path)
    _refuse_side_rules(scenario)
    units = load_units(scenario.units, scenario.workload)
    if run_folder is not None and (run_folder / "territories.csv").is_file():
        bases = pd.read_csv(run_folder / "territories.csv", dtype={"base_unit_id": str, "territory_id": str},
                            keep_default_na=False)
        source = f"bases from {run_folder.name}/territories.csv"
    else:
        from optimizer.alignment.prepare import prepare
        from optimizer.core.run import PhaseTimer

        frame = prepare(scenario, PhaseTimer(), lambda _: None).bases.frame
        bases = frame.rename(columns={}).astype({"base_unit_id": str})
        source = "bases recomputed with optimizer.alignment.pipeline.prepare (the run wrote no plan)"
    position = {uid: i for i, uid in enumerate(units.ids)}
    base_unit = np.array([position.get(u, -1) for u in bases["base_unit_id"]])
    # a base at a unit sits at that unit's centroid exactly (as optimizer.areas.bases places it)
    base_lat = np.where(base_unit >= 0, units.lat[np.maximum(base_unit, 0)], bases["base_lat"].to_numpy(float))
    base_lon = np.where(base_unit >= 0, units.lon[np.maximum(base_unit, 0)], bases["base_lon"].to_numpy(float))
    k = len(bases)
    began = time.perf_counter()
    if scenario.objective.distance == "projected":
        from pyproj import Transformer

        bx, by = Transformer.from_crs("EPSG:4326", "EPSG:5070", always_xy=True).transform(base_lon, base_lat)
        bx = np.where(base_unit >= 0, units.xy[np.maximum(base_unit, 0), 0], bx)
        by = np.where(base_unit >= 0, units.xy[np.maximum(base_unit, 0), 1], by)
        distance = np.hypot(units.xy[:, 0:1] - bx[None, :], units.xy[:, 1:2] - by[None, :]) / 1000.0
    else:
        distance = None
    factor = np.array([scenario.balance.targets.get(t, 1.0) for t in bases["territory_id"]])
    inst = instance_from_arrays(units.workload, units.lat, units.lon, base_lat, base_lon, scenario.balance.tolerance,
                                shared=shareable_units(units, scenario, k), penalty=scenario.balance.soft_penalty,
                                targets=factor * k / factor.sum(), distance_km=distance)
    inst.unit_ids, inst.territory_ids = units.ids, bases["territory_id"].to_numpy()
    inst.distance_seconds = time.perf_counter() - began
    return inst, source, scenario


def _refuse_side_rules(scenario) -> None:
    if scenario.contiguity.required or scenario.realignment is not None or scenario.balance.measures \
            or scenario.rules.locks or scenario.rules.together or scenario.rules.apart \
            or scenario.territories.candidates is not None:
        raise SystemExit("cold model: side rules (contiguity, realignment, locks, groups, extra bands, candidates) "
                         "are not part of the numpy model; benchmark plain alignment scenarios only")


def read_plan(inst: ColdInstance, run_folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    import pandas as pd

    path = run_folder / "assignments.csv"
    if not path.is_file():
        return None
    rows = pd.read_csv(path, dtype={"unit_id": str, "territory_id": str}, keep_default_na=False)
    unit_pos = {u: i for i, u in enumerate(inst.unit_ids)}
    terr_pos = {t: i for i, t in enumerate(inst.territory_ids)}
    return (np.array([unit_pos[u] for u in rows["unit_id"]]), np.array([terr_pos[t] for t in rows["territory_id"]]),
            rows["share"].to_numpy(float))


def cold_child(args: argparse.Namespace) -> None:
    """Entry point of the cold child process: build, pass, solve, write a JSON result."""
    began = time.perf_counter()
    run_folder = Path(args.run) if args.run else None
    inst, bases_source, scenario = cold_instance_from_run(Path(args.scenario), run_folder)
    data_seconds = time.perf_counter() - began
    summary = json.loads((run_folder / "summary.json").read_text()) if run_folder and \
        (run_folder / "summary.json").is_file() else {}
    lp_bound = summary.get("lp_bound")
    result: dict = {"bases": bases_source, "data_seconds": data_seconds, "lp_bound": lp_bound,
                    "units": int(inst.distance_km.shape[0]), "territories": int(inst.distance_km.shape[1]),
                    "shared_units": int(inst.shared.sum())}
    plan = read_plan(inst, run_folder) if run_folder else None
    if plan is not None:
        result["pipeline_objective"] = summary.get("objective")
        result["pipeline_bound"] = summary.get("bound")
        result["pipeline_objective_recomputed"] = inst.plan_cost(*plan)
        result["pipeline_band_violation"] = inst.band_violation(*plan)
    arrays, built = model_arrays(inst, args.pairs_per_unit)
    result.update(pairs=built.pairs, pairs_per_unit=built.pairs_per_unit,
                  build_seconds=inst.distance_seconds + built.build_seconds,
                  rows=arrays["num_row"], columns=arrays["num_col"], nonzeros=arrays["num_nz"],
                  integer_columns=int(arrays["integrality"].sum()))
    _write_json(Path(args.out), result | {"state": "built"})
    highs = new_highs(scenario.solver.threads, scenario.solver.seed, args.time_limit, args.stop_gap,
                      Path(args.log) if args.log else None)
    result["pass_seconds"] = pass_arrays(highs, arrays)
    del arrays
    cold = solve_cold(highs, args.time_limit, args.stop_gap, lp_bound)
    result.update(status=cold.status, objective=_num(cold.objective), bound=_num(cold.bound),
                  highs_seconds=cold.seconds, nodes=cold.nodes, trajectory=[list(map(_num, t)) for t in cold.trajectory],
                  threads=scenario.solver.threads, time_limit=args.time_limit, state="done")
    for gap in GAPS:
        result[f"time_to_{gap}"] = cold.time_to(gap)
        result[f"time_to_{gap}_lp"] = cold.time_to(gap, lp_bound)
    result["final_gap"] = _num(cold.final_gap())
    result["final_gap_lp"] = _num(cold.final_gap(lp_bound))
    _write_json(Path(args.out), result)


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _write_json(path: Path, data: dict) -> None:
    partial = path.with_suffix(f".partial{os.getpid()}")
    partial.write_text(json.dumps(data, indent=1) + "\n")
    partial.replace(path)


# ---------------------------------------------------------------------------------------------------------
# Running children: lock, wall time, peak memory, time-outs, memory watchdog
# ---------------------------------------------------------------------------------------------------------

@dataclass
class Child:
    returncode: int | None
    wall: float
    maxrss_mb: float
    killed: str = ""  # "timeout" or "memory" when we ended it
    lock_wait: float = 0.0
    load_before: float = 0.0
    stderr: str = ""


_held: list[object] = []


@contextmanager
def bench_lock() -> Iterator[float]:
    """Hold ``/tmp/territory-bench.lock`` (what ``flock(1)`` takes); yields the seconds spent waiting.

    Re-entrant within this process: an instance holds it for all its runs, so other benchmarks queued on the
    lock do not slip in between them (flock wakes waiters in no particular order).
    """
    if _held:
        yield 0.0
        return
    LOCK.touch(exist_ok=True)
    with open(LOCK, "a") as lock:
        waited = time.perf_counter()
        fcntl.flock(lock, fcntl.LOCK_EX)
        _held.append(lock)
        try:
            yield time.perf_counter() - waited
        finally:
            _held.clear()
            fcntl.flock(lock, fcntl.LOCK_UN)


def run_child(cmd: list[str], timeout: float, memory_limit_gb: float, log: Path) -> Child:
    """Run ``cmd`` holding the bench lock; peak memory from ``os.wait4`` on that child only."""
    with bench_lock() as lock_wait:
        load_before = os.getloadavg()[0]
        with open(log, "wb") as out:
            began = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            killed: list[str] = []
            done = threading.Event()
            watcher = threading.Thread(target=_watch, args=(proc.pid, began + timeout, memory_limit_gb, killed, done),
                                       daemon=True)
            watcher.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            except BaseException:  # Ctrl-C: the child runs in its own session, so end it here
                os.killpg(proc.pid, signal.SIGKILL)
                os.waitpid(proc.pid, 0)
                raise
            wall = time.perf_counter() - began
            done.set()
            proc.returncode = os.waitstatus_to_exitcode(status)
    tail = log.read_text(errors="replace").strip().splitlines()[-3:]
    return Child(proc.returncode, wall, usage.ru_maxrss / 1024.0, killed[0] if killed else "", lock_wait,
                 load_before, " / ".join(tail))


def _watch(pid: int, deadline: float, memory_limit_gb: float, killed: list[str], done: threading.Event) -> None:
    """Kill our child's process group past its deadline or above the memory limit."""
    while not done.wait(0.5):
        reason = "timeout" if time.perf_counter() > deadline else ""
        if not reason and _rss_gb(pid) > memory_limit_gb:
            reason = "memory"
        if reason:
            killed.append(reason)
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return


def _rss_gb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0 / 1024.0
    except (OSError, ValueError):
        pass
    return 0.0


# ---------------------------------------------------------------------------------------------------------
# Instances, scenario variants and the result cache
# ---------------------------------------------------------------------------------------------------------

def instance_scenario(name: str) -> Path:
    """The scenario file of a named instance (generated instances come from the cache)."""
    if name in SYNTHETIC:
        return ensure_instance(SYNTHETIC[name])
    match = re.fullmatch(r"synthetic-(\d+)x(\d+)(?:-s(\d+))?(?:-h(\d+))?", name)
    if match:
        units, territories, seed, heavy = (int(g) if g else 0 for g in match.groups())
        return ensure_instance(InstanceSpec(units, territories, seed, heavy))
    if name in REAL:
        return REPO / "scenarios" / REAL[name]
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path.resolve()
    raise SystemExit(f"unknown instance {name!r}; known: {', '.join(DEFAULT_INSTANCES)}, synthetic-NxK[-sS][-hH], "
                     "or a scenario file")


def variant(scenario: Path, gap: float, time_limit: float | None, work: Path) -> Path:
    """A scenario file extending ``scenario`` with ``solver.target_gap`` (and time limit) overridden."""
    overrides = {"solver.target_gap": gap} | ({"solver.time_limit": time_limit} if time_limit else {})
    path = work / f"gap-{gap:g}.yaml"
    path.write_text(f"extends: {scenario}\noverrides:\n" + "".join(f"  {k}: {v}\n" for k, v in overrides.items()))
    return path


def identity(scenario: Path) -> dict:
    """What a cached result must match: the engine code, the scenario and its data."""
    from optimizer.outputs.folders import code_hash
    from optimizer.outputs.folders import file_hash
    from optimizer.core.scenario import load_scenario

    spec = load_scenario(scenario)
    return {"code_hash": code_hash(), "scenario_hash": spec.digest(), "data_hash": file_hash(spec.units.dataset),
            "time_limit": spec.solver.time_limit, "threads": spec.solver.threads,
            "result_version": RESULT_VERSION}


def load_cache(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


# ---------------------------------------------------------------------------------------------------------
# Measuring one instance
# ---------------------------------------------------------------------------------------------------------

def measure_pipeline(name: str, scenario: Path, gap: float, repeat: int, args, work: Path) -> dict:
    path = variant(scenario, gap, args.time_limit, work)
    out = work / f"run-gap{gap:g}-r{repeat}"
    spec_limit = _time_limit(path)
    cmd = [sys.executable, "-m", "optimizer.cli.main", "run", str(path), "--out", str(out)]
    child = run_child(cmd, 2 * spec_limit + 180, args.memory_limit_gb, work / f"run-gap{gap:g}-r{repeat}.log")
    record = {"gap_target": gap, "repeat": repeat, "exit_code": child.returncode, "wall": child.wall,
              "maxrss_mb": child.maxrss_mb, "killed": child.killed, "lock_wait": child.lock_wait,
              "load_before": child.load_before, "time_limit": spec_limit, "folder": str(out),
              "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    summary_path = out / "summary.json"
    if child.returncode == 0 and summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        keys = ("status", "objective", "bound", "gap", "lp_bound", "units", "territories", "seconds", "stages",
                "shared_units", "bound_scope")
        record |= {k: summary.get(k) for k in keys}
        record["code_hash"] = summary.get("versions", {}).get("code_hash")
    else:
        record["status"] = "no plan" if child.returncode == EXIT_NO_PLAN else (child.killed or "error")
        record["error"] = child.stderr[-400:]
    print(f"  pipeline {name} gap {gap:.1%} #{repeat + 1}: exit {child.returncode}, {child.wall:.1f} s, "
          f"gap {_pct(record.get('gap'))}, {child.maxrss_mb:.0f} MB, load {child.load_before:.2f}"
          + (f" ({record['status']})" if child.returncode else ""), flush=True)
    return record


def measure_cold(name: str, scenario: Path, run_folder: Path | None, args, work: Path) -> dict:
    limit = args.cold_time_limit or args.time_limit or _time_limit(scenario)
    per_unit: int | None = None
    attempts = []
    while True:
        out = work / f"cold-{per_unit or 'all'}.json"
        out.unlink(missing_ok=True)
        cmd = [sys.executable, str(Path(__file__).resolve()), "_cold", "--scenario", str(scenario),
               "--time-limit", str(limit), "--stop-gap", str(min(GAPS)), "--out", str(out),
               "--log", str(work / f"cold-{per_unit or 'all'}.highs.log")]
        cmd += ["--run", str(run_folder)] if run_folder else []
        cmd += ["--pairs-per-unit", str(per_unit)] if per_unit else []
        child = run_child(cmd, 2 * limit + 600, args.memory_limit_gb, work / f"cold-{per_unit or 'all'}.log")
        result = load_cache(out)
        result |= {"exit_code": child.returncode, "wall": child.wall, "maxrss_mb": child.maxrss_mb,
                   "killed": child.killed, "load_before": child.load_before, "lock_wait": child.lock_wait}
        attempts.append({k: result.get(k) for k in ("pairs_per_unit", "pairs", "killed", "exit_code", "maxrss_mb")})
        print(f"  cold {name} ({result.get('pairs', '?')} pairs): exit {child.returncode}"
              f"{' killed: ' + child.killed if child.killed else ''}, {child.wall:.1f} s, {child.maxrss_mb:.0f} MB, "
              f"gap {_pct(result.get('final_gap'))} (vs LP bound {_pct(result.get('final_gap_lp'))})", flush=True)
        k = result.get("territories")
        if child.killed != "memory" or not k:
            break
        per_unit = (per_unit or k) // 2
        if per_unit < 4:
            break
    result["attempts"] = attempts
    return result


def _time_limit(scenario: Path) -> float:
    from optimizer.core.scenario import load_scenario

    return float(load_scenario(scenario).solver.time_limit)


def measure_instance(name: str, args) -> dict:
    work = cache_dir() / "work" / name
    work.mkdir(parents=True, exist_ok=True)
    scenario = instance_scenario(name)
    ident = identity(scenario) | {"time_limit_override": args.time_limit, "cold_time_limit": args.cold_time_limit}
    cache_path = cache_dir() / "results" / f"{name}.json"
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    cached = {} if args.fresh else load_cache(cache_path)
    if cached.get("identity") != ident:
        cached = {}
    state = {"identity": ident, "instance": name, "scenario": str(scenario),
             "pipeline": cached.get("pipeline", []), "cold": cached.get("cold")}
    print(f"{name}: {scenario}", flush=True)
    with bench_lock() as waited:
        if waited > 1:
            print(f"  waited {waited:.0f} s for {LOCK}", flush=True)
        _measure_all(name, scenario, state, cache_path, args, work)
    return state


def cached_state(name: str) -> dict | None:
    """The results last measured for ``name`` (whatever engine code they were measured with)."""
    state = load_cache(cache_dir() / "results" / f"{name}.json")
    if not state:
        print(f"{name}: nothing cached", file=sys.stderr)
    return state or None


def _measure_all(name: str, scenario: Path, state: dict, cache_path: Path, args, work: Path) -> None:
    for gap in args.gaps:
        for repeat in range(args.repeats):
            if any(r["gap_target"] == gap and r["repeat"] == repeat for r in state["pipeline"]):
                continue
            state["pipeline"].append(measure_pipeline(name, scenario, gap, repeat, args, work))
            _write_json(cache_path, state)
    if not args.skip_cold and state["cold"] is None:
        planned = [r for r in state["pipeline"] if r.get("exit_code") == 0]
        folder = Path(planned[0]["folder"]) if planned else None
        state["cold"] = measure_cold(name, variant(scenario, min(GAPS), args.time_limit, work), folder, args, work)
        _write_json(cache_path, state)


# ---------------------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------------------

STAGE_KINDS = ("LP", "repair", "local", "MIP")


def stage_split(stages: list[dict]) -> dict[str, float]:
    """Seconds per kind of stage as ``stages`` records them: LP (pricing LPs), repair (MIP or heuristic, the dive
    on heavy units included), local search, and every other stage (MIPs, windows of MIPs)."""
    split = dict.fromkeys(STAGE_KINDS, 0.0)
    for stage in stages or []:
        seconds = stage.get("seconds")
        if seconds is None:
            continue
        name = str(stage.get("stage", ""))
        kind = ("LP" if name.startswith("lp") else "repair" if "repair" in name or name == "dive"
                else "local" if "local" in name else "MIP")
        split[kind] += float(seconds)
    return split


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _pct(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.2%}"


def _s(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


HANDOVER_KEYS = ("handover", "hand_over", "hand-over", "pass")


def _planned(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r.get("exit_code") == 0 and r.get("seconds")]


def pipeline_cells(records: list[dict], gap: float) -> dict:
    runs = [r for r in records if r["gap_target"] == gap]
    reached = [r for r in runs if r.get("exit_code") == 0 and r.get("gap") is not None and r["gap"] <= gap + 1e-9]
    limit = runs[0]["time_limit"] if runs else None
    if not runs:
        time_cell = "not run"
    elif reached:
        time_cell = _s(_median([r["wall"] for r in reached]), 1) + ("" if len(reached) == len(runs) else
                                                                   f" ({len(reached)} of {len(runs)} runs)")
    else:
        planned = [r for r in runs if r.get("exit_code") == 0]
        killed = [r for r in runs if r.get("killed")]
        time_cell = (f"not in {limit:g} s (best gap {_pct(min(r['gap'] for r in planned))})" if planned
                     else f"no plan in {limit:g} s" + (f" ({len(killed)} killed)" if killed else ""))
    return {"runs": runs, "reached": reached, "time": time_cell,
            "wall": _median([r["wall"] for r in reached]) if reached else None,
            "gaps": [r.get("gap") for r in runs if r.get("exit_code") == 0]}


def build_share(runs: list[dict]) -> str:
    """(build + hand-over) / wall of the runs that wrote a plan (median); ``*`` when no hand-over is recorded."""
    ok = _planned(runs)
    if not ok:
        return "-"
    shares, recorded = [], False
    for r in ok:
        handover = sum(float(r["seconds"].get(k, 0.0)) for k in HANDOVER_KEYS)
        recorded |= any(k in r["seconds"] for k in HANDOVER_KEYS)
        shares.append((float(r["seconds"].get("build", 0.0)) + handover) / r["wall"])
    return _pct(_median(shares)) + ("" if recorded else "\\*")


def headline_row(state: dict) -> str:
    records = state["pipeline"]
    one, fine = pipeline_cells(records, GAPS[0]), pipeline_cells(records, GAPS[1])
    first = next((r for r in records if r.get("units")), None)
    cold = state.get("cold") or {}
    size = (f"{first['units']:,} x {first['territories']}" if first else
            f"{cold['units']:,} x {cold['territories']}" if cold.get("units") else "?")
    gaps = " / ".join(_pct(max(c["gaps"])) if c["gaps"] else "-" for c in (one, fine))
    memory = max((r["maxrss_mb"] for r in records), default=None)
    to_one, to_fine, at_limit, ratio = cold_headline(cold, one["wall"])
    return (f"| {state['instance']} | {size} | {one['time']} | {fine['time']} | {gaps} | {build_share(one['runs'])} | "
            f"{_s(memory, 0)} MB | {to_one} | {to_fine} | {at_limit} | {ratio} |")


def cold_headline(cold: dict, pipeline_wall: float | None) -> tuple[str, str, str, str]:
    """Cold HiGHS: time to 1 %, to 0.2 %, gap at the limit, ratio of times to 1 % (cold / pipeline)."""
    if not cold:
        return "not run", "not run", "-", "-"
    if cold.get("state") != "done":
        reason = cold.get("killed") or f"exit {cold.get('exit_code')}"
        return f"failed ({reason})", "-", "-", "-"
    setup = cold["build_seconds"] + cold["pass_seconds"]
    limit = cold["time_limit"]
    scope = "" if cold["pairs_per_unit"] >= cold["territories"] else f" (nearest {cold['pairs_per_unit']} bases only)"

    def reach(gap: float) -> tuple[str, float | None]:
        own, lp = cold.get(f"time_to_{gap}"), cold.get(f"time_to_{gap}_lp")
        if own is None and lp is None:
            return f"not in {limit:g} s", None
        best = min(t for t in (own, lp) if t is not None)
        text = f"{setup + best:.1f}" + (f" ({setup + own:.1f} on its own bound)" if own is not None and own != best
                                       else " (LP bound)" if own is None else "")
        return text, setup + best

    to_one, seconds_one = reach(GAPS[0])
    to_fine, _ = reach(GAPS[1])
    at_limit = f"{_pct(cold.get('final_gap'))} / {_pct(cold.get('final_gap_lp'))} at {cold['highs_seconds']:.0f} s{scope}"
    if pipeline_wall is None:
        ratio = "-"
    elif seconds_one is None:
        ratio = f"> {(setup + limit) / pipeline_wall:.1f}x"
    else:
        ratio = f"{seconds_one / pipeline_wall:.1f}x"
    return to_one + scope, to_fine, at_limit, ratio


def phase_rows(states: list[dict]) -> list[str]:
    """Median seconds per phase (``summary.json`` ``seconds``) and per kind of solver stage."""
    keys: list[str] = []
    for state in states:
        for r in _planned(state["pipeline"]):
            keys += [k for k in r["seconds"] if k != "total" and k not in keys]
    head = ["instance", "target", "runs with a plan", "wall", "start-up", *keys, *(f"solve: {k}" for k in STAGE_KINDS),
            "unaccounted"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for state in states:
        for gap in GAPS:
            runs = [r for r in state["pipeline"] if r["gap_target"] == gap]
            ok = _planned(runs)
            if not runs:
                continue
            if not ok:
                lines.append(f"| {state['instance']} | {gap:.1%} | 0 of {len(runs)} |" + " - |" * (len(head) - 3))
                continue
            med = lambda f: _median([f(r) for r in ok])  # noqa: E731
            total = med(lambda r: r["seconds"].get("total", 0.0))
            phases = [med(lambda r, k=k: r["seconds"].get(k, 0.0)) for k in keys]
            stages = [med(lambda r, k=k: stage_split(r.get("stages"))[k]) for k in STAGE_KINDS]
            other = med(lambda r: r["seconds"].get("total", 0.0) - sum(r["seconds"].get(k, 0.0) for k in keys))
            cells = [state["instance"], f"{gap:.1%}", f"{len(ok)} of {len(runs)}", _s(med(lambda r: r["wall"]), 2),
                     _s(med(lambda r: r["wall"]) - total, 2), *(_s(v, 2) for v in phases),
                     *(_s(v, 2) for v in stages), _s(other, 2)]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def cold_rows(states: list[dict]) -> list[str]:
    head = ["instance", "model (rows x columns, integer columns)", "pairs", "build + passModel, s", "HiGHS s, status, nodes",
            "best plan / bound", "peak memory", "pipeline plan re-costed here", "pipeline bound <= cold plan",
            "pipeline plan >= cold bound"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for state in states:
        cold = state.get("cold")
        if not cold:
            continue
        if cold.get("state") != "done":
            tried = "; ".join(f"{a.get('pairs') or '?'} pairs: {a.get('killed') or 'exit ' + str(a.get('exit_code'))} at "
                              f"{_s(a.get('maxrss_mb'), 0)} MB" for a in cold.get("attempts", []))
            lines.append(f"| {state['instance']} | failed: {tried} |" + " - |" * (len(head) - 2))
            continue
        k = cold["territories"]
        scope = "all" if cold["pairs_per_unit"] >= k else f"nearest {cold['pairs_per_unit']} of {k} bases (memory)"
        recost = cold.get("pipeline_objective_recomputed")
        claimed = cold.get("pipeline_objective")
        same = "-" if recost is None or claimed is None else (
            "same" if abs(recost - claimed) <= 1e-6 * max(1.0, abs(claimed)) else f"**differs**: {recost:.6g} vs {claimed:.6g}")
        bound_ok = "-" if cold.get("pipeline_bound") is None or cold.get("objective") is None else (
            "yes" if cold["pipeline_bound"] <= cold["objective"] * (1 + 1e-7) + 1e-6 else "**NO**")
        plan_ok = "-" if claimed is None or cold.get("bound") is None or cold["pairs_per_unit"] < k else (
            "yes" if claimed >= cold["bound"] * (1 - 1e-7) - 1e-6 else "**NO**")
        cells = [state["instance"], f"{cold['rows']:,} x {cold['columns']:,} ({cold['integer_columns']:,})",
                 f"{cold['pairs']:,} ({scope})", f"{cold['build_seconds']:.2f} + {cold['pass_seconds']:.2f}",
                 f"{cold['highs_seconds']:.1f}, {cold['status']}, {cold['nodes']:,}",
                 f"{_s(cold.get('objective'), 2)} / {_s(cold.get('bound'), 2)}", f"{_s(cold.get('maxrss_mb'), 0)} MB",
                 same, bound_ok, plan_ok]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def header(states: list[dict], args, loads: tuple[tuple[float, ...], tuple[float, ...]]) -> list[str]:
    from optimizer.solver.highs import highs_version

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("pyomo", "highspy", "numpy"))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "optimizer", "models"], cwd=REPO, capture_output=True,
                           text=True).stdout.strip()
    codes = sorted({r["code_hash"] for s in states for r in s["pipeline"] if r.get("code_hash")}
                   or {s["identity"]["code_hash"] for s in states})
    when = sorted({r["when"] for s in states for r in s["pipeline"] if r.get("when")})
    run_loads = [r["load_before"] for s in states for r in s["pipeline"]] + \
        [s["cold"]["load_before"] for s in states if s.get("cold") and s["cold"].get("load_before") is not None]
    command = "benchmarks/bench_scale.py " + " ".join(a for a in sys.argv[1:] if a not in ("--write", "--from-cache"))
    counts = sorted({sum(r["gap_target"] == g for r in s["pipeline"]) for s in states for g in GAPS} - {0})
    repeats = "-".join(map(str, counts[:1] + counts[-1:] if len(counts) > 1 else counts)) or "0"
    return [
        f"Command: `.venv/bin/python {command.strip()}` ({repeats} fresh `territory run` processes per "
        "instance and target gap, medians; one cold HiGHS process per instance).",
        "",
        f"Machine: `nproc` {os.cpu_count()}, {cpu}, {mem_gb:.0f} GB RAM; Python {platform.python_version()}; "
        f"{versions} (HiGHS {highs_version()}). Commit {commit}"
        + (" with uncommitted changes in optimizer/ or models/" if dirty else "")
        + f", engine code hash {', '.join(codes)}"
        + (" (the working tree changed during the measurement: runs used different engine code)" if len(codes) > 1
           else "") + f". Measured {when[0][:16] if when else '?'} to "
        f"{when[-1][:16] if when else '?'} UTC; 1-minute load average {min(run_loads, default=0):.2f}-"
        f"{max(run_loads, default=0):.2f} just before the timed processes ({loads[0][0]:.2f} when this invocation "
        f"started, {loads[1][0]:.2f} when it ended). Each timed process held `/tmp/territory-bench.lock`; time "
        "waiting for it is not counted.",
        "",
    ]


HEADLINE = ("| instance | units x territories | pipeline to 1 %, s | pipeline to 0.2 %, s | certified gap, 1 % / 0.2 % "
            "runs (max) | build + hand-over share of end-to-end | peak memory, pipeline | cold HiGHS to 1 %, s | "
            "cold HiGHS to 0.2 %, s | cold HiGHS gap at the limit, own bound / all-pairs LP bound | cold / pipeline, "
            "time to 1 % |")

NOTES = [
    "",
    "How to read it:",
    "- Pipeline times are the median wall time of the whole `territory run` process (Python start-up, data, "
    "bases, model, solves, independent checks, map) over the runs that ended with a certified gap at or below "
    "the target; \"not in T s\" gives the best gap the runs reached, \"no plan in T s\" means exit code 4 (or "
    "killed far past the limit). Phases are `summary.json` `seconds` (medians over the runs that wrote a "
    "plan); the `solve:` columns are its `stages` grouped by name (LP: pricing LPs; repair: repair MIP or "
    "heuristic; local: local search; MIP: every other stage, e.g. improving or certifying MIPs and windows), "
    "with the seconds each stage records; `unaccounted` is `total` minus the phases (e.g. handing "
    "models to HiGHS); `start-up` is the process wall time minus `total`.",
    "- \\* The run folder records no hand-over time, so the share counts `build` only (Pyomo build plus the "
    "standard-form compile; `passModel` is inside `unaccounted`).",
    "- Cold HiGHS solves the same model (one_territory rows, ranged band rows, a binary per pair, continuous "
    "shares for shareable units, under/over columns for a soft band: `model_arrays` in "
    "`benchmarks/bench_scale.py`, the formulation of `models/alignment.py`) over all unit-base pairs with the "
    "pipeline's bases, from scratch, with the scenario's threads and the pipeline's time limit. Its times are "
    "the numpy build (distances included) plus `passModel` plus HiGHS's own clock, read from its MIP "
    "callbacks; Python start-up and data loading are not counted, which favours it. The all-pairs LP bound is "
    "the pipeline's `lp_bound`, used when tighter than HiGHS's bound. \"Re-costed here\" is the pipeline "
    "plan's cost in the cold model's arrays (both solve the same model); the last two columns check the "
    "pipeline's certified bound and plan against cold HiGHS's best plan and bound.",
]


def render(states: list[dict], args, loads) -> str:
    lines = header(states, args, loads)
    lines += [HEADLINE, "|" + "---|" * 11]
    lines += [headline_row(s) for s in states]
    lines += ["", "Phase split, seconds (medians):", ""] + phase_rows(states)
    lines += ["", "Cold HiGHS, one run per instance:", ""] + cold_rows(states)
    lines += NOTES
    missing = getattr(args, "missing", [])
    if missing:
        lines += [f"- Not measured yet (no cached results): {', '.join(missing)}."]
    return "\n".join(lines) + "\n"


def write_section(text: str, path: Path = REPO / "BENCHMARKS.md") -> None:
    """Replace the marked section of BENCHMARKS.md (appended under its heading when absent)."""
    content = path.read_text(encoding="utf-8")
    block = f"{START}\n{text}{END}"
    if START in content and END in content:
        before, rest = content.split(START, 1)
        after = rest.split(END, 1)[1]
        content = before + block + after
    else:
        content = content.rstrip("\n") + f"\n\n{HEADING}\n\n{block}\n"
    path.write_text(content, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_cold"]:
        cold = argparse.ArgumentParser(prog="bench_scale.py _cold")
        cold.add_argument("--scenario", required=True)
        cold.add_argument("--run")
        cold.add_argument("--time-limit", type=float, required=True)
        cold.add_argument("--stop-gap", type=float, default=min(GAPS))
        cold.add_argument("--pairs-per-unit", type=int)
        cold.add_argument("--out", required=True)
        cold.add_argument("--log")
        return cold_child(cold.parse_args(argv[1:]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", nargs="+", default=DEFAULT_INSTANCES,
                        help="named instances (see --list), synthetic-NxK[-sS][-hH], or scenario files")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gaps", type=float, nargs="+", default=list(GAPS), help=argparse.SUPPRESS)
    parser.add_argument("--time-limit", type=float, help="override solver.time_limit of every instance")
    parser.add_argument("--cold-time-limit", type=float, help="cold HiGHS limit (default: the pipeline's)")
    parser.add_argument("--memory-limit-gb", type=float, default=12.0, help="kill a child above this RSS")
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="ignore cached results")
    parser.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    parser.add_argument("--from-cache", action="store_true",
                        help="only render the table from the results cached for --instances (no runs)")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(DEFAULT_INSTANCES))
        return
    load_start = os.getloadavg()
    if args.from_cache:
        states = [cached_state(name) for name in args.instances]
        args.missing = [n for n, s in zip(args.instances, states) if s is None]
        states = [s for s in states if s is not None]
    else:
        states = [measure_instance(name, args) for name in args.instances]
    text = render(states, args, (load_start, os.getloadavg()))
    if args.write:
        write_section(text)
        print(f"wrote the section between {START} and {END} in BENCHMARKS.md")
    print(text)


if __name__ == "__main__":
    main()

"""What a Dask worker does for one scenario of a sweep, and the sweep.csv row read back from a run folder.

Only the scenario *path and overrides* travel to the worker (Pyomo models do not pickle): the worker
loads, validates, builds and solves with the scenario kind's own runner, which writes the run folder
atomically. Errors the user can act on come back as a row with the error line; anything else is raised
so that Dask retries the scenario (``retries=``) before it is recorded.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer.core.errors import ExitCode, TerritoryError

SUMMARY = "summary.json"
MAX_THREADS = 64
STATUS_OF_EXIT = {
    ExitCode.BAD_INPUT: "bad_input",
    ExitCode.INFEASIBLE: "infeasible",
    ExitCode.NO_PLAN_IN_TIME: "no_plan",
    ExitCode.CHECK_FAILED: "check_failed",
    ExitCode.UNEXPECTED: "error",
}
NOT_RUN = "not_run"
FAILED = frozenset({*STATUS_OF_EXIT.values(), "no_plan", NOT_RUN})  # any other status is a run with a plan


@dataclass(frozen=True)
class SweepTask:
    """Everything a worker needs for one scenario: plain values only, so it pickles anywhere."""

    name: str  # the run folder's name
    title: str  # the scenario's name in its summary and map: "<sweep name>/<name>"
    scenario: str
    overrides: dict[str, Any]
    folder: str
    slots_per_host: dict[str, int]
    threads: int | None = None  # fixed solver threads; None: the cores of the worker's host / its task slots


def run_task(task: SweepTask) -> dict[str, Any]:
    """Load, solve and write one scenario; return its row (``status``, metrics, ``error``).

    A :class:`TerritoryError` (bad override, infeasible, no plan in time) is a result: its row carries
    the error line. Any other exception propagates, so that Dask retries the scenario elsewhere.
    """
    from optimizer.core.kinds import kind_of, resolve
    from optimizer.core.scenario import load_scenario

    began = time.perf_counter()
    threads = task.threads or threads_for_this_worker(task.slots_per_host)
    base = {"scenario": task.name, "threads": threads, "worker": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        spec = load_scenario(task.scenario, {"name": task.title, **task.overrides})
        spec = pin_threads(spec, threads)
        outcome = resolve(kind_of(spec).runner)(spec, Path(task.folder))
    except TerritoryError as exc:
        status = STATUS_OF_EXIT.get(exc.exit_code, "error")
        return {**base, "status": status, "error": exc.line(), "task_seconds": _since(began)}
    row = row_from_folder(Path(task.folder), outcome.summary)
    return {**row, **base, "task_seconds": _since(began)}


def threads_for_this_worker(slots_per_host: dict[str, int]) -> int:
    """Solver threads that keep this host's concurrent solves within its cores: cores // slots, at least 1."""
    slots = slots_per_host.get(_worker_host(), 0) or max(slots_per_host.values(), default=1)
    return max(1, min(MAX_THREADS, available_cores() // max(slots, 1)))


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and ``taskset`` narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pin_threads(spec: Any, threads: int) -> Any:
    """The scenario with ``solver.threads`` set, when its kind has that setting (else unchanged)."""
    solver = getattr(spec, "solver", None)
    if solver is None or "threads" not in type(solver).model_fields:
        return spec
    return spec.model_copy(update={"solver": solver.model_copy(update={"threads": threads})})


def is_complete(folder: Path) -> bool:
    """A run folder is complete when its summary exists (it is written last, inside the atomic rename)."""
    return (folder / SUMMARY).is_file()


def row_from_folder(folder: Path, summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sweep.csv metrics of a finished run folder, read from its summary and territory table."""
    summary = summary if summary is not None else json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    band = summary.get("band") or {}
    seconds = summary.get("seconds") or {}
    return {
        "scenario": summary.get("scenario"),
        "status": summary.get("status"),
        "objective": summary.get("objective"),
        "bound": summary.get("bound"),
        "gap": summary.get("gap"),
        "seconds": seconds.get("total"),
        "units": summary.get("units"),
        "territories": summary.get("territories"),
        "max_abs_deviation_pct": band.get("max_abs_deviation_pct"),
        "territories_outside_band": _count(band.get("territories_outside_band")),
        "weighted_distance_km": weighted_distance_km(folder),
        "shared_units": _count(summary.get("shared_units")),
        "threads": (summary.get("solver") or {}).get("threads"),
        **moved(summary.get("moves")),
        "error": "",
    }


def moved(moves: dict[str, Any] | None) -> dict[str, Any]:
    """A realignment's moves: units that changed territory, and the moved share (in %) of what "moved"
    measures (the workload index unless ``realignment.measure`` names a column)."""
    if not moves:
        return {"units_moved": None, "workload_moved_pct": None}
    share = next((value for key, value in moves.items()  # workload_moved_share, or <realignment.measure>_moved_share
                  if key.endswith("_moved_share") and isinstance(value, (int, float))), None)
    return {"units_moved": moves.get("units_moved"), "workload_moved_pct": None if share is None else 100 * share}


def weighted_distance_km(folder: Path) -> float | None:
    """Workload-weighted mean distance from each unit to its base, over the whole plan (km)."""
    path = folder / "territories.csv"
    if not path.is_file():
        return None
    import pandas as pd

    table = pd.read_csv(path, usecols=lambda c: c in ("workload", "weighted_distance_km"))
    if not {"workload", "weighted_distance_km"} <= set(table.columns) or table["workload"].sum() <= 0:
        return None
    return float((table["workload"] * table["weighted_distance_km"]).sum() / table["workload"].sum())


def _count(items: list | None) -> int | None:
    """How many items a summary lists; None when the scenario kind does not report that list."""
    return None if items is None else len(items)


def _worker_host() -> str:
    try:
        from distributed import get_worker

        return get_worker().address.split("://")[-1].rsplit(":", 1)[0]
    except (ImportError, ValueError):
        return socket.gethostname()


def _since(began: float) -> float:
    return round(time.perf_counter() - began, 3)

"""Running a sweep on ``dask.distributed``: one task per scenario, one row per scenario in sweep.csv.

Layout of ``out``::

    out/sweep.csv       one row per scenario: overrides, status, objective, gap, seconds, metrics, error
    out/sweep.html      the trade-off plots (non-dominated scenarios marked), offline
    out/sweep.json      how the batch ran: workers, scheduler, threads per solve, versions
    out/runs/<name>/    each scenario's run folder, exactly as ``territory run`` writes it

Faults: a scenario that fails for a reason the user can act on is a row with its error line; a worker
that dies mid-solve has its scenario re-run on another worker by the scheduler (up to ``retries`` deaths,
the scheduler's ``allowed-failures``); an exception that is not ours is retried ``retries`` times with
Dask's ``retries=``. Run folders are written atomically, and an interrupted sweep removes the staging
folders it leaves, so every folder under ``runs/`` is complete.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer.core.errors import InputError
from optimizer.outputs.folder_lock import remove_stale
from optimizer.sweep.file import SweepFile, SweepScenario, load_sweep
from optimizer.sweep.result import SweepRun
from optimizer.sweep.task import (
    NOT_RUN,
    SUMMARY,
    SweepTask,
    available_cores,
    is_complete,
    row_from_folder,
    run_task,
)

RUNS = "runs"
Progress = Callable[[dict[str, Any], int, int], None]  # (row just finished, finished so far, total)


@dataclass(frozen=True)
class SweepOptions:
    """How to run a sweep: a local cluster of ``workers`` or an existing ``scheduler``."""

    workers: int | None = None  # local cluster size; None: one per core
    scheduler: str | None = None  # address of a running scheduler, e.g. tcp://10.0.0.5:8786
    resume: bool = False  # skip scenarios whose run folder is complete
    solver_threads: int | None = None  # fixed threads per solve; None: host cores // concurrent solves


def run_sweep(path: Path, out: Path, options: SweepOptions, progress: Progress = lambda *_: None) -> SweepRun:
    """Run every scenario of the sweep file ``path`` into ``out`` and write sweep.csv, .html and .json.

    The cluster starts in the background as soon as the sweep file says how many scenarios are to run
    (its workers import the engine meanwhile), while this process reads the resumed rows and imports what
    writing the outputs needs; at the end the cluster closes while the outputs are written.

    Raises
    ------
    InputError
        When the sweep file is wrong or the scheduler cannot be reached (nothing is run then).
    KeyboardInterrupt
        After the outputs of the finished scenarios are written and staging folders removed.
    """
    spec, scenarios = load_sweep(Path(path))
    out = Path(out).resolve()
    runs = out / RUNS
    runs.mkdir(parents=True, exist_ok=True)
    remove_staging(runs, scenarios)
    complete = {s.name for s in scenarios if options.resume and is_complete(runs / s.name)}
    todo = [s for s in scenarios if s.name not in complete]
    result = SweepRun(spec=spec, scenarios=scenarios, rows=[], out=out, started=time.time())
    began = time.perf_counter()
    cluster = BackgroundCluster(options, len(todo), spec.retries) if todo else None
    done: dict[str, dict[str, Any]] = {}
    try:
        done.update(_resumed_rows([s for s in scenarios if s.name in complete], runs))
        _import_output_modules()
        if cluster is not None:
            client, result.cluster = cluster.client()
            _run_on(client, todo, runs, options, spec, done, progress, len(scenarios))
    except BaseException as exc:
        if cluster is not None:
            cluster.close()  # before the staging folders go: no worker of ours can write one after that
        if not isinstance(exc, KeyboardInterrupt):
            raise
        result.interrupted = True
        if options.scheduler is None:  # our workers are gone; elsewhere a cancelled solve may still finish
            remove_staging(runs, scenarios)
        _finish(result, done, began, Path(path))
        raise
    closing = cluster.close_in_background() if cluster is not None else None
    try:
        _finish(result, done, began, Path(path))
    finally:
        if closing is not None:
            closing.join()
    return result


def _import_output_modules() -> None:
    """Import what writing sweep.csv/.html/.json needs while the cluster starts, not after the last scenario:
    pandas, and pyomo and highspy for the versions in sweep.json (0.5-1 s together)."""
    import optimizer.outputs.folders  # noqa: F401
    import optimizer.solver.highs  # noqa: F401 - versions() asks it for the HiGHS version
    import optimizer.sweep.output  # noqa: F401
    import pandas  # noqa: F401


def _finish(result: SweepRun, done: dict[str, dict[str, Any]], began: float, path: Path) -> None:
    from optimizer.sweep.output import write_outputs

    result.cluster["seconds"] = round(time.perf_counter() - began, 3)
    result.rows = _ordered_rows(result.scenarios, done, result.out / RUNS, result.started)
    write_outputs(result, path)


def _resumed_rows(scenarios: list[SweepScenario], runs: Path) -> dict[str, dict[str, Any]]:
    rows = {}
    for s in scenarios:
        folder = runs / s.name
        if is_complete(folder):
            rows[s.name] = {**row_from_folder(folder), "scenario": s.name, "resumed": True}
    return rows


def _run_on(client: Any, todo: list[SweepScenario], runs: Path, options: SweepOptions, spec: SweepFile,
            done: dict[str, dict[str, Any]], progress: Progress, total: int) -> None:
    """Submit every scenario, then record each row as it finishes (in completion order)."""
    from distributed import as_completed

    slots, title, retries = slots_per_host(client), spec.name, spec.retries
    token = uuid.uuid4().hex[:8]
    futures = {}
    for s in todo:
        task = SweepTask(name=s.name, title=f"{title}/{s.name}", scenario=str(s.scenario), overrides=s.overrides,
                         folder=str(runs / s.name), slots_per_host=slots, threads=options.solver_threads)
        future = client.submit(run_task, task, key=f"sweep-{token}-{s.name}", pure=False, retries=retries)
        futures[future] = s
    try:
        for future in as_completed(list(futures)):
            s = futures[future]
            row = _row_of(future, s, retries)
            if row.get("error"):  # the run failed: a folder left from an earlier run is stale now
                shutil.rmtree(runs / s.name, ignore_errors=True)
            done[s.name] = row
            progress(row, len(done), total)
    except BaseException:
        client.cancel(list(futures))
        raise


def _row_of(future: Any, scenario: SweepScenario, retries: int) -> dict[str, Any]:
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        error = ("every worker that ran it died, until the scheduler gave up (its allowed-failures); it may need "
                 "more memory than one worker has (give workers more memory or run it alone with `territory run`)")
    except Exception as exc:  # noqa: BLE001 - a bug that survived the retries: record it, the batch goes on
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())} (after {retries} retries)"
    return {"scenario": scenario.name, "status": "error", "error": error}


def _ordered_rows(scenarios: list[SweepScenario], done: dict[str, dict[str, Any]], runs: Path,
                  since: float) -> list[dict]:
    """Rows in sweep order; a scenario whose result was not collected is read from its folder if this
    sweep wrote it (it finished while the sweep was being interrupted), else marked not run."""
    rows = []
    for s in scenarios:
        folder = runs / s.name
        row = done.get(s.name)
        if row is None and is_complete(folder) and (folder / SUMMARY).stat().st_mtime >= since:
            row = {**row_from_folder(folder), "scenario": s.name}
        row = row or {"scenario": s.name, "status": NOT_RUN,
                      "error": "the sweep stopped before this scenario finished; rerun with --resume"}
        rows.append({**row, "case": s.case, "grid": s.grid, "overrides": s.overrides,
                     "folder": f"{RUNS}/{s.name}" if is_complete(folder) else ""})
    return rows


class BackgroundCluster:
    """A Dask client set up in a background thread: on a new LocalCluster (processes, one thread each,
    the engine imported in each worker as it starts) or on ``options.scheduler``.

    :meth:`client` waits for it; :meth:`close` (or :meth:`close_in_background`) closes the client and the
    cluster we started, also when the start was interrupted or failed.
    """

    def __init__(self, options: SweepOptions, tasks: int, retries: int) -> None:
        self._opened: dict[str, Any] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._open, args=(options, tasks, retries), daemon=True,
                                        name="sweep-cluster-start")
        self._thread.start()

    def client(self) -> tuple[Any, dict[str, Any]]:
        """The connected client and what it runs on (waits for the start; re-raises its error)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._opened["client"], self._opened["info"]

    def close(self) -> None:
        """Close the client and our LocalCluster (waits for the start to finish first)."""
        self._thread.join()
        client, cluster = self._opened.pop("client", None), self._opened.pop("cluster", None)
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def close_in_background(self) -> threading.Thread:
        """Close in a thread (a worker that imported the engine takes about a second to exit); join it."""
        closing = threading.Thread(target=self.close, name="sweep-cluster-close")
        closing.start()
        return closing

    def _open(self, options: SweepOptions, tasks: int, retries: int) -> None:
        try:
            self._opened.update(_open_client(options, tasks, retries, self._opened))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by client()
            self._error = exc


def _open_client(options: SweepOptions, tasks: int, retries: int, opened: dict[str, Any]) -> dict[str, Any]:
    import dask
    from distributed import Client, LocalCluster

    from optimizer.sweep.worker import EnginePreload

    if options.scheduler:
        client = _connect(options.scheduler)
        opened["client"] = client
        client.register_plugin(EnginePreload())  # idempotent: workers that already have it skip it
        return {"client": client, "info": {"scheduler": options.scheduler,
                                           "workers": len(client.scheduler_info()["workers"])}}
    workers = max(1, min(options.workers or available_cores(), tasks))
    with dask.config.set({"distributed.scheduler.allowed-failures": retries}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.CRITICAL,  # faults go to rows
                               plugins=(EnginePreload(),))  # run in each worker before it takes tasks
    opened["cluster"] = cluster
    client = Client(cluster)
    return {"client": client, "cluster": cluster,
            "info": {"scheduler": "LocalCluster", "workers": workers, "threads_per_worker": 1}}


def _connect(address: str) -> Any:
    from distributed import Client

    fix = "start one with `dask scheduler` and attach workers with `dask worker ADDRESS`"
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError("--scheduler", f"cannot reach a Dask scheduler at {address} ({exc})", fix) from None
    try:
        client.wait_for_workers(1, timeout=30)
    except TimeoutError:
        client.close()
        raise InputError("--scheduler", f"the scheduler at {address} has no workers after 30 s", fix) from None
    return client


def slots_per_host(client: Any) -> dict[str, int]:
    """Host -> how many tasks its workers run at once (the sum of their threads)."""
    slots: dict[str, int] = {}
    for info in client.scheduler_info(n_workers=-1)["workers"].values():
        slots[info["host"]] = slots.get(info["host"], 0) + int(info["nthreads"])
    return slots


def remove_staging(runs: Path, scenarios: list[SweepScenario]) -> None:
    """Delete the hidden staging and old-copy folders a killed or interrupted run leaves beside ``runs/<name>``."""
    for s in scenarios:
        for pattern in (f".{s.name}.partial-*", f".{s.name}.old-*"):
            for leftover in runs.glob(pattern):
                shutil.rmtree(leftover, ignore_errors=True)
        remove_stale(runs / s.name)  # the lock of a worker stopped while it wrote

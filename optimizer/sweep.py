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
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer.errors import InputError
from optimizer.sweep_file import SweepFile, SweepScenario, load_sweep
from optimizer.sweep_task import (
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


@dataclass
class SweepRun:
    """What ran: the rows in scenario order, where they were written and whether it was interrupted."""

    spec: SweepFile
    scenarios: list[SweepScenario]
    rows: list[dict[str, Any]]
    out: Path
    cluster: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    started: float = 0.0  # wall-clock time the sweep started (seconds since the epoch)


def run_sweep(path: Path, out: Path, options: SweepOptions, progress: Progress = lambda *_: None) -> SweepRun:
    """Run every scenario of the sweep file ``path`` into ``out`` and write sweep.csv, .html and .json.

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
    done = _resumed_rows(scenarios, runs) if options.resume else {}
    todo = [s for s in scenarios if s.name not in done]
    result = SweepRun(spec=spec, scenarios=scenarios, rows=[], out=out, started=time.time())
    began = time.perf_counter()
    try:
        if todo:
            with cluster_client(options, len(todo), spec.retries) as (client, info):
                result.cluster = info
                _run_on(client, todo, runs, options, spec, done, progress, len(scenarios))
    except KeyboardInterrupt:
        result.interrupted = True
        if options.scheduler is None:  # our workers are gone; elsewhere a cancelled solve may still finish
            remove_staging(runs, scenarios)
        _finish(result, done, began, Path(path))
        raise
    _finish(result, done, began, Path(path))
    return result


def _finish(result: SweepRun, done: dict[str, dict[str, Any]], began: float, path: Path) -> None:
    from optimizer.sweep_output import write_outputs

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


@contextmanager
def cluster_client(options: SweepOptions, tasks: int, retries: int) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A Dask client: on a new LocalCluster (processes, one thread each) or on ``options.scheduler``."""
    import dask
    from distributed import Client, LocalCluster

    if options.scheduler:
        client = _connect(options.scheduler)
        try:
            yield client, {"scheduler": options.scheduler, "workers": len(client.scheduler_info()["workers"])}
        finally:
            client.close()
        return
    workers = max(1, min(options.workers or available_cores(), tasks))
    with dask.config.set({"distributed.scheduler.allowed-failures": retries}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.CRITICAL)  # faults go to rows
    client = Client(cluster)
    try:
        yield client, {"scheduler": "LocalCluster", "workers": workers, "threads_per_worker": 1}
    finally:
        client.close()
        cluster.close()


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

"""Benchmark ``territory sweep``: the Texas sweep on 1 vs 2 workers, its fixed costs, Dask's overhead per scenario.

    flock /tmp/territory-bench.lock .venv/bin/python benchmarks/bench_sweep.py [--repeats 3] [--texas-only]

1. ``scenarios/texas_sweep.yaml`` (18 realignment scenarios with limits.csv) as a fresh ``territory sweep``
   process on a LocalCluster of 1 worker (solver threads pinned to cores // 1), 1 worker with 1 solver
   thread, and 2 workers (1 thread each). Wall time covers the whole command: start-up, cluster, solves,
   maps, sweep.csv, shutdown. The machine is shared, so before each round the script waits until other
   jobs leave the cores idle (``--quiet-cores``), each round also runs a control (8 tasks of 1 CPU-second
   on 1 and on 2 workers), and the cores other jobs used during each run are measured from /proc/stat.
   ``--small-grid`` also times the previous 9-scenario grid (texas_counties.yaml, headcount x band, about
   1 s per scenario), whose speed-up is bounded by the fixed costs.
2. Fixed costs: the sweep's own cluster (2 workers importing the engine as they start) from start to a
   ready client and its close; wall minus the sum of task time on 1 worker; the data load per scenario.
3. Overhead per scenario: a sweep of 24 trivial scenarios (3 x 3 grid, 2 territories) on 1 worker; the
   time between two consecutive results minus the time spent inside the second task is what Dask and the
   sweep's bookkeeping add to each scenario (median). A round trip of 200 no-op Dask tasks is the floor.

Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
TEXAS = REPO / "scenarios" / "texas_sweep.yaml"
SMALL_GRID = {"name": "texas-small-grid", "base": str(REPO / "scenarios" / "texas_counties.yaml"),
              "grid": {"territories.count": [16, 20, 24], "balance.tolerance": [0.03, 0.05, 0.08]},
              "overrides": {"solver.time_limit": 60}}  # the shipped Texas sweep until 2026-11-27
CONFIGS = (("1 worker, 2 solver threads", ["--workers", "1"]),
           ("1 worker, 1 solver thread", ["--workers", "1", "--solver-threads", "1"]),
           ("2 workers, 1 solver thread each", ["--workers", "2"]))


def busy_seconds() -> float:
    """Core-seconds the whole machine has spent busy (not idle or waiting for I/O), from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU seconds of this process and its finished children (the sweep and its workers)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


OTHERS: list[float] = []  # cores used by other jobs during each Texas run
QUIET: list[str] = []  # what the machine looked like before each round


def others_busy(seconds: float = 5.0) -> float:
    """Cores other jobs keep busy while this script idles for ``seconds`` (from /proc/stat)."""
    before = busy_seconds()
    time.sleep(seconds)
    return (busy_seconds() - before) / seconds


def wait_for_quiet(limit: float, patience: float) -> None:
    """Wait (up to ``patience`` seconds) until other jobs use under ``limit`` cores; note what was found."""
    began = time.monotonic()
    while True:
        busy = others_busy()
        load = os.getloadavg()[0]
        if busy < limit or time.monotonic() - began > patience:
            waited = time.monotonic() - began
            QUIET.append(f"others {busy:.2f} cores, load {load:.2f}" + (f", after waiting {waited:.0f} s" if
                                                                         waited > 10 else "")
                         + ("" if busy < limit else " (NOT quiet: gave up waiting)"))
            return
        print(f"waiting: other jobs use {busy:.2f} cores (load {load:.2f})", file=sys.stderr, flush=True)
        time.sleep(10)


OTHERS_BY: dict[tuple[str, str], list[float]] = {}  # the same, per (sweep, configuration)


def sweep_once(sweep: Path, out: Path, flags: list[str]) -> tuple[float, pd.DataFrame]:
    """One fresh ``territory sweep`` process: (wall seconds, its sweep.csv)."""
    machine_before, own_before = busy_seconds(), own_seconds()
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "optimizer.cli.main", "sweep", str(sweep), "--out", str(out), *flags],
                          check=False, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - began
    OTHERS.append(((busy_seconds() - machine_before) - (own_seconds() - own_before)) / wall)
    if done.returncode != 0:
        sys.exit(f"territory sweep {sweep.name} {' '.join(flags)} failed:\n{done.stdout}{done.stderr}")
    return wall, pd.read_csv(out / "sweep.csv")


def texas(repeats: int, tmp: Path, sweeps: list[tuple[str, Path]], configs: tuple, quiet: tuple[float, float],
          max_others: float, attempts: int) -> dict[str, list[tuple[str, list[float], list[pd.DataFrame]]]]:
    """Each sweep and configuration ``repeats`` times, interleaved so that load from other jobs hits them
    alike; each round runs the CPU-bound control (:func:`control_speedup`). Every run waits for a quiet
    machine first, and a run during which other jobs used more than ``max_others`` cores is discarded and
    run again (up to ``attempts`` times; the last attempt is kept and flagged by its others figure)."""
    walls = {(name, label): [] for name, _ in sweeps for label, _ in configs}
    tables: dict[tuple[str, str], list[pd.DataFrame]] = {key: [] for key in walls}
    for i in range(repeats):
        wait_for_quiet(*quiet)
        CONTROL.append(control_speedup())
        for name, sweep in sweeps:
            for k, (label, flags) in enumerate(configs):
                for attempt in range(attempts):
                    wait_for_quiet(*quiet)
                    out = tmp / f"{name}-{k}-{i}-{attempt}"
                    wall, table = sweep_once(sweep, out, flags)
                    table = table.assign(load_seconds=load_seconds(out, table))
                    shutil.rmtree(out / "runs", ignore_errors=True)
                    if OTHERS[-1] <= max_others:
                        break
                    DISCARDED.append(f"{name} / {label}: {wall:.1f} s with others at {OTHERS[-1]:.2f} cores")
                    print(f"discarded: {DISCARDED[-1]}", file=sys.stderr, flush=True)
                OTHERS_BY.setdefault((name, label), []).append(OTHERS[-1])
                walls[(name, label)].append(wall)
                tables[(name, label)].append(table)
                print(f"{name} / {label}: {wall:.1f} s, others {OTHERS[-1]:.2f} cores", file=sys.stderr, flush=True)
    return {name: [(label, walls[(name, label)], tables[(name, label)]) for label, _ in configs]
            for name, _ in sweeps}


DISCARDED: list[str] = []  # runs thrown away because other jobs used the cores meanwhile


def load_seconds(out: Path, table: pd.DataFrame) -> list[float | None]:
    """Each scenario's ``load`` phase (reading and filtering the units), from its summary."""
    values = []
    for folder in table["folder"].fillna(""):
        path = out / folder / "summary.json"
        values.append(json.loads(path.read_text())["seconds"].get("load") if folder and path.is_file() else None)
    return values


CONTROL: list[float] = []  # speed-up of pure CPU work on 2 vs 1 workers, once per round


def burn(seconds: float) -> int:
    """Spend ``seconds`` of CPU time in Python (the control task)."""
    began = time.process_time()
    while time.process_time() - began < seconds:
        sum(range(1000))
    return os.getpid()


def control_speedup(tasks: int = 8) -> float:
    """What the machine gives right now: ``tasks`` x 1 CPU-second on 1 worker, then on 2, as a ratio."""
    from distributed import Client, LocalCluster

    walls = []
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            began = time.perf_counter()
            client.gather([client.submit(burn, 1.0, pure=False) for _ in range(tasks)])
            walls.append(time.perf_counter() - began)
    return walls[0] / walls[1]


def trivial_sweep(folder: Path, count: int) -> Path:
    """A sweep of ``count`` scenarios over a 3 x 3 grid (they differ only in the HiGHS seed)."""
    import geopandas as gpd
    from shapely.geometry import box

    cells = [box(-100 + c, 30 + r, -99 + c, 31 + r) for r in range(3) for c in range(3)]
    units = gpd.GeoDataFrame({"unit_id": [f"U{i}" for i in range(9)], "name": [f"U{i}" for i in range(9)],
                              "labor_force": [1000.0 + 37 * i for i in range(9)]}, geometry=cells, crs="EPSG:4326")
    units.to_file(folder / "tiny.gpkg", layer="units")
    base = {"name": "tiny", "units": {"dataset": "tiny.gpkg"}, "workload": {"measures": {"labor_force": 1.0}},
            "territories": {"count": 2}, "balance": {"tolerance": 0.3}}
    (folder / "tiny.yaml").write_text(yaml.safe_dump(base))
    sweep = {"name": f"tiny-{count}", "base": "tiny.yaml", "grid": {"solver.seed": list(range(count))}}
    path = folder / f"tiny_{count}.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


def overhead(repeats: int, tmp: Path) -> dict[str, float]:
    """Per scenario on 1 worker: time between two consecutive results minus the time inside the task."""
    from optimizer.sweep.run import SweepOptions, run_sweep

    sweep = trivial_sweep(tmp, 24)
    gaps, inside = [], []
    for i in range(repeats):
        stamps: list[tuple[float, dict]] = []

        def stamp(row: dict, done: int, total: int, stamps: list = stamps) -> None:
            stamps.append((time.perf_counter(), row))

        run_sweep(sweep, tmp / f"tiny-{i}", SweepOptions(workers=1), stamp)
        for (before, _), (after, row) in itertools.pairwise(stamps):
            gaps.append(after - before - row["task_seconds"])
            inside.append(row["task_seconds"])
    start, close = cluster_start_stop(repeats)
    return {"task": statistics.median(inside), "overhead": statistics.median(gaps),
            "noop": noop_round_trip(), "start": start, "close": close}


def cluster_start_stop(repeats: int) -> tuple[float, float]:
    """Median seconds to start the sweep's 2-worker cluster (until the client is ready, the engine imported
    in both workers) and to close it: fixed costs of every sweep."""
    from optimizer.sweep.run import BackgroundCluster, SweepOptions

    starts, closes = [], []
    for _ in range(repeats):
        began = time.perf_counter()
        cluster = BackgroundCluster(SweepOptions(workers=2), tasks=2, retries=2)
        cluster.client()
        ready = time.perf_counter()
        cluster.close()
        starts.append(ready - began)
        closes.append(time.perf_counter() - ready)
    return statistics.median(starts), statistics.median(closes)


def noop_round_trip(tasks: int = 200) -> float:
    """Seconds per no-op task submitted and gathered on a 1-worker LocalCluster."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        client.gather([client.submit(int, i, pure=False) for i in range(10)])  # warm
        began = time.perf_counter()
        client.gather([client.submit(int, i, pure=False) for i in range(tasks)])
        return (time.perf_counter() - began) / tasks


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores (nproc), {cpu}, Python {platform.python_version()}; load average {load}"


def report(repeats: int, results: dict, cost: dict[str, float], before: str) -> None:
    names = ("dask", "distributed", "pyomo", "highspy")
    print(f"Machine: {machine()} (at the start: {before}); " + ", ".join(f"{n} {metadata.version(n)}" for n in names))
    head = subprocess.run(["git", "log", "-1", "--format=%h"], capture_output=True, text=True, cwd=REPO).stdout.strip()
    dirty = subprocess.run(["git", "status", "--short", "--untracked-files=no"], capture_output=True, text=True,
                           cwd=REPO).stdout.split()[1::2]
    print(f"Code: commit {head}" + (f", with uncommitted changes to {', '.join(dirty)}" if dirty else "") + "."
          if head else f"Code: {REPO} is not a git checkout (an export: name its commit in the notes).")
    print(f"Repeats: {repeats} fresh `territory sweep` processes per row, rows interleaved; medians.")
    print("Before each run (waiting for a quiet machine): " + "; ".join(QUIET) + ".")
    print("Discarded and run again (other jobs busy meanwhile): " + ("; ".join(DISCARDED) or "none") + ".\n")
    for name, rows in results.items():
        print(f"| {name}, {len(rows[0][2][0])} scenarios | wall s (median) | runs | statuses | sum of task s "
              "(median) | wall - task s / workers | others, cores | speed-up vs first row |")
        print("|---|---|---|---|---|---|---|---|")
        base = statistics.median(rows[0][1])
        for label, walls, tables in rows:
            med = statistics.median(walls)
            statuses = ", ".join(f"{n} {s}" for s, n in tables[-1]["status"].value_counts().items())
            runs = " ".join(f"{w:.1f}" for w in walls)
            task = statistics.median(t["task_seconds"].sum() for t in tables)
            workers = int(dict(CONFIGS)[label][1])
            others = "-".join(f"{x:.2f}" for x in (min(OTHERS_BY[(name, label)]), max(OTHERS_BY[(name, label)])))
            print(f"| {label} | {med:.1f} | {runs} | {statuses} | {task:.1f} | {med - task / workers:.1f} | {others} | "
                  f"{base / med:.2f}x |")
        by_label = {label: statistics.median(walls) for label, walls, _ in rows}
        one, two = by_label.get(CONFIGS[1][0]), by_label.get(CONFIGS[2][0])
        if one and two:
            print(f"\n{name}: 2 workers vs 1 worker with the same 1 solver thread: {one / two:.2f}x")
        loads = [v for _, _, tables in rows for t in tables for v in t["load_seconds"] if v == v and v is not None]
        totals = [v for _, _, tables in rows for t in tables for v in t["seconds"] if v == v]
        print(f"{name}: data load per scenario {statistics.median(loads):.3f} s (median of {len(loads)}), "
              f"a scenario's run {statistics.median(totals):.2f} s (median)\n")
    kept = [x for values in OTHERS_BY.values() for x in values]
    print(f"Other jobs on the machine used {statistics.median(kept):.2f} cores (median over the kept runs; "
          f"{min(kept):.2f} to {max(kept):.2f}) of the {os.cpu_count()}.")
    print(f"Control, 8 tasks of 1 CPU-second each, 2 vs 1 workers: {statistics.median(CONTROL):.2f}x (median; "
          + ", ".join(f"{c:.2f}" for c in CONTROL) + ").\n")
    if not cost:
        return
    print("| overhead | seconds |")
    print("|---|---|")
    print(f"| the sweep's cluster of 2 workers: start until ready (engine imported in both) | {cost['start']:.2f} |")
    print(f"| the same cluster: close (overlapped with writing the outputs in a sweep) | {cost['close']:.2f} |")
    print(f"| trivial scenario (3 x 3 grid): time inside the task (load, solve, map) | {cost['task']:.3f} |")
    print(f"| per scenario on 1 worker: gap between results minus time inside the task | {cost['overhead']:.4f} |")
    print(f"| bare Dask round trip per no-op task | {cost['noop']:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--texas-only", action="store_true", help="Skip the overhead measurements.")
    parser.add_argument("--small-grid", action="store_true", help="Also time the previous 9-scenario grid.")
    parser.add_argument("--configs", default="0,1,2", help="Which rows of CONFIGS to run (default all: 0,1,2).")
    parser.add_argument("--quiet-cores", type=float, default=0.3,
                        help="Wait before each round until other jobs use fewer cores than this.")
    parser.add_argument("--patience", type=float, default=900, help="Longest wait for a quiet machine, s.")
    parser.add_argument("--max-others", type=float, default=0.25,
                        help="Discard and rerun a timed run during which other jobs used more cores than this.")
    parser.add_argument("--attempts", type=int, default=4, help="Runs per timed run at most (see --max-others).")
    args = parser.parse_args()
    before = "load average " + " / ".join(f"{x:.1f}" for x in os.getloadavg())
    configs = tuple(CONFIGS[int(i)] for i in args.configs.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        sweeps = [("scenarios/texas_sweep.yaml", TEXAS)]
        if args.small_grid:
            small = Path(tmp) / "texas_small_grid.yaml"
            small.write_text(yaml.safe_dump(SMALL_GRID, sort_keys=False))
            sweeps.append(("previous 9-scenario Texas grid", small))
        results = texas(args.repeats, Path(tmp), sweeps, configs, (args.quiet_cores, args.patience),
                        args.max_others, args.attempts)
        cost = overhead(args.repeats, Path(tmp)) if not args.texas_only else {}
    report(args.repeats, results, cost, before)


if __name__ == "__main__":
    main()

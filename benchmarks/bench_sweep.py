"""Benchmark ``territory sweep``: the Texas sweep on 1 vs 2 workers, and Dask's overhead per scenario.

    .venv/bin/python benchmarks/bench_sweep.py [--repeats 5] [--texas-only]

1. ``scenarios/texas_sweep.yaml`` (9 scenarios) as a fresh ``territory sweep`` process on a LocalCluster of
   1 worker (solver threads pinned to cores // 1), 1 worker with 1 solver thread, and 2 workers (1 thread
   each). Wall time covers the whole command: start-up, cluster, solves, maps, sweep.csv, shutdown.
   The machine is shared, so each round also runs a control (8 tasks of 1 CPU-second on 1 and on 2
   workers) and the cores other jobs used during the runs are measured from /proc/stat.
2. Overhead per scenario: a sweep of 24 trivial scenarios (3 x 3 grid, 2 territories) on 1 worker; the
   time between two consecutive results minus the time spent inside the second task is what Dask and the
   sweep's bookkeeping add to each scenario (median). A round trip of 200 no-op Dask tasks is the floor,
   and a 2-worker LocalCluster's start and close is the fixed cost of a sweep.

Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import platform
import resource
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


def sweep_once(sweep: Path, out: Path, flags: list[str]) -> tuple[float, pd.DataFrame]:
    """One fresh ``territory sweep`` process: (wall seconds, its sweep.csv)."""
    machine_before, own_before = busy_seconds(), own_seconds()
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "optimizer.cli", "sweep", str(sweep), "--out", str(out), *flags],
                          check=False, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - began
    OTHERS.append(((busy_seconds() - machine_before) - (own_seconds() - own_before)) / wall)
    if done.returncode != 0:
        sys.exit(f"territory sweep {sweep.name} {' '.join(flags)} failed:\n{done.stdout}{done.stderr}")
    return wall, pd.read_csv(out / "sweep.csv")


def texas(repeats: int, tmp: Path) -> list[tuple[str, list[float], pd.DataFrame]]:
    """Each configuration ``repeats`` times, interleaved so that load from other jobs hits them alike;
    each round also runs the CPU-bound control (:func:`control_speedup`)."""
    walls: dict[str, list[float]] = {label: [] for label, _ in CONFIGS}
    tables: dict[str, pd.DataFrame] = {}
    for i in range(repeats):
        CONTROL.append(control_speedup())
        for k, (label, flags) in enumerate(CONFIGS):
            wall, tables[label] = sweep_once(TEXAS, tmp / f"texas-{k}-{i}", flags)
            walls[label].append(wall)
    return [(label, walls[label], tables[label]) for label, _ in CONFIGS]


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
    from optimizer.sweep import SweepOptions, run_sweep

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
    return {"task": statistics.median(inside), "overhead": statistics.median(gaps),
            "noop": noop_round_trip(), "cluster": cluster_start_stop(repeats)}


def cluster_start_stop(repeats: int) -> float:
    """Median seconds to start and close a 2-worker LocalCluster with its client (fixed cost per sweep)."""
    from distributed import Client, LocalCluster

    walls = []
    for _ in range(repeats):
        began = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster, Client(cluster):
            pass
        walls.append(time.perf_counter() - began)
    return statistics.median(walls)


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


def report(repeats: int, results: list, cost: dict[str, float], before: str) -> None:
    names = ("dask", "distributed", "pyomo", "highspy")
    print(f"Machine: {machine()} (at the start: {before}); " + ", ".join(f"{n} {metadata.version(n)}" for n in names))
    print(f"Repeats: {repeats} fresh `territory sweep` processes per row, rows interleaved; medians.\n")
    print("| Texas sweep, 9 scenarios | wall s (median) | runs | statuses | sum of task s | speed-up vs 1 worker |")
    print("|---|---|---|---|---|---|")
    base = statistics.median(results[0][1])
    for label, walls, table in results:
        med = statistics.median(walls)
        statuses = ", ".join(f"{n} {s}" for s, n in table["status"].value_counts().items())
        runs = " ".join(f"{w:.1f}" for w in walls)
        print(f"| {label} | {med:.1f} | {runs} | {statuses} | {table['task_seconds'].sum():.1f} | {base / med:.2f}x |")
    print(f"\nOther jobs on the machine used {statistics.median(OTHERS):.2f} cores (median over these runs; "
          f"{min(OTHERS):.2f} to {max(OTHERS):.2f}) of the {os.cpu_count()}.")
    print(f"Control, 8 tasks of 1 CPU-second each, 2 vs 1 workers: {statistics.median(CONTROL):.2f}x (median; "
          + ", ".join(f"{c:.2f}" for c in CONTROL) + ").")
    print(f"\nSpeed-up 2 workers vs 1 worker with the same 1 solver thread: "
          f"{statistics.median(results[1][1]) / statistics.median(results[2][1]):.2f}x\n")
    if not cost:
        return
    print("| overhead | seconds |")
    print("|---|---|")
    print(f"| LocalCluster of 2 workers: start + close, once per sweep | {cost['cluster']:.2f} |")
    print(f"| trivial scenario (3 x 3 grid): time inside the task (load, solve, map) | {cost['task']:.3f} |")
    print(f"| per scenario on 1 worker: gap between results minus time inside the task | {cost['overhead']:.4f} |")
    print(f"| bare Dask round trip per no-op task | {cost['noop']:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--texas-only", action="store_true", help="Skip the overhead measurements.")
    args = parser.parse_args()
    before = "load average " + " / ".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        results = texas(args.repeats, Path(tmp))
        cost = overhead(args.repeats, Path(tmp)) if not args.texas_only else {}
    report(args.repeats, results, cost, before)


if __name__ == "__main__":
    main()

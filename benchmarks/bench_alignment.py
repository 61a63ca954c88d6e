"""Benchmark the alignment foundation end to end, each repetition in a fresh process.

    .venv/bin/python benchmarks/bench_alignment.py [--repeats 3] [--scenario texas_counties ...]

Prints a Markdown table (median wall time of the whole ``territory run`` command, map included, and the
median of each phase from summary.json, with status and certified gap) for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHASES = ("load", "bases", "build", "solve", "check", "write", "total")


def run_once(scenario: str, out: Path) -> tuple[float, dict]:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "optimizer.cli.main", "run", str(REPO / "scenarios" / f"{scenario}.yaml"),
                    "--out", str(out)], check=True, capture_output=True, cwd=REPO)
    wall = time.perf_counter() - began
    return wall, json.loads((out / "summary.json").read_text())


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scenario", nargs="+", default=["texas_counties", "national_counties"])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in args.scenario:
            runs = [run_once(scenario, Path(tmp) / f"{scenario}-{i}") for i in range(args.repeats)]
            walls = [wall for wall, _ in runs]
            summaries = [summary for _, summary in runs]
            phases = {p: statistics.median(s["seconds"][p] for s in summaries) for p in PHASES}
            gaps = [s["gap"] for s in summaries]
            rows.append((scenario, summaries[0], walls, phases, gaps))
    versions = {name: metadata.version(name) for name in ("pyomo", "highspy", "numpy", "geopandas", "folium")}
    print(f"Machine: {machine()}; " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"Repeats: {args.repeats} fresh processes each; medians.\n")
    print("| scenario | units x territories | status | certified gap (max) | wall s (median) | "
          + " | ".join(PHASES) + " |")
    print("|---|---|---|---|---|" + "---|" * len(PHASES))
    for scenario, summary, walls, phases, gaps in rows:
        print(f"| {scenario} | {summary['units']} x {summary['territories']} | {summary['status']} | "
              f"{max(gaps):.2%} | {statistics.median(walls):.2f} | "
              + " | ".join(f"{phases[p]:.2f}" for p in PHASES) + " |")


if __name__ == "__main__":
    main()

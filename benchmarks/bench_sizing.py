"""Benchmark sales force sizing (issue 5), each repetition in a fresh process.

    .venv/bin/python benchmarks/bench_sizing.py [--repeats 3] [--joint-time-limit 60]

1. The sizing curve of ``scenarios/texas_sizing.yaml``: 6 segments (2 concave, 3 S-shaped ADBUDG, one
   kinked piecewise curve), every headcount from 1 to 200 (1-5 cannot give the minimum effort and are
   refused before solving), one MIP per headcount.
2. The joint model of ``scenarios/texas_sizing_joint.yaml``: 254 Texas counties x 29 candidate cities.

Each run goes through the kind's runner exactly as ``territory run`` does (scenario file in, run folder
out, checks included) and wall time includes Python start-up and imports. Prints Markdown for
BENCHMARKS.md: medians of wall time and of each phase from summary.json, with status and gaps.
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
PHASES = ("load", "linearise", "build", "solve", "check", "write", "total")


def run_in_this_process(scenario: str, out: str, time_limit: float | None) -> None:
    """What the child process does: load, resolve the kind's runner, run."""
    sys.path.insert(0, str(REPO))
    from optimizer.core.kinds import kind_of, resolve
    from optimizer.core.scenario import load_scenario

    spec = load_scenario(REPO / "scenarios" / f"{scenario}.yaml",
                         {"solver.time_limit": time_limit} if time_limit else None)
    resolve(kind_of(spec).runner)(spec, Path(out))


def run_once(scenario: str, out: Path, time_limit: float | None) -> tuple[float, dict]:
    began = time.perf_counter()
    command = [sys.executable, __file__, "--child", scenario, str(out)]
    if time_limit:
        command += ["--joint-time-limit", str(time_limit)]
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - began, json.loads((out / "summary.json").read_text())


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores (nproc), {cpu}, Python {platform.python_version()}"


def sizing_row(walls: list[float], summaries: list[dict]) -> str:
    s = summaries[0]
    phases = " | ".join(f"{statistics.median(x['seconds'][p] for x in summaries):.2f}" for p in PHASES)
    return (f"| texas_sizing | {len(s['segments'])} | {s['headcount_range']['min']}-{s['headcount_range']['max']} "
            f"({s['headcount_range']['solved']} solved) | {s['status']} | {s['recommended_headcount']} "
            f"({s['near_best']['range'][0]}-{s['near_best']['range'][1]}) | {max(x['gap'] for x in summaries):.4%} | "
            f"{s['linearisation']['error_bound']:,.0f} | {statistics.median(walls):.2f} | {phases} |")


def joint_row(walls: list[float], summaries: list[dict]) -> str:
    s = summaries[0]
    seconds = {p: statistics.median(x["seconds"].get(p, 0.0) for x in summaries) for p in PHASES if p != "linearise"}
    gaps = [x["gap"] for x in summaries]
    return (f"| texas_sizing_joint | {s['units']} x {s['candidate_bases']} ({s['eligible_pairs']} pairs; "
            f"{s['model_size']['rows']:,} rows, {s['model_size']['integer_columns']:,} integer columns) | "
            f"{', '.join(sorted({x['status'] for x in summaries}))} | "
            f"{', '.join(str(x['headcount']) + ' reps / ' + str(x['bases_open']) + ' bases' for x in summaries)} | "
            f"{statistics.median(gaps):.2%} (max {max(gaps):.2%}) | "
            f"{statistics.median(x['mip_gap'] for x in summaries):.2%} | "
            f"{s['linearisation']['error_bound']:,.0f} | {statistics.median(walls):.2f} | "
            + " | ".join(f"{v:.2f}" for v in seconds.values()) + " |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--joint-time-limit", type=float, default=None, help="Override the joint scenario's limit.")
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_in_this_process(args.child[0], args.child[1], args.joint_time_limit)
        return
    with tempfile.TemporaryDirectory() as tmp:
        sizing = [run_once("texas_sizing", Path(tmp) / f"s{i}", None) for i in range(args.repeats)]
        joint = [run_once("texas_sizing_joint", Path(tmp) / f"j{i}", args.joint_time_limit)
                 for i in range(args.repeats)]
    names = ("pyomo", "highspy", "numpy", "scipy", "matplotlib", "geopandas")
    print(f"Machine: {machine()}; " + ", ".join(f"{n} {metadata.version(n)}" for n in names))
    print(f"Repeats: {args.repeats} fresh processes each; medians.\n")
    print("| scenario | segments | headcounts | status | recommended (within 1 %) | gap (max) | "
          "linearisation error bound, USD | wall s | " + " | ".join(PHASES) + " |")
    print("|---|---|---|---|---|---|---|---|" + "---|" * len(PHASES))
    print(sizing_row([w for w, _ in sizing], [s for _, s in sizing]))
    print("\n| scenario | units x candidate bases | status | plan | gap, true profit vs bound (median) | MIP gap | "
          "linearisation error bound, USD | wall s | " + " | ".join(p for p in PHASES if p != "linearise") + " |")
    print("|---|---|---|---|---|---|---|---|" + "---|" * (len(PHASES) - 1))
    print(joint_row([w for w, _ in joint], [s for _, s in joint]))
    limit = joint[0][1]["solver"]["time_limit"]
    print(f"\nJoint time limit {limit:g} s, target gap {joint[0][1]['target_gap']:.0%}; stages of the first run: "
          + "; ".join(f"{st['stage']} {st['seconds']} s" for st in joint[0][1]["stages"]))


if __name__ == "__main__":
    main()

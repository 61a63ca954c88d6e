"""Benchmark account assignment: 10,000 generated Texas accounts x 100 reps to a certified 1 % gap.

    .venv/bin/python benchmarks/bench_accounts.py [--accounts 10000] [--reps 100] [--repeats 3] [--threads 1]

The instance comes from ``scripts/build_accounts.py`` (real county establishment counts and GeoNames
cities, fixed seed), the scenario settings from ``scenarios/accounts_tx.yaml`` (reach 300 min, +-15 %
utilisation band, families, 30 locked accounts, a 25 % move budget). Each repetition is a fresh
``territory run`` process; prints a Markdown table of medians for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import importlib.util
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

import yaml

REPO = Path(__file__).resolve().parents[1]
PHASES = ("load", "travel", "build", "solve", "search", "check", "write", "total")


def generate(folder: Path, accounts: int, reps: int, seed: int | None = None) -> float:
    spec = importlib.util.spec_from_file_location("build_accounts", REPO / "scripts" / "build_accounts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    began = time.perf_counter()
    account_table, rep_table = module.generate(accounts, reps, module.SEED if seed is None else seed)
    account_table.to_csv(folder / "accounts.csv", index=False, float_format="%.10g")
    rep_table.to_csv(folder / "reps.csv", index=False, float_format="%.10g")
    return time.perf_counter() - began


def scenario(folder: Path, threads: int, time_limit: float) -> Path:
    base = yaml.safe_load((REPO / "scenarios" / "accounts_tx.yaml").read_text())
    base.update(name="bench-accounts", units={"dataset": str(folder / "accounts.csv")},
                reps={"dataset": str(folder / "reps.csv")})
    base["solver"].update(threads=threads, time_limit=time_limit)
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


def run_once(path: Path, out: Path) -> tuple[float, dict]:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "optimizer.cli.main", "run", str(path), "--out", str(out)], check=True,
                   capture_output=True, cwd=REPO)
    return time.perf_counter() - began, json.loads((out / "summary.json").read_text())


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"nproc {os.cpu_count()}, {cpu}, Python {platform.python_version()}, load average {load:.1f} at start"


def table(walls: list[float], summaries: list[dict], accounts: int, reps: int) -> list[str]:
    phases = {p: statistics.median(s["seconds"][p] for s in summaries) for p in PHASES}
    first = summaries[0]
    mip = [st for st in first["stages"] if st["stage"].startswith(("plan", "repair", "certify"))]
    return [
        "| instance | eligible pairs | status (all runs) | certified gap: median (max) | wall s median (max) | "
        + " | ".join(PHASES) + " |",
        "|---|---|---|---|---|" + "---|" * len(PHASES),
        f"| {accounts:,} x {reps} | {first['eligible_pairs']:,} | {', '.join(sorted({s['status'] for s in summaries}))} | "
        f"{100 * statistics.median(s['gap'] for s in summaries):.2f} % ({100 * max(s['gap'] for s in summaries):.2f} %) | "
        f"{statistics.median(walls):.1f} ({max(walls):.1f}) | " + " | ".join(f"{phases[p]:.1f}" for p in PHASES) + " |",
        "",
        f"First run's stages: {', '.join(_stage(st) for st in first['stages'])}; MIP stages: {len(mip)}.",
    ]


def _stage(stage: dict) -> str:
    pairs = f" {stage['pairs']:,} pairs" if "pairs" in stage else ""
    return f"{stage['stage']}{pairs} {stage['seconds']:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=None, help="Instance seed (default: the shipped data's).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seconds = generate(folder, args.accounts, args.reps, args.seed)
        path = scenario(folder, args.threads, args.time_limit)
        runs = [run_once(path, folder / f"run-{k}") for k in range(args.repeats)]
    versions = {name: metadata.version(name) for name in ("pyomo", "highspy", "numpy", "pandas", "pydantic")}
    print(f"Machine: {machine()}; " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"Instance (seed {args.seed if args.seed is not None else 'default'}) generated in {seconds:.1f} s; {args.repeats} fresh `territory run` processes, "
          f"threads {args.threads}, time limit {args.time_limit:g} s.\n")
    print("\n".join(table([w for w, _ in runs], [s for _, s in runs], args.accounts, args.reps)))


if __name__ == "__main__":
    main()

"""Travel and gaps by headcount (issue 20): one scenario at every territory count of a range.

    .venv/bin/python benchmarks/bench_headcount.py [--scenario texas_counties] [--counts 12-40] [--repeats 3]

Each run is a fresh ``territory run --set territories.count=K`` process. Prints a Markdown table with, per
headcount, the mean travel (objective / K, km), its change against the previous headcount, the gap for
these bases, the location gap (any bases) and the median wall time, then the largest rise and gaps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_once(scenario: str, count: int, out: Path) -> tuple[float, dict]:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "optimizer.cli.main", "run", str(REPO / "scenarios" / f"{scenario}.yaml"),
                    "--set", f"territories.count={count}", "--out", str(out)], check=True, capture_output=True,
                   cwd=REPO)
    return time.perf_counter() - began, json.loads((out / "summary.json").read_text())


def counts(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="texas_counties")
    parser.add_argument("--counts", default="12-40")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows, previous = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for k in counts(args.counts):
            runs = [run_once(args.scenario, k, Path(tmp) / f"{k}-{i}") for i in range(args.repeats)]
            summary = runs[0][1]
            objectives = {round(s["objective"], 6) for _, s in runs}
            travel = summary["objective"] / k
            rise = None if previous is None else travel / previous - 1
            rows.append((k, travel, rise, summary["gap"], summary.get("location_gap"),
                         statistics.median(w for w, _ in runs), len(objectives)))
            previous = travel
    print(f"Scenario {args.scenario}; {args.repeats} fresh processes per headcount; wall is the median.\n")
    print("| K | mean travel km | vs K-1 | gap, these bases | gap, any bases | wall s | distinct plans |")
    print("|---|---|---|---|---|---|---|")
    for k, travel, rise, gap, location, wall, distinct in rows:
        print(f"| {k} | {travel:.1f} | {'' if rise is None else f'{rise:+.1%}'} | {gap:.2%} | "
              f"{'n/a' if location is None else f'{location:.1%}'} | {wall:.2f} | {distinct} |")
    rises = [r[2] for r in rows if r[2] is not None]
    print(f"\nlargest rise {max(rises):+.1%}; largest gap for these bases {max(r[3] for r in rows):.2%}; "
          f"largest location gap {max((r[4] or 0) for r in rows):.1%}; slowest median {max(r[5] for r in rows):.2f} s")


if __name__ == "__main__":
    main()

"""Build ``data/texas_current_plan.csv``: a realistic "today's plan" for the Texas realignment what-if.

Today's plan is what a sales team would have aligned a few years ago: the same 20 territories, balanced
on 2010 *population* instead of today's labour force, each county with one territory (no sharing: the
heavy metro counties went whole to one rep, so their territories are overloaded, as real plans drift). It is produced by this repository's own optimizer from the
shipped data, so it is reproducible: ``python scripts/build_current_plan.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from optimizer.alignment.pipeline import run_scenario
from optimizer.core.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "data" / "texas_current_plan.csv"


def main() -> None:
    overrides = {"name": "texas-current-plan", "workload.measures": {"population": 1.0},
                 "units.sharing.allow": False, "balance.tolerance": 0.10, "balance.soft_penalty": 2000.0}
    scenario = load_scenario(REPO / "scenarios" / "texas_counties.yaml", overrides)
    with tempfile.TemporaryDirectory() as tmp:
        outcome = run_scenario(scenario, Path(tmp) / "run")
        plan = pd.read_csv(outcome.folder / "assignments.csv", dtype=str)
    plan["share"] = plan["share"].astype(float)
    whole = plan.sort_values(["unit_id", "share"], ascending=[True, False]).drop_duplicates("unit_id")
    whole[["unit_id", "territory_id"]].to_csv(OUT, index=False)
    print(f"wrote {OUT} ({len(whole)} counties, {whole['territory_id'].nunique()} territories)")


if __name__ == "__main__":
    main()

"""Regions: territories grouped into contiguous, balanced regions, checked independently and drawn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.core.checks import CheckReport
from optimizer.alignment.checks.regions import RegionRules, check_regions
from optimizer.core.errors import InfeasibleError, InputError
from optimizer.alignment.pipeline import run_scenario
from optimizer.alignment.regions import solve_regions
from optimizer.core.scenario import load_scenario
from optimizer.solver.highs import SolverOptions
from tests.conftest import grid_units, write_scenario

OPTIONS = SolverOptions(time_limit=20, target_gap=0.0)


def path_graph(k: int) -> list[np.ndarray]:
    return [np.array([j for j in (t - 1, t + 1) if 0 <= j < k]) for t in range(k)]


def test_contiguity_cuts_the_best_grouping_that_is_in_pieces():
    # territories 0-1-2-3 on a line; 0 is near 2 and 1 near 3, so the best free grouping is {0,2}, {1,3}
    distance = np.full((4, 4), 10.0)
    np.fill_diagonal(distance, 0.0)
    distance[0, 2] = distance[2, 0] = distance[1, 3] = distance[3, 1] = 1.0
    load = np.ones(4)
    free, _ = solve_regions(load, distance, [np.arange(4)[np.arange(4) != t] for t in range(4)], 2, 2.0, 2.0, OPTIONS)
    assert {frozenset(np.flatnonzero(free == c)) for c in set(free)} == {frozenset({0, 2}), frozenset({1, 3})}
    centre, summary = solve_regions(load, distance, path_graph(4), 2, 2.0, 2.0, OPTIONS)
    assert {frozenset(np.flatnonzero(centre == c)) for c in set(centre)} == {frozenset({0, 1}), frozenset({2, 3})}
    assert summary["objective"] == pytest.approx(20.0)
    assert summary["cuts"] > 0 and summary["status"] == "optimal"


@pytest.fixture
def grid6(tmp_path):
    path = tmp_path / "grid6.gpkg"
    grid_units(6, 6, seed=3).to_file(path, layer="units")
    return path


def regions_run(tmp_path, dataset, **regions):
    scenario = load_scenario(write_scenario(tmp_path, dataset, territories={"count": 6},
                                            regions={"count": 3, "tolerance": 0.25, **regions}))
    return run_scenario(scenario, tmp_path / "run")


def test_regions_are_written_checked_and_drawn(tmp_path, grid6):
    outcome = regions_run(tmp_path, grid6)
    territories = pd.read_csv(outcome.folder / "territories.csv", dtype=str)
    regions = pd.read_csv(outcome.folder / "regions.csv", dtype={"region_id": str, "centre_territory": str})
    assert territories["region_id"].nunique() == 3 and territories["region_id"].notna().all()
    assert sorted(t for text in regions["territories"] for t in text.split(";")) == sorted(territories["territory_id"])
    assert regions["deviation_pct"].abs().max() <= 25 + 1e-6
    assert set(regions["centre_territory"]) <= set(territories["territory_id"])
    assert {"every territory in exactly one region", "regions connected",
            "regions inside their band"} <= set(outcome.summary["checks_passed"])
    assert outcome.summary["regions"]["status"] in ("optimal", "feasible")
    assert "Region borders" in (outcome.folder / "map.html").read_text()


def test_a_broken_region_fails_the_independent_check(tmp_path, grid6):
    outcome = regions_run(tmp_path, grid6)
    folder = outcome.folder
    territories = pd.read_csv(folder / "territories.csv", dtype={"territory_id": str, "region_id": str})
    territories.loc[0, "region_id"] = "R99"  # a territory moved to a region regions.csv does not know
    territories.to_csv(folder / "territories.csv", index=False)
    report = CheckReport()
    units = grid_units(6, 6, seed=3)
    check_regions(report, folder, units, RegionRules(3, 0.25))
    assert "every territory in exactly one region" in report.problems


def test_impossible_regions_are_explained(tmp_path, grid6):
    with pytest.raises(InfeasibleError, match="regions.tolerance"):
        regions_run(tmp_path, grid6, count=5, tolerance=0.01)
    with pytest.raises(InputError, match="regions.count"):
        regions_run(tmp_path, grid6, count=7)
    assert not (tmp_path / "run").exists()


def test_without_regions_nothing_changes(tmp_path, grid6):
    scenario = load_scenario(write_scenario(tmp_path, grid6, territories={"count": 6}))
    outcome = run_scenario(scenario, tmp_path / "run")
    assert not (outcome.folder / "regions.csv").exists()
    assert "region_id" not in pd.read_csv(outcome.folder / "territories.csv").columns
    assert "regions" not in outcome.summary and "limits" not in outcome.summary

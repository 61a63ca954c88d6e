"""Shared fixtures: the repository's paths, a solved Texas run, and small synthetic unit data sets."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import yaml
from shapely.geometry import box

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
COUNTIES = REPO / "data" / "us_counties.gpkg"


@pytest.fixture(scope="session")
def texas_run(tmp_path_factory):
    """The shipped Texas scenario solved once per test session: (run folder, summary)."""
    from optimizer.alignment.pipeline import run_scenario
    from optimizer.core.scenario import load_scenario

    out = tmp_path_factory.mktemp("runs") / "texas"
    outcome = run_scenario(load_scenario(SCENARIOS / "texas_counties.yaml"), out)
    return outcome.folder, outcome.summary


TEXAS_WHAT_IFS = ("texas_counties_18.yaml", "texas_counties_22.yaml")


@pytest.fixture(scope="session")
def texas_comparison(texas_run, tmp_path_factory):
    """The Texas baseline (``texas_run``'s folder, reused) compared with the shipped 18- and 22-territory
    what-ifs: a :class:`optimizer.compare.run.Comparison` whose run folders are in ``<folder>/../runs``."""
    from optimizer.compare.run import compare_entries, parse_entry

    root = tmp_path_factory.mktemp("compare")
    shutil.copytree(texas_run[0], root / "runs" / "texas-counties")
    entries = [parse_entry(str(SCENARIOS / name)) for name in ("texas_counties.yaml", *TEXAS_WHAT_IFS)]
    return compare_entries(entries, root / "out", runs_dir=root / "runs")


def grid_units(rows: int = 5, cols: int = 5, seed: int = 0, size_deg: float = 0.5) -> gpd.GeoDataFrame:
    """A rows x cols grid of square units in Texas-like coordinates with positive random measures."""
    rng = np.random.default_rng(seed)
    cells = [box(-100 + c * size_deg, 30 + r * size_deg, -100 + (c + 1) * size_deg, 30 + (r + 1) * size_deg)
             for r in range(rows) for c in range(cols)]
    n = len(cells)
    return gpd.GeoDataFrame({
        "unit_id": [f"U{i:03d}" for i in range(n)],
        "name": [f"Unit {i}" for i in range(n)],
        "state": ["TX"] * n,
        "labor_force": rng.integers(1_000, 10_000, n).astype(float),
        "establishments": rng.integers(50, 500, n).astype(float),
    }, geometry=cells, crs="EPSG:4326")


def write_scenario(folder: Path, dataset: Path, **sections) -> Path:
    """Write a scenario YAML over ``dataset``; keyword sections replace the defaults."""
    scenario = {
        "name": "grid-test",
        "units": {"dataset": str(dataset)},
        "workload": {"measures": {"labor_force": 1.0}},
        "territories": {"count": 3},
        "balance": {"tolerance": 0.1},
        "solver": {"time_limit": 30, "target_gap": 0.0},
    }
    scenario.update(sections)
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


@pytest.fixture
def grid_dataset(tmp_path) -> Path:
    """A 5 x 5 grid of units written as a GeoPackage."""
    path = tmp_path / "grid.gpkg"
    grid_units().to_file(path, layer="units")
    return path

"""Runs on small synthetic unit data: shared units, soft bands, given bases, atomic output folders."""

from __future__ import annotations

import json
import subprocess

import pandas as pd
import pytest

from optimizer.core.errors import InfeasibleError
from optimizer.alignment.pipeline import run_scenario
from optimizer.core.scenario import load_scenario
from tests.conftest import grid_units, write_scenario


@pytest.fixture
def heavy_dataset(tmp_path):
    frame = grid_units()
    frame.loc[12, "labor_force"] = frame["labor_force"].sum()  # one unit with half of all workload
    path = tmp_path / "heavy.gpkg"
    frame.to_file(path, layer="units")
    return path


def test_oversized_unit_is_shared_when_allowed(tmp_path, heavy_dataset):
    scenario = load_scenario(write_scenario(tmp_path, heavy_dataset, units={
        "dataset": str(heavy_dataset), "sharing": {"allow": True, "min_territory_share": 0.5}}))
    outcome = run_scenario(scenario, tmp_path / "run")
    rows = pd.read_csv(outcome.folder / "assignments.csv")
    split = rows[rows["unit_id"] == "U012"]
    assert len(split) >= 2 and split["share"].sum() == pytest.approx(1.0)
    assert outcome.summary["shared_units"] == ["U012"]
    assert outcome.summary["band"]["max_abs_deviation_pct"] <= 10 + 1e-6
    assert "shared: " in (outcome.folder / "map.html").read_text()


def test_a_unit_with_nearly_all_workload_passes_the_checks(tmp_path):
    """The unit sits on its base, so the objective is tiny; base coordinates rounded in territories.csv must
    not fail the independent objective check (it did: 0.047427 reported, 0.047428 recomputed, exit 5)."""
    frame = grid_units()
    frame.loc[0, "labor_force"] = 1e9
    path = tmp_path / "giant.gpkg"
    frame.to_file(path, layer="units")
    scenario = load_scenario(write_scenario(tmp_path, path, units={"dataset": str(path), "sharing": {"allow": True}},
                                            territories={"count": 2}, balance={"tolerance": 0.05}))
    outcome = run_scenario(scenario, tmp_path / "run")
    assert outcome.summary["objective"] < 0.1
    assert "objective recomputed" in outcome.summary["checks_passed"]


def test_oversized_unit_is_refused_when_sharing_is_off(tmp_path, heavy_dataset):
    scenario = load_scenario(write_scenario(tmp_path, heavy_dataset))
    with pytest.raises(InfeasibleError, match=r"Unit 12 \(U012\) 1\.\d\dx"):
        run_scenario(scenario, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_soft_band_always_returns_a_plan_and_reports_deviations(tmp_path, heavy_dataset):
    scenario = load_scenario(write_scenario(tmp_path, heavy_dataset, balance={"tolerance": 0.02,
                                                                              "soft_penalty": 500.0}))
    outcome = run_scenario(scenario, tmp_path / "run")
    summary = json.loads((outcome.folder / "summary.json").read_text())
    assert summary["band"]["territories_outside_band"], "the heavy unit cannot fit a 2 % band"
    assert summary["notes"], "the summary says why the band cannot hold"
    territories = pd.read_csv(outcome.folder / "territories.csv")
    assert territories["deviation_pct"].abs().max() > 2


def test_given_bases_are_used_and_named(tmp_path, grid_dataset):
    bases = [{"id": "North", "unit": "U022", "name": "Amarillo"}, {"id": "South", "lat": 30.2, "lon": -99.7}]
    scenario = load_scenario(write_scenario(tmp_path, grid_dataset, territories={"bases": bases}))
    outcome = run_scenario(scenario, tmp_path / "run")
    territories = pd.read_csv(outcome.folder / "territories.csv")
    assert territories["territory_id"].tolist() == ["North", "South"]
    assert territories["base_name"].tolist()[0] == "Amarillo"
    assert outcome.summary["bases"] == "given in the scenario"


def test_rerun_replaces_the_folder_atomically(tmp_path, grid_dataset):
    scenario = load_scenario(write_scenario(tmp_path, grid_dataset))
    first = run_scenario(scenario, tmp_path / "run")
    (first.folder / "stale.txt").write_text("from an older run")
    run_scenario(scenario, tmp_path / "run")
    assert not (tmp_path / "run" / "stale.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run.")]


def test_a_run_clears_what_killed_runs_left_but_not_what_running_ones_write(tmp_path, grid_dataset):
    finished = subprocess.Popen(["true"])
    finished.wait()  # its pid belongs to no process now
    running = subprocess.Popen(["sleep", "30"])
    try:
        dead = [tmp_path / f".run.partial-{finished.pid}", tmp_path / f".run.old-{finished.pid}"]
        alive = tmp_path / f".run.partial-{running.pid}"
        for folder in (*dead, alive):
            folder.mkdir()
            (folder / "summary.json").write_text("{}")
        run_scenario(load_scenario(write_scenario(tmp_path, grid_dataset)), tmp_path / "run")
        assert not any(folder.exists() for folder in dead)
        assert alive.exists(), "a folder another running process is writing must be left alone"
    finally:
        running.kill()

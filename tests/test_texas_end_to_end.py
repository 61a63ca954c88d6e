"""The shipped Texas scenario end to end: all four outputs, checked, and the checks catch broken plans."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from optimizer.alignment.checks.plan import PlanRules, check_plan
from optimizer.alignment.prepare import prepare
from optimizer.core.run import PhaseTimer
from optimizer.core.scenario import load_scenario
from tests.conftest import SCENARIOS


def test_outputs_are_complete_and_consistent(texas_run):
    folder, summary = texas_run
    assert sorted(p.name for p in folder.iterdir()) == ["assignments.csv", "map.html", "summary.json",
                                                       "territories.csv"]
    assert json.loads((folder / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert summary["status"] == "optimal"
    assert summary["gap"] <= summary["target_gap"] + 1e-9
    assert summary["bound"] <= summary["objective"]
    assert set(summary["seconds"]) >= {"load", "build", "solve", "check", "write", "total"}
    assert summary["versions"]["HiGHS"] and summary["solver"]["threads"] == 1

    assignments = pd.read_csv(folder / "assignments.csv", dtype={"unit_id": str})
    assert list(assignments.columns[:2]) == ["unit_id", "territory_id"]
    assert assignments["unit_id"].nunique() == 254
    assert assignments.groupby("unit_id")["share"].sum().round(6).eq(1).all()
    shared = assignments["unit_id"].value_counts()
    assert set(shared[shared > 1].index) == set(summary["shared_units"])
    assert "48201" in summary["shared_units"], "Harris County carries 3.3 territories of labour force"

    territories = pd.read_csv(folder / "territories.csv")
    assert len(territories) == 20
    assert territories["deviation_pct"].abs().max() <= 5 + 1e-6
    assert {"labor_force", "weighted_distance_km", "base_name", "units"} <= set(territories.columns)


def test_map_is_offline_and_draws_every_territory(texas_run):
    folder, _ = texas_run
    html = (folder / "map.html").read_text()
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", html)
    for territory in pd.read_csv(folder / "territories.csv")["territory_id"]:
        assert territory in html


@pytest.fixture(scope="module")
def texas_rules():
    scenario = load_scenario(SCENARIOS / "texas_counties.yaml")
    ready = prepare(scenario, PhaseTimer(), lambda _: None)
    rules = PlanRules(territory_ids=tuple(ready.bases.ids), tolerance=scenario.balance.tolerance,
                      soft_penalty=None, shareable=frozenset(ready.units.ids[ready.shared]),
                      distance=scenario.objective.distance)
    return ready.units.frame, rules


def broken_copy(texas_run, tmp_path, edit):
    folder, summary = texas_run
    for name in ("assignments.csv", "territories.csv"):
        (tmp_path / name).write_text((folder / name).read_text())
    assignments = pd.read_csv(tmp_path / "assignments.csv", dtype={"unit_id": str, "territory_id": str})
    edit(assignments).to_csv(tmp_path / "assignments.csv", index=False)
    return summary["objective"]


def test_checks_pass_on_the_written_plan(texas_run, texas_rules):
    folder, summary = texas_run
    report = check_plan(folder, *texas_rules, summary["objective"])
    assert report.ok, report.failures


@pytest.mark.parametrize("edit, failure", [
    (lambda a: a[a["unit_id"] != "48001"], "unit 48001 is in no territory"),
    (lambda a: pd.concat([a, a[a["unit_id"] == "48001"].assign(territory_id="T02")]), "48001"),
    (lambda a: a.assign(territory_id=a["territory_id"].where(a["unit_id"] != "48029", "T99")), "unknown territory T99"),
    (lambda a: a.assign(territory_id=a["territory_id"].where(~a["unit_id"].isin(["48001", "48005", "48007"]),
                                                             "T01")), "band"),
])
def test_checks_catch_a_broken_plan(texas_run, texas_rules, tmp_path, edit, failure):
    objective = broken_copy(texas_run, tmp_path, edit)
    report = check_plan(tmp_path, *texas_rules, objective)
    assert not report.ok
    assert any(failure in line for line in report.failures), report.failures


def test_checks_catch_a_wrong_objective(texas_run, texas_rules):
    folder, summary = texas_run
    report = check_plan(folder, *texas_rules, summary["objective"] * 1.001)
    assert any("objective" in line for line in report.failures)

"""The shipped Texas sizing scenario end to end, the checks on the written curve, and every refusal of a
headcount range or curve that cannot work (one line: key, what, fix)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from optimizer.core.errors import InfeasibleError, InputError
from optimizer.core.run import PhaseTimer
from optimizer.core.scenario import load_scenario
from optimizer.sizing.checks import SizingRules, check_sizing
from optimizer.sizing.pipeline import prepare_sizing, run_sizing
from optimizer.sizing.report import summary_lines
from tests.conftest import SCENARIOS

SEGMENT_IDS = ["metro", "large", "mid", "small", "rural", "remote"]


@pytest.fixture(scope="module")
def texas_sizing(tmp_path_factory):
    scenario = load_scenario(SCENARIOS / "texas_sizing.yaml")
    outcome = run_sizing(scenario, tmp_path_factory.mktemp("runs") / "texas-sizing")
    return scenario, outcome.folder, outcome.summary


def test_outputs_are_complete_and_the_gap_is_honest(texas_sizing):
    _, folder, summary = texas_sizing
    assert sorted(p.name for p in folder.iterdir()) == ["segments.csv", "sizing.csv", "sizing.html", "summary.json"]
    assert json.loads((folder / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert summary["status"] == "optimal" and summary["headcount_range"]["complete"]
    assert summary["objective"] <= summary["bound"]
    assert summary["gap"] == pytest.approx((summary["bound"] - summary["objective"]) / summary["objective"])
    assert summary["gap"] <= summary["target_gap"]
    lin = summary["linearisation"]
    assert 0 <= lin["model_minus_true"] <= lin["error_bound"]
    assert set(summary["seconds"]) >= {"load", "linearise", "build", "solve", "check", "write", "total"}
    assert summary["versions"]["HiGHS"] and summary["solver"]["threads"] == 1 and summary["solver"]["seed"] == 0
    assert len(summary["checks_passed"]) == 9
    mid = next(s for s in summary["segments"] if s["id"] == "mid")
    assert mid["fit"]["points"] == 8 and mid["fit"]["r2"] > 0.99, "the fitted curve reports its fit"


def test_sizing_csv_is_the_whole_curve_with_the_recommendation_marked(texas_sizing):
    _, folder, summary = texas_sizing
    table = pd.read_csv(folder / "sizing.csv")
    assert list(table["headcount"]) == list(range(6, 201)), "headcounts 1-5 cannot give the minimum effort"
    assert {"profit", "revenue", "cost", "marginal_profit"} <= set(table.columns)
    assert [c for c in table.columns if c.startswith("effort_")] == [f"effort_{s}" for s in SEGMENT_IDS]
    best = table.loc[table["profit"].idxmax()]
    assert summary["recommended_headcount"] == best["headcount"] == 89
    low, high = summary["near_best"]["range"]
    inside = table[(table["headcount"] >= low) & (table["headcount"] <= high)]
    assert (inside["profit"] >= 0.99 * best["profit"]).all()
    assert table.loc[table["headcount"] == low - 1, "profit"].iloc[0] < 0.99 * best["profit"]
    assert (table["hours_used"] <= table["hours_available"] * (1 + 1e-9)).all()
    assert np.isfinite(table.drop(columns="status").to_numpy(float)[1:]).all(), "no inf or gaps after the first row"
    assert table.iloc[0][["marginal_profit", "marginal_low", "marginal_high"]].isna().all(), "headcount 5 is infeasible"
    m = table.dropna(subset=["marginal_profit"])
    assert (m["marginal_low"] <= m["marginal_profit"] + 1e-6).all()
    assert (m["marginal_profit"] <= m["marginal_high"] + 1e-6).all()
    assert (table.loc[table["headcount"] > 100, "marginal_profit"] < 0).all(), "past the optimum a rep costs more"


def test_page_is_offline_and_marks_the_recommendation(texas_sizing):
    _, folder, summary = texas_sizing
    page = (folder / "sizing.html").read_text()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"?https?://", page)
    assert page.count("<svg") == 2 and "Recommended headcount <b>89</b>" in page
    assert "\n".join(summary_lines(summary, folder)).count("headcount   89 recommended") == 1


def tampered(texas_sizing, tmp_path, edit) -> list[str]:
    scenario, folder, summary = texas_sizing
    copy = tmp_path / "run"
    copy.mkdir()
    for name in ("sizing.csv", "segments.csv"):
        (copy / name).write_bytes((folder / name).read_bytes())
    table = pd.read_csv(copy / "sizing.csv")
    edit(table)
    table.to_csv(copy / "sizing.csv", index=False)
    ready = prepare_sizing(scenario, PhaseTimer(), lambda _: None)
    rules = SizingRules(ready.segments.segments, scenario.reps.hours, scenario.reps.cost, None, ready.first,
                        ready.data.headcount_hi, ready.data.error_bound, scenario.recommend.near_best)
    return check_sizing(copy, rules, summary["recommended_headcount"], tuple(summary["near_best"]["range"])).failures


def test_checks_catch_a_profit_that_the_curves_do_not_give(texas_sizing, tmp_path):
    def richer(table):
        table.loc[table["headcount"] == 50, "profit"] += 1e5
    failures = " | ".join(tampered(texas_sizing, tmp_path, richer))
    assert "profit at headcount 50 is" in failures and "marginal profit at headcount 51" in failures


def test_checks_catch_effort_beyond_capacity(texas_sizing, tmp_path):
    def more_calls(table):
        table.loc[table["headcount"] == 30, "effort_metro"] *= 1.5
    failures = " | ".join(tampered(texas_sizing, tmp_path, more_calls))
    assert "capacity held: headcount 30" in failures and "revenue at headcount 30" in failures


# --- refusals, on small scenarios without unit data ---------------------------------------------------

BASE = {"kind": "sizing", "name": "small", "margin": 0.4,
        "reps": {"cost": 100_000, "hours": 1000, "headcount": {"min": 1, "max": 20}},
        "segments": [{"id": "a", "curve": {"type": "adbudg", "min": 0, "max": 2e6, "shape": 1, "half_saturation": 800},
                      "effort": {"min": 3000, "hours": 1.0}},
                     {"id": "b", "curve": {"type": "power", "scale": 4000, "exponent": 0.6}}]}


def write(tmp_path, scenario: dict, **overrides):
    for dotted, value in overrides.items():
        node = scenario
        keys = dotted.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[keys[-1]] = value
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


def fresh() -> dict:
    return json.loads(json.dumps(BASE))


@pytest.mark.parametrize("overrides, key, words", [
    ({"reps.headcount.max": 2}, "reps.headcount.max", "allow at least 3 reps"),
    ({"reps.budget": 250_000}, "reps.budget", "raise reps.budget to at least 300,000"),
    ({"reps.budget": 50_000}, "reps.budget", "raise the budget to at least 100,000"),
])
def test_a_headcount_range_that_cannot_be_met_is_refused_in_one_line(tmp_path, overrides, key, words):
    scenario = load_scenario(write(tmp_path, fresh(), **overrides))
    with pytest.raises(InfeasibleError) as err:
        prepare_sizing(scenario, PhaseTimer(), lambda _: None)
    line = err.value.line()
    assert "\n" not in line and line.startswith(key + ":") and words in line and "(" in line


@pytest.mark.parametrize("overrides, words", [
    ({"reps.headcount": {"min": 30, "max": 20}}, "headcount.min (30) is above headcount.max (20)"),
    ({"reps.headcount": {"min": 1}}, "give headcount.max or budget"),
    ({"segments.0.curve.shape": -1}, "segments.0.curve.adbudg.shape"),
    ({"segments.0.curve.max": 0}, "segments.0.curve.adbudg.max"),
    ({"segments.0.curve.points": [[0, 1], [1, 2], [2, 3], [3, 4]]}, "not both"),
    ({"segments.1.curve.exponent": 1.4}, "segments.1.curve.power.exponent"),
    ({"segments.1.curve": {"type": "piecewise", "points": [[0, 0], [5, 9], [4, 12]]}}, "strictly increase"),
    ({"segments.1.id": "a"}, "segment id `a` is used twice"),
    ({"segments.1.curve": {"type": "logistic"}}, "segments.1.curve"),
])
def test_bad_parameters_are_refused_with_their_key(tmp_path, overrides, words):
    with pytest.raises(InputError) as err:
        load_scenario(write(tmp_path, fresh(), **overrides))
    assert words in err.value.line() and "\n" not in err.value.line()


def test_piecewise_effort_beyond_its_points_is_refused(tmp_path):
    path = write(tmp_path, fresh(), **{"segments.1.curve": {"type": "piecewise", "points": [[0, 0], [500, 9e5]]},
                                       "segments.1.effort": {"max": 900}})
    with pytest.raises(InputError, match=r"segments\.1\.effort\.max: 900 is beyond the curve's last point"):
        prepare_sizing(load_scenario(path), PhaseTimer(), lambda _: None)


def test_user_strings_are_escaped_on_the_page(tmp_path):
    scenario = fresh()
    scenario["name"] = "<script>alert(1)</script>"
    scenario["segments"][0]["name"] = "Metro $x$ & <b>bold</b>"
    outcome = run_sizing(load_scenario(write(tmp_path, scenario)), tmp_path / "out")
    page = (outcome.folder / "sizing.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Metro &#36;x&#36; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    table = pd.read_csv(outcome.folder / "sizing.csv")
    assert table["headcount"].min() == 3 and np.isfinite(table["profit"]).all()

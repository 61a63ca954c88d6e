"""The shipped account scenarios end to end, and the independent checks against deliberately broken plans."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from optimizer.accounts.checks import check_plan
from optimizer.accounts.data import load_inputs
from optimizer.core.scenario import load_scenario
from tests.conftest import SCENARIOS

TIME_LIMIT = 40.0
EXTERNAL = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.IGNORECASE)


def solved(tmp_path_factory, name: str):
    from optimizer.accounts.pipeline import run_scenario

    scenario = load_scenario(SCENARIOS / name, {"solver.time_limit": TIME_LIMIT})
    outcome = run_scenario(scenario, tmp_path_factory.mktemp("runs") / scenario.slug)
    return scenario, outcome.folder, outcome.summary


@pytest.fixture(scope="module")
def texas(tmp_path_factory):
    return solved(tmp_path_factory, "accounts_tx.yaml")


@pytest.fixture(scope="module")
def fewer(tmp_path_factory):
    return solved(tmp_path_factory, "accounts_tx_fewer_reps.yaml")


def read(folder, name):
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def test_outputs_are_complete_and_keyed(texas):
    scenario, folder, _ = texas
    assert sorted(p.name for p in folder.iterdir()) == ["assignments.csv", "map.html", "moves.csv", "summary.json",
                                                         "territories.csv"]
    plan, territories = read(folder, "assignments.csv"), read(folder, "territories.csv")
    accounts, reps, _ = load_inputs(scenario)
    assert list(plan.columns[:2]) == ["account_id", "rep_id"]
    assert plan["account_id"].is_unique and set(plan["account_id"]) == set(accounts.ids)
    assert (plan["rep_id"] != "").all(), "coverage is required in the base scenario"
    assert list(territories["rep_id"]) == list(reps.ids)
    hours = territories[["hours_used", "spare_hours", "capacity_hours"]].astype(float)
    assert np.allclose(hours["hours_used"] + hours["spare_hours"], hours["capacity_hours"])
    assert (hours["spare_hours"] >= -1e-6).all()


def test_summary_reports_the_certified_gap_and_the_run(texas):
    _, folder, summary = texas
    assert json.loads((folder / "summary.json").read_text()) == json.loads(json.dumps(summary, default=str))
    assert summary["status"] == "optimal"
    assert summary["bound"] <= summary["objective"] + 1e-6
    assert 0 <= summary["gap"] <= summary["target_gap"] == 0.01
    assert sum(summary["objective_terms"].values()) == pytest.approx(summary["objective"], rel=1e-9)
    assert summary["net_value"] == pytest.approx(summary["total_value"] - summary["objective"])
    assert set(summary["seconds"]) >= {"load", "travel", "build", "solve", "search", "check", "write", "total"}
    assert summary["solver"]["threads"] == 1 and summary["solver"]["seed"] == 0
    assert {"pyomo", "highspy", "HiGHS", "python"} <= set(summary["versions"])
    assert len(summary["checks_passed"]) >= 10


def test_plan_keeps_the_scenario_rules(texas):
    _, folder, summary = texas
    plan, territories = read(folder, "assignments.csv"), read(folder, "territories.csv")
    utilization = territories["utilization"].astype(float)
    average = territories["hours_used"].astype(float).sum() / territories["capacity_hours"].astype(float).sum()
    assert (utilization / average).between(1 - 0.15 - 1e-6, 1 + 0.15 + 1e-6).all()
    families = plan[plan["family"] != plan["account_id"]]
    roots = plan.set_index("account_id").loc[families["family"], "rep_id"].to_numpy()
    assert len(families) > 50 and (families["rep_id"].to_numpy() == roots).all()
    locked = plan[plan["locked"] == "True"]
    assert len(locked) == 30 and (locked["rep_id"] == locked["current_rep"]).all()
    with_rep = (plan["current_rep"] != "").sum()
    assert summary["moves"]["accounts"] <= 0.25 * with_rep + 1e-9


def test_moves_are_the_difference_from_the_current_reps(texas):
    _, folder, _ = texas
    plan, moves = read(folder, "assignments.csv"), read(folder, "moves.csv")
    changed = plan[(plan["current_rep"] != "") & (plan["current_rep"] != plan["rep_id"])]
    assert sorted(moves["account_id"]) == sorted(changed["account_id"])
    assert (moves.set_index("account_id").loc[changed["account_id"], "to_rep"].to_numpy() == changed["rep_id"].to_numpy()).all()


def test_map_is_offline_and_shows_every_account_and_rep(texas):
    _, folder, _ = texas
    page = (folder / "map.html").read_text(encoding="utf-8")
    assert not EXTERNAL.search(page)
    assert page.count('"type":"Point"') == 1500 + 24
    assert "accounts-tx" in page


def test_fewer_reps_what_if_moves_orphans_and_lists_white_space(fewer):
    scenario, folder, summary = fewer
    plan, moves, territories = read(folder, "assignments.csv"), read(folder, "moves.csv"), read(folder, "territories.csv")
    gone = {"R05", "R15", "R21"}
    assert set(scenario.reps.exclude) == gone and not gone & set(territories["rep_id"])
    orphans = plan[plan["current_rep"].isin(gone)]
    assert len(orphans) > 0 and not orphans["rep_id"].isin(gone).any()
    assert set(orphans["account_id"]) <= set(moves["account_id"])
    uncovered = plan.loc[plan["rep_id"] == "", "account_id"].tolist()
    assert summary["uncovered_accounts"] == uncovered and len(uncovered) > 0
    had_rep = plan.loc[(plan["rep_id"] == "") & (plan["current_rep"] != ""), "account_id"]
    assert (moves.set_index("account_id").loc[had_rep, "reason"] == "uncovered").all()
    assert summary["objective_terms"]["uncovered_value"] > 0
    assert summary["status"] == "optimal"


def broken_copy(folder, tmp_path):
    copy = tmp_path / "plan"
    shutil.copytree(folder, copy)
    return copy, read(copy, "assignments.csv")


def write(frame, path):
    frame.to_csv(path, index=False)


def failures(texas, copy) -> str:
    scenario, _, _ = texas
    accounts, reps, _ = load_inputs(scenario)
    report = check_plan(copy, accounts.frame, reps.frame, scenario, None)
    assert not report.ok
    return " | ".join(report.failures)


def test_checks_pass_on_the_written_plan(texas):
    scenario, folder, summary = texas
    accounts, reps, _ = load_inputs(scenario)
    report = check_plan(folder, accounts.frame, reps.frame, scenario, summary["objective"])
    assert report.ok, report.failures


@pytest.mark.parametrize("breakage, expected", [
    ("duplicate", "every account once"),
    ("uncover", "every account once"),
    ("wrong segment", "eligibility"),
    ("split family", "families together"),
    ("unlock", "locks kept"),
    ("overload", "capacity held"),
    ("forget move", "moves are the difference"),
])
def test_checks_catch_a_broken_plan(texas, tmp_path, breakage, expected):
    scenario, folder, _ = texas
    copy, plan = broken_copy(folder, tmp_path)
    _, reps, _ = load_inputs(scenario)
    segments = reps.frame.set_index("rep_id")["segments"]
    if breakage == "duplicate":
        plan = pd.concat([plan, plan.iloc[[0]]])
    elif breakage == "uncover":
        plan.loc[0, "rep_id"] = ""
    elif breakage == "wrong segment":
        row = plan.index[plan["segment"] == "key"][0]
        plan.loc[row, "rep_id"] = next(r for r, s in segments.items() if "key" not in s)
    elif breakage == "split family":
        row = plan.index[plan["family"] != plan["account_id"]][0]
        plan.loc[row, "rep_id"] = next(r for r in reps.ids if r != plan.loc[row, "rep_id"]
                                       and plan.loc[row, "segment"] in segments[r])
    elif breakage == "unlock":
        row = plan.index[plan["locked"] == "True"][0]
        plan.loc[row, "rep_id"] = next(r for r in reps.ids if r != plan.loc[row, "rep_id"]
                                       and plan.loc[row, "segment"] in segments[r])
    elif breakage == "overload":
        plan.loc[plan["segment"].isin(segments["R09"]), "rep_id"] = "R09"
    elif breakage == "forget move":
        moves = read(copy, "moves.csv")
        write(moves.iloc[1:], copy / "moves.csv")
    write(plan, copy / "assignments.csv")
    assert expected in failures(texas, copy)


def test_checks_catch_a_wrong_objective(texas):
    scenario, folder, summary = texas
    accounts, reps, _ = load_inputs(scenario)
    report = check_plan(folder, accounts.frame, reps.frame, scenario, summary["objective"] * 1.001)
    assert any("objective recomputed" in f for f in report.failures)

"""Joint sizing and alignment: a tiny instance against brute force (every coverage and reps per base, calls
by scipy), the shipped Texas scenario end to end with an honest gap, and the checks on a broken plan."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.optimize import minimize

from optimizer.core.scenario import load_scenario
from optimizer.sizing.joint_checks import JointRules, check_joint
from optimizer.sizing.joint_data import prepare_joint
from optimizer.sizing.joint_pipeline import run_joint
from optimizer.sizing.report import summary_lines
from tests.conftest import SCENARIOS, grid_units

TINY = {
    "kind": "sizing_joint", "name": "tiny-joint", "margin": 0.5,
    "reps": {"cost": 9_000, "hours": 300, "headcount": {"min": 1, "max": 4}},
    "bases": {"listed": [{"unit": "U000"}, {"unit": "U003"}], "max_reps": 2, "fixed_cost": 1_000},
    "travel": {"speed_kmh": 80, "road_factor": 1.3, "calls_per_trip": 3, "max_distance_km": 500},
    "segments": [{"id": "all", "accounts": {"measure": "establishments", "share": 0.02},
                  "curve": {"type": "adbudg", "min": 1000, "max": 20000, "shape": 0.9, "half_saturation": 4},
                  "effort": {"min": 0, "max": 30, "hours": 1.0}}],
    "linearisation": {"tolerance": 0.0005},
    "solver": {"time_limit": 30, "target_gap": 0.0},
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    grid_units(rows=2, cols=2, seed=3).to_file(folder / "grid.gpkg", layer="units")
    scenario = dict(TINY, units={"dataset": str(folder / "grid.gpkg")})
    (folder / "s.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    return load_scenario(folder / "s.yaml"), folder


def best_calls(curves, margin, hours, capacity, hi) -> float:
    """Most contribution one base's reps can earn from its units (concave: SLSQP finds the optimum)."""
    if not curves:
        return 0.0
    scale = max(hi)

    def negative(z):
        return -sum(m * float(c.value(x)) for m, c, x in zip(margin, curves, z * scale)) / 1e4

    cons = [{"type": "ineq", "fun": lambda z: (capacity - np.dot(hours, z * scale)) / max(capacity, 1.0)}]
    start = np.full(len(curves), min(capacity / max(sum(hours), 1e-9), scale) / scale * 0.5)
    res = minimize(negative, start, method="SLSQP", bounds=[(0, h / scale) for h in hi], constraints=cons,
                   options={"ftol": 1e-13, "maxiter": 500})
    return -res.fun * 1e4


def brute_force(inputs) -> float:
    """Best true profit over every coverage and every reps-per-base choice."""
    data, best = inputs.data, -np.inf
    hours = {(u, b): h for u, b, h in zip(data.pair_unit, data.pair_base, data.pair_hours)}
    units = range(len(data.margin))
    for cover in itertools.product(range(data.n_bases), repeat=len(data.margin)):
        for reps in itertools.product(range(data.max_reps + 1), repeat=data.n_bases):
            used = {cover[u] for u in units}
            if any(reps[b] == 0 for b in used) or not data.headcount_lo <= sum(reps) <= data.headcount_hi:
                continue
            total = -data.rep_cost * sum(reps) - data.base_cost * sum(r > 0 for r in reps)
            for b in range(data.n_bases):
                mine = [u for u in units if cover[u] == b]
                total += best_calls([inputs.curves[u] for u in mine], data.margin[mine], [hours[u, b] for u in mine],
                                    data.rep_hours * reps[b], data.effort_hi[mine])
            best = max(best, total)
    return best


def test_tiny_joint_model_matches_brute_force_within_its_bounds(tiny, tmp_path):
    scenario, _ = tiny
    outcome = run_joint(scenario, tmp_path / "run")
    summary, inputs = outcome.summary, prepare_joint(scenario)
    reference = brute_force(inputs)
    error = summary["linearisation"]["error_bound"]
    assert summary["objective"] >= reference - error - 1e-6 * abs(reference), "worse than the error bound allows"
    assert reference <= summary["bound"] + 1e-6 * abs(reference), "the bound does not hold"
    assert summary["objective"] <= summary["bound"]


@pytest.fixture(scope="module")
def texas_joint(tmp_path_factory):
    scenario = load_scenario(SCENARIOS / "texas_sizing_joint.yaml", {"solver.time_limit": 12})
    outcome = run_joint(scenario, tmp_path_factory.mktemp("runs") / "texas-joint")
    return scenario, outcome.folder, outcome.summary


def test_texas_joint_outputs_and_an_honest_gap(texas_joint):
    _, folder, summary = texas_joint
    assert sorted(p.name for p in folder.iterdir()) == ["assignments.csv", "map.html", "sizing.csv", "summary.json",
                                                       "territories.csv"]
    assert json.loads((folder / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert summary["status"] in ("optimal", "feasible") and summary["seconds"]["solve"] <= 12 + 3
    assert summary["objective"] <= summary["bound"]
    assert summary["gap"] == pytest.approx((summary["bound"] - summary["objective"]) / summary["objective"])
    assert summary["gap"] < 0.05 and summary["linearisation"]["error_bound"] > 0
    assert summary["units"] == 254 and summary["candidate_bases"] >= 20
    assert "\n".join(summary_lines(summary, folder)).startswith("scenario    texas-sizing-joint")


def test_texas_joint_tables_agree(texas_joint):
    _, folder, summary = texas_joint
    assignments = pd.read_csv(folder / "assignments.csv", dtype={"unit_id": str})
    territories = pd.read_csv(folder / "territories.csv", dtype={"base_unit_id": str})
    sizing = pd.read_csv(folder / "sizing.csv")
    assert assignments["unit_id"].is_unique and len(assignments) == 254
    assert set(assignments["territory_id"]) == set(territories["territory_id"])
    assert territories["reps"].sum() == summary["headcount"] and len(territories) == summary["bases_open"]
    assert (territories["hours"] <= territories["capacity_hours"] * (1 + 1e-6)).all()
    assert (assignments["distance_km"] <= 300 + 1e-6).all()
    harris = territories.set_index("base_name").loc["Houston"]
    assert harris["reps"] >= 5, "Houston's metro accounts need a team"
    plan = sizing[sizing["basis"].str.startswith("joint plan")]
    assert len(plan) == 1 and plan["headcount"].iloc[0] == summary["headcount"]
    assert plan["profit"].iloc[0] == pytest.approx(summary["objective"])
    html = (folder / "map.html").read_text()
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", html)


def test_checks_catch_a_county_covered_from_too_far(texas_joint, tmp_path):
    scenario, folder, summary = texas_joint
    for name in ("assignments.csv", "territories.csv"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    assignments = pd.read_csv(tmp_path / "assignments.csv", dtype={"unit_id": str, "territory_id": str})
    territories = pd.read_csv(tmp_path / "territories.csv", dtype={"territory_id": str})
    el_paso = territories.loc[territories["base_name"] == "El Paso", "territory_id"].iloc[0]
    assignments.loc[assignments["unit_id"] == "48201", "territory_id"] = el_paso  # Harris from El Paso
    assignments.to_csv(tmp_path / "assignments.csv", index=False)
    report = check_joint(tmp_path, JointRules(prepare_joint(scenario), summary["objective"]))
    failures = " | ".join(report.failures)
    assert "unit 48201 is" in failures and "km from its base" in failures
    assert "territories.csv matches the plan" not in report.passed

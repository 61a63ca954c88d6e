"""The service layer (``optimizer.api``): the same results as a run, from calls that write nothing."""

from __future__ import annotations

import math

import pytest

from optimizer import api
from optimizer.core.errors import InputError
from optimizer.solver.result import Solution
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module")
def texas():
    return api.load_scenario(SCENARIOS / "texas_counties.yaml")


def test_load_applies_overrides_and_validate_says_ok(texas):
    tight = api.load_scenario(SCENARIOS / "texas_counties.yaml", {"balance.tolerance": 0.03})
    assert tight.balance.tolerance == 0.03 and texas.balance.tolerance == 0.05
    assert api.validate(texas)[0].startswith("ok: texas-counties: 254 units, 20 territories")
    assert api.json_schema("accounts")["properties"]["kind"]
    with pytest.raises(InputError, match="unknown kind"):
        api.json_schema("nope")


def test_solve_returns_the_runs_solution_and_writes_nothing(texas, texas_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = api.prepare(texas)
    assert len(data.units) == 254 and len(data.bases) == 20
    solution = api.solve(texas, data)
    assert isinstance(solution, Solution) and solution.has_plan
    _, summary = texas_run
    assert solution.status.value == summary["status"]
    assert math.isclose(solution.objective, summary["objective"], rel_tol=1e-12)
    assert math.isclose(solution.bound, summary["bound"], rel_tol=1e-12)
    assert math.isclose(solution.gap, summary["gap"], rel_tol=1e-9)
    assert solution.stages and {"build", "solve"} <= set(solution.seconds)
    assert list(tmp_path.iterdir()) == []


def test_every_kind_solves_to_the_same_shape():
    accounts = api.load_scenario(SCENARIOS / "accounts_tx.yaml")
    solution = api.solve(accounts)
    assert isinstance(solution, Solution) and solution.has_plan and solution.gap <= accounts.solver.target_gap
    assert set(solution.terms) and solution.rep_of.size == 1500
    sizing = api.load_scenario(SCENARIOS / "texas_sizing.yaml")
    with pytest.raises(InputError, match="solved and written by a run"):
        api.solve(sizing, prepared=object())


def test_score_plan_in_memory_matches_evaluate(texas, texas_run, tmp_path):
    folder, _ = texas_run
    score = api.score_plan(texas, folder / "assignments.csv")
    assert score.ok and score.summary["status"] == "evaluated"
    assert len(score.territories) == 20 and score.assignments["unit_id"].nunique() == 254
    written = api.evaluate(texas, folder / "assignments.csv", tmp_path / "scored")
    assert written.summary["objective"] == score.summary["objective"]
    assert (tmp_path / "scored" / "summary.json").exists()

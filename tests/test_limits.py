"""limits.csv: what each limit costs equals a re-solve of the scenario with that limit loosened."""

from __future__ import annotations

import pandas as pd
import pytest

from optimizer.alignment.limits import loosened_scenarios
from optimizer.alignment.pipeline import run_scenario
from optimizer.core.scenario import load_scenario
from tests.conftest import write_scenario

RULES = {"locks": [{"unit": "U012", "territory": "T03"}, {"unit": "U004", "territory": "T01"}],
         "apart": [["U001", "U002", "U003"]]}
SECTIONS = {"rules": RULES, "contiguity": {"required": True},
            "balance": {"tolerance": 0.1, "measures": {"establishments": 0.15}}}


def current_plan(tmp_path) -> str:
    path = tmp_path / "current.csv"
    pd.DataFrame({"unit_id": [f"U{i:03d}" for i in range(25)],
                  "territory_id": [f"T0{1 + (i % 5) // 2}" for i in range(25)]}).to_csv(path, index=False)
    return str(path)


def solved(tmp_path, dataset, name: str, **sections) -> dict:
    folder = tmp_path / name
    folder.mkdir()
    return run_scenario(load_scenario(write_scenario(folder, dataset, **sections)), folder / "run").summary


@pytest.fixture
def limits_run(tmp_path, grid_dataset):
    folder = tmp_path / "plan"
    folder.mkdir()
    outcome = run_scenario(load_scenario(write_scenario(folder, grid_dataset, **SECTIONS, report={"limits": True})),
                           folder / "run")
    return outcome, pd.read_csv(outcome.folder / "limits.csv").set_index(["limit", "loosened_setting"])


def test_every_limit_has_a_row_and_loosening_never_costs(limits_run):
    outcome, table = limits_run
    assert set(table.index.get_level_values("limit")) == {
        "balance.tolerance", "balance.measures.establishments", "contiguity.required", "rules.locks",
        "rules.locks.0", "rules.locks.1", "rules.apart.0"}
    assert table["objective"].tolist() == pytest.approx([outcome.summary["objective"]] * len(table))
    assert (table["difference"] >= -1e-9).all()
    assert (table["objective_loosened"] <= table["objective"] + 1e-9).all()
    assert outcome.summary["limits"]["rows"] == len(table)


@pytest.mark.parametrize("limit, loosened, sections", [
    ("rules.locks", "none", {**SECTIONS, "rules": {**RULES, "locks": []}}),
    ("rules.locks.1", "removed", {**SECTIONS, "rules": {**RULES, "locks": RULES["locks"][:1]}}),
    ("balance.measures.establishments", "±30.0%", {**SECTIONS, "balance": {"tolerance": 0.1,
                                                                          "measures": {"establishments": 0.3}}}),
    ("contiguity.required", "false", {**SECTIONS, "contiguity": {"required": False}}),
])
def test_the_cost_of_a_limit_equals_a_re_solve_with_it_loosened(tmp_path, grid_dataset, limits_run, limit,
                                                                 loosened, sections):
    outcome, table = limits_run
    loose = solved(tmp_path, grid_dataset, "loose", **sections)
    row = table.loc[(limit, loosened)]
    assert row["objective_loosened"] == pytest.approx(min(loose["objective"], outcome.summary["objective"]), rel=1e-6)
    assert row["difference"] == pytest.approx(outcome.summary["objective"] - row["objective_loosened"], abs=1e-6)


def test_the_move_budget_is_doubled_and_removed(tmp_path, grid_dataset):
    realign = {"current_plan": current_plan(tmp_path), "max_moved_share": 0.1}
    summary = solved(tmp_path, grid_dataset, "plan", realignment=realign, report={"limits": True})
    table = pd.read_csv(tmp_path / "plan" / "run" / "limits.csv").set_index(["limit", "loosened_setting"])
    free = solved(tmp_path, grid_dataset, "free", realignment={"current_plan": realign["current_plan"]})
    row = table.loc[("realignment.max_moved_share", "removed")]
    assert row["objective_loosened"] == pytest.approx(min(free["objective"], summary["objective"]), rel=1e-6)
    assert ("realignment.max_moved_share", "0.2") in table.index


def test_loosened_copies_change_only_their_limit(tmp_path, grid_dataset):
    scenario = load_scenario(write_scenario(tmp_path, grid_dataset, **SECTIONS))
    for limit in loosened_scenarios(scenario):
        changed = {key for key in type(scenario).model_fields
                   if getattr(limit.scenario, key) != getattr(scenario, key)}
        assert changed == {limit.limit.split(".")[0]}, limit.limit
    assert scenario.balance.tolerance == 0.1  # the original is untouched

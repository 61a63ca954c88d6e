"""`territory evaluate`: a hand-edited Texas plan is scored like a solved one, and bad plan files are refused."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.cli.main import app
from optimizer.core.errors import ExitCode, InputError
from optimizer.alignment.evaluate import evaluate_plan
from optimizer.alignment.plan_file import read_plan
from optimizer.core.scenario import load_scenario
from tests.conftest import SCENARIOS

TEXAS = SCENARIOS / "texas_counties.yaml"
RUN_FILES = ["assignments.csv", "map.html", "summary.json", "territories.csv"]


@pytest.fixture(scope="module")
def texas():
    return load_scenario(TEXAS)


@pytest.fixture
def solved_plan(texas_run) -> pd.DataFrame:
    return pd.read_csv(texas_run[0] / "assignments.csv", dtype={"unit_id": str, "territory_id": str})


def write_plan(tmp_path, frame: pd.DataFrame, name: str = "plan.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def cli(*args: str):
    return CliRunner().invoke(app, list(map(str, args)))


def test_the_solved_plan_scores_as_solved(texas, texas_run, tmp_path):
    folder, solved = texas_run
    result = evaluate_plan(texas, folder / "assignments.csv", tmp_path / "eval")
    assert result.ok, result.broken_rules
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["status"] == "evaluated" and summary["broken_rules"] == []
    assert summary["objective"] == pytest.approx(solved["objective"], rel=1e-7)
    assert summary["checks_passed"] == solved["checks_passed"], "the same checks, objective recomputed included"
    assert summary["gap"] is None and summary["bound"] is None
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == RUN_FILES
    territories = pd.read_csv(tmp_path / "eval" / "territories.csv")
    expected = pd.read_csv(folder / "territories.csv")
    pd.testing.assert_frame_equal(territories, expected, check_exact=False, rtol=1e-7)


def merged(plan: pd.DataFrame, donor: str, receiver: str) -> pd.DataFrame:
    """``plan`` with every unit of ``donor`` moved to ``receiver`` (a manager merging two territories)."""
    moved = plan.assign(territory_id=plan["territory_id"].replace(donor, receiver))
    return moved.groupby(["unit_id", "territory_id"], as_index=False)["share"].sum()


def test_merging_territories_breaks_the_band_and_names_both(texas, solved_plan, texas_run, tmp_path):
    result = evaluate_plan(texas, write_plan(tmp_path, merged(solved_plan, "T03", "T05")), tmp_path / "eval")
    assert not result.ok
    band = [rule for rule in result.broken_rules if rule.startswith("workload inside the band")]
    assert band and "T03 carries 0.0000x" in band[0] and "T05 carries" in band[0]
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["broken_rules"] == result.broken_rules
    assert set(summary["band"]["territories_outside_band"]) == {"T03", "T05"}
    before = pd.read_csv(texas_run[0] / "territories.csv", index_col="territory_id")["workload"]
    after = pd.read_csv(tmp_path / "eval" / "territories.csv", index_col="territory_id")["workload"]
    assert after["T05"] == pytest.approx(before["T05"] + before["T03"]) and after["T03"] == 0
    assert (tmp_path / "eval" / "map.html").stat().st_size > 100_000, "the plan is still drawn"


def test_missing_and_doubled_units_are_broken_rules(texas, solved_plan, tmp_path):
    whole = solved_plan[solved_plan["share"] == 1]
    missing, doubled = whole["unit_id"].iloc[0], whole["unit_id"].iloc[1]
    other = next(t for t in sorted(solved_plan["territory_id"].unique())
                 if t != whole["territory_id"].iloc[1])
    edited = pd.concat([solved_plan[solved_plan["unit_id"] != missing],
                        pd.DataFrame({"unit_id": [doubled], "territory_id": [other], "share": [1.0]})])
    result = evaluate_plan(texas, write_plan(tmp_path, edited), tmp_path / "eval")
    rules = " | ".join(result.broken_rules)
    assert f"unit {missing} is in no territory" in rules
    assert f"shares of unit {doubled} add up to 2.000000" in rules
    assert f"unit {doubled} is split but may not be shared" in rules
    page = (tmp_path / "eval" / "map.html").read_text()
    assert f'"u":"{doubled}"' in page and f'"u":"{missing}"' not in page, "missing units are left undrawn"


def test_cli_exit_codes_and_broken_rules_listed(solved_plan, texas_run, tmp_path):
    ok = cli("evaluate", TEXAS, texas_run[0] / "assignments.csv", "--out", tmp_path / "ok")
    assert ok.exit_code == 0, ok.output
    broken = cli("evaluate", TEXAS, write_plan(tmp_path, merged(solved_plan, "T03", "T05")), "--out",
                 tmp_path / "broken")
    assert broken.exit_code == ExitCode.PLAN_BREAKS_RULES, broken.output
    assert "broken      workload inside the band" in broken.stdout
    assert (tmp_path / "broken" / "summary.json").exists()


@pytest.mark.parametrize("text, needles", [
    ("unit,territory_id\n48001,T01\n", ["row 1", "no column `unit_id`", "header must name"]),
    ("unit_id,territory_id\n48001,T01\n4800X,T02\n", ["row 3: unknown unit `4800X`"]),
    ("unit_id,territory_id\n48001,T01\n48001,T01\n", ["row 3", "listed again (first on row 2)"]),
    ("unit_id,territory_id,share\n48001,T99,1\n48003,T01,lots\n",
     ["row 2: unknown territory `T99`", "T01 ... T20", "row 3: share `lots` is not a number"]),
    ("unit_id,territory_id\n", ["has no plan rows"]),
])
def test_bad_plan_files_are_refused_with_row_and_fix(tmp_path, text, needles):
    plan = tmp_path / "plan.csv"
    plan.write_text(text)
    result = cli("evaluate", TEXAS, plan, "--out", tmp_path / "out")
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(plan) in lines[0], result.stderr
    for needle in needles:
        assert needle in lines[0]
    assert not (tmp_path / "out").exists(), "a refused plan writes nothing"


def test_spreadsheet_habits_are_read(tmp_path):
    plan = tmp_path / "plan.csv"
    plan.write_text("\ufeffUnit_ID;Territory_ID;Share;Note\n48201;T01;40%;metro\n48201;T02;0,6;\n\n48001;T03;;x\n",
                    encoding="utf-8")
    frame = read_plan(plan, ["48001", "48201"], ["T01", "T02", "T03"])
    assert frame.to_dict("list") == {"unit_id": ["48201", "48201", "48001"], "territory_id": ["T01", "T02", "T03"],
                                     "share": [0.4, 0.6, 1.0]}


def test_dropped_leading_zeros_get_a_hint(tmp_path):
    plan = tmp_path / "plan.csv"
    plan.write_text("unit_id,territory_id\n1001.0,T01\n")
    with pytest.raises(InputError, match=r"did you mean `01001`\? spreadsheets drop leading zeros"):
        read_plan(plan, ["01001"], ["T01"])

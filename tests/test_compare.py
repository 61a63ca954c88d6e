"""`territory compare`: the Texas baseline against the shipped what-ifs, reuse of run folders, the metrics."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.cli.main import app
from optimizer.compare.run import COLUMNS, _not_reusable, compare_entries, parse_entry
from optimizer.compare.metrics import best_cells, change_from_base
from optimizer.core.errors import ExitCode, InputError
from optimizer.alignment.prepare import prepare
from optimizer.core.run import PhaseTimer
from optimizer.core.scenario import load_scenario
from tests.conftest import SCENARIOS, TEXAS_WHAT_IFS

EXTERNAL = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.I)


def runs_of(comparison):
    return comparison.folder.parent / "runs"


def test_comparison_csv_has_one_row_per_scenario(texas_comparison):
    rows = pd.read_csv(texas_comparison.folder / "comparison.csv")
    assert list(rows.columns) == COLUMNS
    assert rows["territories"].tolist() == [20, 18, 22]
    assert rows["scenario"].tolist() == ["texas-counties", "texas-counties-18", "texas-counties-22"]
    assert rows["units"].eq(254).all() and rows["kind"].eq("alignment").all()
    assert rows["status"].eq("optimal").all()
    assert rows["reused"].tolist() == [True, False, False], "the base is texas_run's folder, reused"
    assert rows["note"].fillna("").tolist()[0] == "" and rows["note"][1].startswith("solved: no finished run in")
    assert rows["max_deviation_pct"].le(5 + 1e-5).all()
    assert rows.loc[0, ["units_moved", "workload_moved_pct"]].tolist() == [0, 0]
    assert rows.loc[1:, "units_moved"].gt(0).all(), "another headcount must move units"
    assert rows["binding"].str.contains("band ±5 %").all()
    assert rows["gap"].le(0.01 + 1e-9).all()


def test_spread_and_travel_follow_the_territory_tables(texas_comparison):
    rows = pd.read_csv(texas_comparison.folder / "comparison.csv")
    for row in rows.itertuples():
        territories = pd.read_csv(f"{row.folder}/territories.csv")
        workload = territories["workload"]
        assert row.workload_cv == pytest.approx(workload.std(ddof=0) / workload.mean())
        assert row.weighted_travel_km == pytest.approx(
            (workload * territories["weighted_distance_km"]).sum() / workload.sum())
        assert row.objective == pytest.approx(json.loads(open(f"{row.folder}/summary.json").read())["objective"])


def test_report_is_one_small_offline_file(texas_comparison):
    page = (texas_comparison.folder / "report.html").read_text()
    assert len(page.encode()) < 1_000_000
    assert not EXTERNAL.search(page) and "<link" not in page
    assert page.count('class="map"') == 5, "a map per scenario and a moved-units map per what-if"
    assert page.count('<svg class="chart"') == 6
    assert "★" in page and 'td class="best"' in page
    assert page.count('id="report-geometry"') == 1, "geometry is shared by every map"


def test_a_second_compare_reuses_every_run(texas_comparison, tmp_path):
    entries = [parse_entry(str(SCENARIOS / n)) for n in ("texas_counties.yaml", *TEXAS_WHAT_IFS)]
    again = compare_entries(entries, tmp_path / "out", runs_dir=runs_of(texas_comparison))
    assert again.rows["reused"].all()
    assert again.rows["note"].eq("").all(), "nothing was made again"
    first = texas_comparison.rows.drop(columns=["reused", "note"])
    pd.testing.assert_frame_equal(again.rows.drop(columns=["reused", "note"]), first)


@pytest.mark.parametrize("tamper, reason", [
    (lambda f: (f / "map.html").unlink(), "lacks map.html"),
    (lambda f: (f / "summary.json").write_text((f / "summary.json").read_text().replace(
        '"scenario_hash": "', '"scenario_hash": "x')), "scenario_hash changed"),
    (lambda f: (f / "assignments.csv").write_text((f / "assignments.csv").read_text().replace(",T01,", ",T02,")),
     "no longer passes the checks"),
    (lambda f: (f / "territories.csv").write_text((f / "territories.csv").read_text().replace("\nT01,", "\nT1,")),
     "bases in"),
])
def test_a_changed_run_folder_is_not_reused(texas_run, tmp_path, tamper, reason):
    folder = tmp_path / "texas-counties"
    shutil.copytree(texas_run[0], folder)
    scenario = load_scenario(SCENARIOS / "texas_counties.yaml")
    ready = prepare(scenario, PhaseTimer(), lambda _: None)
    assert _not_reusable(folder, scenario, ready, None) is None
    tamper(folder)
    assert reason in _not_reusable(folder, scenario, ready, None)


def test_a_hand_edited_plan_is_an_entry(texas_comparison, texas_run, tmp_path):
    plan = pd.read_csv(texas_run[0] / "assignments.csv", dtype=str)
    whole = plan[plan["share"] == "1"].iloc[0]
    plan.loc[plan["unit_id"] == whole["unit_id"], "territory_id"] = "T01" if whole["territory_id"] != "T01" else "T02"
    plan.to_csv(tmp_path / "manager.csv", index=False)
    base = str(SCENARIOS / "texas_counties.yaml")
    result = compare_entries([parse_entry(base), parse_entry(f"{base}:{tmp_path / 'manager.csv'}")],
                             tmp_path / "out", runs_dir=runs_of(texas_comparison))
    row = result.rows.iloc[1]
    assert row["status"] == "evaluated" and row["scenario"] == "texas-counties + manager.csv"
    assert row["units_moved"] == 1 and pd.isna(row["gap"])
    assert (runs_of(texas_comparison) / "texas-counties--manager" / "summary.json").exists()


def test_cli_compare_prints_a_line_per_scenario(texas_comparison, tmp_path):
    entries = [SCENARIOS / n for n in ("texas_counties.yaml", *TEXAS_WHAT_IFS)]
    result = CliRunner().invoke(app, ["compare", *map(str, entries), "--out", str(tmp_path / "cmp"),
                                      "--runs", str(runs_of(texas_comparison))])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("[reused]") == 3
    assert (tmp_path / "cmp" / "comparison.csv").exists() and (tmp_path / "cmp" / "report.html").exists()


@pytest.mark.parametrize("args, needle", [
    ([str(SCENARIOS / "texas_counties.yaml")], "name the base and at least one what-if"),
    ([str(SCENARIOS / "texas_counties.yaml"), "plan.csv"], "write SCENARIO.yaml:plan.csv"),
    ([str(SCENARIOS / "texas_counties.yaml"), "missing.yaml"], "missing.yaml: file not found"),
    ([str(SCENARIOS / "texas_counties.yaml")] * 2, "is the same run as"),
])
def test_cli_compare_refuses_bad_entries_in_one_line(texas_comparison, tmp_path, args, needle):
    result = CliRunner().invoke(app, ["compare", *args, "--out", str(tmp_path / "cmp"),
                                      "--runs", str(runs_of(texas_comparison))])
    assert result.exit_code == ExitCode.BAD_INPUT
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.stderr
    assert not (tmp_path / "cmp").exists()


def test_parse_entry_splits_scenario_and_plan():
    assert parse_entry("a/b.yaml:c/d.csv").plan.name == "d.csv"
    assert parse_entry("a/b.yml").plan is None
    with pytest.raises(InputError):
        parse_entry("d.csv")


def test_renumbered_territories_are_matched_not_counted_as_moves():
    rng = np.random.default_rng(1)
    owner = rng.integers(0, 4, 40)
    workload = rng.uniform(1, 10, 40)
    base = np.eye(4)[owner]
    same_plan_new_ids = base[:, [2, 0, 3, 1]]
    change = change_from_base(base, same_plan_new_ids, workload)
    assert change.moved.sum() == 0 and sorted(change.match) == [0, 1, 2, 3]
    moved = same_plan_new_ids.copy()
    moved[5] = np.roll(moved[5], 1)  # unit 5 changes rep
    moved[7] = 0.5 * moved[7] + 0.5 * np.roll(moved[7], 1)  # unit 7 becomes shared, half moves
    change = change_from_base(base, moved, workload)
    assert change.moved[5] == 1 and change.moved[7] == pytest.approx(0.5)
    assert np.flatnonzero(change.moved).tolist() == [5, 7]


def test_a_new_territory_is_unmatched_and_its_units_moved():
    base = np.eye(2)[[0, 0, 1, 1]]
    other = np.eye(3)[[0, 2, 1, 1]]  # unit 1 goes to a third, new territory
    change = change_from_base(base, other, np.ones(4))
    assert change.match.tolist() == [0, 1, -1]
    assert change.moved.tolist() == [0, 1, 0, 0]


def test_best_cells_ignore_ties_the_base_for_moves_and_missing_values():
    rows = pd.DataFrame({"max_deviation_pct": [5.0, 5.00000001, 4.0], "workload_cv": [0.1, 0.1, 0.1],
                         "weighted_travel_km": [50, 40, np.nan], "units_moved": [0, 10, 12],
                         "workload_moved_pct": [0, 3.0, 3.0], "gap": [0.01, np.nan, np.nan],
                         "seconds": [1.0, 2.0, 3.0]})
    best = best_cells(rows)
    assert best["max_deviation_pct"] == {2}
    assert "workload_cv" not in best, "all equal: nothing is best"
    assert best["weighted_travel_km"] == {1}
    assert best["units_moved"] == {1}, "the base moves nothing by definition"
    assert "workload_moved_pct" not in best and "gap" not in best


def test_report_words_both_gaps(texas_comparison):
    """The two gaps are named for what they prove: the best plan with these bases, and with any bases."""
    page = (texas_comparison.folder / "report.html").read_text()
    assert "Gap, these bases" in page and "Gap, any bases" in page
    assert "proven distance from the best plan with these bases" in page
    assert "proven distance from the best plan with any bases" in page
    assert "the best possible plan" not in page
    rows = pd.read_csv(texas_comparison.folder / "comparison.csv")
    assert rows["location_gap"].notna().all() and (rows["location_gap"] >= rows["gap"] - 1e-9).all()


def test_travel_rising_with_headcount_is_flagged_with_its_likely_cause():
    from optimizer.compare.metrics import headcount_warnings

    rows = pd.DataFrame({"scenario": ["base", "more", "ok"], "territories": [20, 22, 24],
                         "weighted_travel_km": [47.6, 64.9, 40.0], "gap": [0.007, 0.009, 0.008],
                         "location_gap": [0.2, 0.3, 0.05]})
    lines = headcount_warnings(rows)
    assert len(lines) == 1 and lines[0].startswith("more (22 territories) travels 36.3% further than base (20)")
    assert "where the bases are" in lines[0] and "more 30.0%" in lines[0]
    rows.loc[1, "weighted_travel_km"] = 47.9  # within its gap (0.9 %): not flagged
    assert headcount_warnings(rows) == []

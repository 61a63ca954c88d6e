"""Account inputs: formats, travel tables, and every bad input refused with one clear line."""

from __future__ import annotations

import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import yaml

from optimizer.accounts.pipeline import prepare
from optimizer.core.errors import ExitCode, InfeasibleError, InputError
from optimizer.core.run import PhaseTimer
from optimizer.core.scenario import load_scenario
from tests.conftest import REPO

DALLAS = ["R06", "R07", "R08", "R10", "R18"]


def shipped(name: str) -> pd.DataFrame:
    return pd.read_csv(REPO / "data" / name, dtype=str, keep_default_na=False)


@pytest.fixture
def case(tmp_path):
    """A valid small case cut from the shipped data: the Dallas-Fort Worth reps and their accounts."""
    reps = shipped("reps_tx.csv")
    reps = reps[reps["rep_id"].isin(DALLAS)].reset_index(drop=True)
    served = set(";".join(reps["segments"]).split(";"))
    accounts = shipped("accounts_tx.csv")
    accounts = accounts[accounts["current_rep"].isin(DALLAS) & accounts["segment"].isin(served)].reset_index(drop=True)
    accounts.loc[~accounts["parent_id"].isin(accounts["account_id"]), "parent_id"] = ""
    return Case(tmp_path, accounts, reps)


class Case:
    """Tables and scenario written to a folder; change them, then load or run."""

    def __init__(self, folder, accounts: pd.DataFrame, reps: pd.DataFrame) -> None:
        self.folder, self.accounts, self.reps = folder, accounts, reps
        self.sections: dict = {"balance": {"tolerance": None}, "solver": {"time_limit": 20}}

    def write(self) -> object:
        self.accounts.to_csv(self.folder / "accounts.csv", index=False)
        self.reps.to_csv(self.folder / "reps.csv", index=False)
        scenario = {"kind": "accounts", "name": "small", "units": {"dataset": "accounts.csv"},
                    "reps": {"dataset": "reps.csv"}} | self.sections
        path = self.folder / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario, sort_keys=False))
        return path

    def prepared(self):
        return prepare(load_scenario(self.write()), PhaseTimer(), lambda _: None)

    def refused(self, *needles: str, error=InputError) -> str:
        with pytest.raises(error) as caught:
            self.prepared()
        line = caught.value.line()
        assert "\n" not in line
        for needle in needles:
            assert needle in line, line
        return line


def test_the_small_case_is_valid(case):
    ready = case.prepared()
    assert len(ready.accounts) > 100 and len(ready.reps) == 5
    assert ready.problem.eligible.any(axis=1).all()


def test_unknown_rep_in_the_current_assignment(case):
    case.accounts.loc[3, "current_rep"] = "R99"
    case.refused("accounts.csv row 5", f"account_id {case.accounts.loc[3, 'account_id']}", "`current_rep` R99",
                 "not in the rep roster", "use a rep_id of the roster")


def test_account_without_an_eligible_rep(case):
    case.accounts.loc[0, "segment"] = "hospital"
    case.refused("row 2", "no rep serves segment `hospital`", "add the segment")


def test_account_out_of_reach(case):
    case.accounts.loc[0, ["lat", "lon", "current_rep"]] = ["31.76", "-106.49", ""]  # El Paso, no rep today
    case.sections["eligibility"] = {"max_travel_minutes": 240}
    case.refused("row 2", "within 240 travel minutes", "raise eligibility.max_travel_minutes")


def test_negative_hours(case):
    case.accounts.loc[4, "call_hours"] = "-1"
    case.refused("row 6", "`call_hours` = `-1` is negative", "cannot be negative")


def test_negative_capacity(case):
    case.reps.loc[1, "capacity_hours"] = "-1600"
    case.refused("reps.csv row 3", "rep_id R07", "`capacity_hours` = `-1600`")


def test_text_where_a_number_belongs(case):
    case.accounts.loc[2, "calls_per_year"] = "twelve"
    case.refused("row 4", "`calls_per_year` = `twelve` is not a number")


@pytest.mark.parametrize("table, column", [("accounts", "call_hours"), ("accounts", "segment"), ("reps", "segments"),
                                           ("reps", "lat")])
def test_missing_column(case, table, column):
    frame = getattr(case, table)
    setattr(case, table, frame.drop(columns=column))
    case.refused(f"{table}.csv", f"missing column `{column}`")


@pytest.mark.parametrize("table, column", [("accounts", "account_id"), ("reps", "rep_id")])
def test_duplicate_ids(case, table, column):
    frame = getattr(case, table)
    frame.loc[2, column] = frame.loc[1, column]
    case.refused(f"{table}.csv row 4", f"duplicate `{column}` {frame.loc[1, column]}")


def test_unknown_parent_and_family_loop(case):
    case.accounts.loc[5, "parent_id"] = "A99999"
    case.refused("row 7", "`parent_id` A99999 is not in the account list")
    case.accounts.loc[5, "parent_id"] = case.accounts.loc[6, "account_id"]
    case.accounts.loc[6, "parent_id"] = case.accounts.loc[5, "account_id"]
    case.refused("loops back")


def test_family_without_a_common_rep(case):
    served = case.reps.set_index("rep_id")["segments"]
    only = [r for r, s in served.items() if "key" not in s.split(";")]
    key = case.accounts.index[case.accounts["segment"] == "key"][0]
    lone = case.accounts.index[(case.accounts["parent_id"] == "") & (case.accounts["segment"] == "core")
                               & ~case.accounts["account_id"].isin(case.accounts["parent_id"])][0]
    case.reps.loc[case.reps["rep_id"].isin(only), "segments"] = "core;growth"
    case.reps.loc[~case.reps["rep_id"].isin(only), "segments"] = "key"
    case.accounts = case.accounts[case.accounts["segment"].isin(["key", "core", "growth"])]
    case.accounts.loc[lone, "parent_id"] = case.accounts.loc[key, "account_id"]
    case.refused(f"family {case.accounts.loc[key, 'account_id']}", "no rep is eligible for all")


def test_excluding_an_unknown_rep(case):
    case.sections["reps"] = {"dataset": "reps.csv", "exclude": ["R77"]}
    case.refused("reps.exclude", "rep R77 is not in reps.csv")


def test_locked_accounts_beyond_capacity(case):
    case.reps["capacity_hours"] = "40"
    case.sections["continuity"] = {"lock_top": 50}
    case.refused("locked accounts need", "lower continuity.lock_top", error=InfeasibleError)


def test_not_enough_capacity_without_white_space(case):
    case.reps["capacity_hours"] = "300"
    line = case.refused("the accounts need at least", "coverage.allow_uncovered", error=InfeasibleError)
    assert "reps:" in line


def write_travel(case, rows) -> None:
    pd.DataFrame(rows, columns=["from_id", "to_id", "minutes"]).to_csv(case.folder / "travel.csv", index=False)
    case.sections["travel"] = {"table": "travel.csv"}


def test_travel_table_takes_precedence_and_missing_pairs_are_counted(case):
    first = case.accounts.loc[0, "account_id"]
    write_travel(case, [("R06", first, 5.0), ("R07", first, 300.0)])
    ready = case.prepared()
    assert ready.travel.minutes[0, 0] == 5.0 and ready.travel.minutes[0, 1] == 300.0
    assert ready.travel.from_table.sum() == 2
    assert any("not in the travel table were estimated" in note for note in ready.notes)


@pytest.mark.parametrize("row, needles", [
    (("R99", "A00001", 10), ["travel.csv row 2", "`from_id` R99 is not a known rep"]),
    (("R06", "A99999", 10), ["`to_id` A99999 is not a known account"]),
    (("R06", "R07", 10), ["`to_id` R07 is not a known account"]),
    (("R06", "A00001", -5), ["`minutes` = `-5` is negative"]),
])
def test_travel_table_with_bad_rows(case, row, needles):
    row = tuple(case.accounts.loc[0, "account_id"] if v == "A00001" else v for v in row)
    write_travel(case, [row])
    case.refused(*needles)


def test_travel_table_swapped_columns_and_repeated_pairs(case):
    first = case.accounts.loc[0, "account_id"]
    write_travel(case, [(first, "R06", 10)])
    case.refused("it is an account id: from_id is the rep")
    write_travel(case, [("R06", first, 10), ("R06", first, 12)])
    case.refused("row 3", f"pair R06 -> {first} is listed twice")


def test_travel_table_missing_pairs_refused_on_request(case):
    write_travel(case, [("R06", case.accounts.loc[0, "account_id"], 10)])
    case.sections["travel"]["missing_pairs"] = "refuse"
    case.refused("travel.csv", "needed pairs missing", "set travel.missing_pairs: estimate")


def points(frame: pd.DataFrame, crs: str) -> gpd.GeoDataFrame:
    geo = gpd.GeoDataFrame(frame.drop(columns=["lat", "lon"]),
                           geometry=gpd.points_from_xy(frame["lon"].astype(float), frame["lat"].astype(float)),
                           crs="EPSG:4326")
    return geo.to_crs(crs)


def test_geopackage_accounts_load_like_the_csv(case):
    from_csv = case.prepared()
    points(case.accounts, "EPSG:4326").to_file(case.folder / "accounts.gpkg", layer="accounts")
    case.sections["units"] = {"dataset": "accounts.gpkg", "layer": "accounts"}
    from_gpkg = case.prepared()
    assert np.allclose(from_gpkg.problem.hours, from_csv.problem.hours)
    assert (from_gpkg.problem.eligible == from_csv.problem.eligible).all()


def test_crs_mismatch_is_an_error(case):
    points(case.accounts, "EPSG:5070").to_file(case.folder / "accounts.gpkg", layer="accounts")
    case.sections["units"] = {"dataset": "accounts.gpkg"}
    case.refused("accounts.gpkg", "is in EPSG:5070 but the scenario declares EPSG:4326", "reproject")


def test_cli_prints_one_line_and_writes_nothing(case):
    case.accounts.loc[3, "current_rep"] = "R99"
    out = case.folder / "out"
    result = subprocess.run([sys.executable, "-m", "optimizer.cli.main", "run", str(case.write()), "--out", str(out)],
                            capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert result.returncode == ExitCode.BAD_INPUT
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "R99" in lines[0], result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_unknown_scenario_key_names_the_nearest(case):
    case.sections["continuity"] = {"lock_topp": 3}
    with pytest.raises(InputError, match=r"unknown key `continuity.lock_topp` \(did you mean `lock_top`\?\)"):
        case.prepared()


def test_small_case_runs_and_its_map_escapes_every_name(case, tmp_path):
    from optimizer.accounts.pipeline import run_scenario

    evil = "<script>alert(1)</script> `${x}`"
    case.accounts.loc[0, "name"] = evil
    case.reps.loc[0, "base_city"] = evil
    case.sections["name"] = "small <b>plan</b>"
    case.sections["coverage"] = {"allow_uncovered": True}  # the Dallas reps cannot carry all their accounts
    outcome = run_scenario(load_scenario(case.write()), tmp_path / "run")
    page = (outcome.folder / "map.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page and "<b>plan</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;plan&lt;/b&gt;" in page
    assert outcome.summary["status"] == "optimal" and outcome.summary["checks_passed"]

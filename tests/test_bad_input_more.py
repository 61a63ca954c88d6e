"""Bad input beyond tests/test_cli_bad_input.py: each gets one `error:` line naming the file, key or row,
a distinct exit code, no traceback and no output folder (see that file for the helpers)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from shapely.geometry import Polygon, box

from optimizer.core.errors import ExitCode
from tests.conftest import REPO, grid_units, write_scenario
from tests.test_cli_bad_input import assert_refused, run_refused, territory


def test_scenario_file_that_is_not_utf8_is_refused_not_patched(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("name: Bogot\xe1\n".encode("latin-1"))
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "latin.yaml:1", "is not UTF-8 text (byte 0xe1)")


@pytest.mark.parametrize("sections, needles", [
    ({"territories": {"count": "ten"}}, ("`territories.count`", "valid integer")),
    ({"territories": {"count": 0}}, ("`territories.count`", "greater than or equal to 1")),
    ({"balance": {"tolerance": "5%"}}, ("`balance.tolerance`", "valid number")),
    ({"balance": {"tolerance": -0.1}}, ("`balance.tolerance`", "greater than 0")),
    ({"balance": {"tolerance": 1}}, ("`balance.tolerance`", "less than 1")),
    ({"balance": {"tolerance": float("nan")}}, ("`balance.tolerance`", "finite number")),
    ({"solver": {"time_limit": 0}}, ("`solver.time_limit`", "greater than 0")),
    ({"solver": {"time_limit": float("inf")}}, ("`solver.time_limit`", "finite number")),
    ({"solver": {"target_gap": -0.1}}, ("`solver.target_gap`", "greater than or equal to 0")),
    ({"workload": {"measures": {"labor_force": float("inf")}}}, ("`workload.measures.labor_force`", "finite")),
    ({"balance": {"tolerance": 0.1, "measures": {"establishments": -0.1}}},
     ("`balance.measures.establishments`", "greater than 0")),
    ({"balance": {"tolerance": 0.1, "targets": {"T01": -1}}}, ("`balance.targets.T01`", "greater than 0")),
    ({"kind": ["alignment"]}, ("unknown kind `['alignment']`", "did you mean `alignment`?")),
    ({"territories": {"count": 3}, "regions": {"count": 5}},
     ("regions.count is 5 but there are only 3 territories",)),
])
def test_wrong_values_are_refused_with_their_key(tmp_path, grid_dataset, sections, needles):
    path = write_scenario(tmp_path, grid_dataset, **sections)
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, *needles)


def test_extends_a_missing_file_names_the_key_and_where_it_is_looked_for(tmp_path):
    path = tmp_path / "what_if.yaml"
    path.write_text("extends: nowhere.yaml\nname: what-if\n")
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "what_if.yaml: extends nowhere.yaml: is not a file",
                "relative to the file that extends it")


def test_extends_itself_is_a_cycle(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("extends: loop.yaml\nname: loop\n")
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "`extends` forms a cycle (loop.yaml -> loop.yaml)")


def test_extends_a_binary_file(tmp_path, grid_dataset):
    path = tmp_path / "what_if.yaml"
    path.write_text(f"extends: {grid_dataset.name}\nname: what-if\n")
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "grid.gpkg:1: is not UTF-8 text")


def test_override_with_an_empty_key_part(tmp_path, grid_dataset):
    base = write_scenario(tmp_path, grid_dataset)
    path = tmp_path / "what_if.yaml"
    path.write_text(f"extends: {base.name}\noverrides:\n  balance..tolerance: 0.2\n")
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "balance..tolerance", "the key path has an empty part")


def test_command_line_override_of_a_list_item_out_of_range(tmp_path, grid_dataset):
    path = write_scenario(tmp_path, grid_dataset, territories={"bases": [{"unit": "U001"}, {"unit": "U010"}]})
    out = tmp_path / "out"
    result = territory("run", str(path), "--out", str(out), "--set", "territories.bases.5.unit=U003")
    assert_refused(result, ExitCode.BAD_INPUT, "territories.bases.5.unit", "it has 2 items, counted from 0")
    assert not out.exists()


@pytest.mark.parametrize("arguments, needles", [
    (("--time-limit", "abc"), (" run: Invalid value for '--time-limit'", "run --help`)")),
    (("--tme-limit", "3"), (" run: No such option: --tme-limit", "(Possible options: --time-limit)")),
])
def test_wrong_flag_is_one_line(tmp_path, grid_dataset, arguments, needles):
    path = write_scenario(tmp_path, grid_dataset)
    out = tmp_path / "out"
    assert_refused(territory("run", str(path), "--out", str(out), *arguments), ExitCode.BAD_INPUT, *needles)
    assert not out.exists()


def test_unknown_command_is_one_line():
    assert_refused(territory("runn", "x.yaml"), ExitCode.BAD_INPUT, "No such command 'runn'", "Did you mean 'run'?")


def test_units_file_without_geometry(tmp_path):
    table = tmp_path / "units.csv"
    frame = grid_units()
    frame.drop(columns="geometry").to_csv(table, index=False)
    path = write_scenario(tmp_path, table)
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "units.csv", "has no geometry (it reads as a plain table)")


def test_units_file_with_only_a_header(tmp_path):
    table = tmp_path / "units.csv"
    table.write_text("unit_id,labor_force\n")
    run_refused(tmp_path, write_scenario(tmp_path, table), ExitCode.BAD_INPUT, "units.csv", "has no geometry")


def _units_with(tmp_path, column, row, value):
    frame = grid_units()
    if column == "labor_force" and isinstance(value, str):
        frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    path = tmp_path / "units.gpkg"
    frame.to_file(path, layer="units")
    return write_scenario(tmp_path, path)


@pytest.mark.parametrize("column, value, needles", [
    ("geometry", Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)]),
     ("1 units have invalid geometry (U002)", "Self-intersection", "make_valid")),
    ("geometry", box(10, 200, 11, 201), ("1 units lie outside longitude -180..180 / latitude -90..90 (U002)",)),
    ("geometry", Polygon(), ("1 units have no geometry (U002)",)),
    ("labor_force", np.inf, ("column `labor_force` is missing or not a number for 1 units (U002)",)),
    ("labor_force", "lots", ("column `labor_force` is missing or not a number for 1 units (U002)",)),
])
def test_bad_value_in_one_unit_is_named(tmp_path, column, value, needles):
    run_refused(tmp_path, _units_with(tmp_path, column, 2, value), ExitCode.BAD_INPUT, "units.gpkg", *needles)


def test_all_zero_workload(tmp_path):
    frame = grid_units().assign(labor_force=0.0)
    frame.to_file(tmp_path / "units.gpkg", layer="units")
    path = write_scenario(tmp_path, tmp_path / "units.gpkg")
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "the workload index is zero for every unit")


def test_missing_layer(tmp_path, grid_dataset):
    path = write_scenario(tmp_path, grid_dataset, units={"dataset": str(grid_dataset), "layer": "nope"})
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "grid.gpkg", "Layer 'nope' could not be opened", "units.layer")


def test_numeric_ids_lose_leading_zeros_and_the_base_is_reported_missing(tmp_path):
    frame = grid_units().assign(unit_id=[1001 + i for i in range(25)])  # "01001" stored as a number
    frame.to_file(tmp_path / "units.gpkg", layer="units")
    path = write_scenario(tmp_path, tmp_path / "units.gpkg",
                          territories={"bases": [{"unit": "01001"}, {"unit": "1010"}]})
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "territories.bases.0.unit", "'01001' is not one of the 25 units",
                "did you mean `1001`? spreadsheets drop leading zeros")


@pytest.mark.parametrize("rules, needles", [
    ({"rules": {"locks": [{"unit": "X9", "territory": "T01"}]}}, ("rules.locks.0.unit", "'X9'")),
    ({"rules": {"together": [["U001", "X9"]]}}, ("rules.together.0", "'X9'")),
    ({"contiguity": {"required": True, "links": [["U001", "X9"]]}}, ("contiguity.links", "'X9'")),
    ({"balance": {"tolerance": 0.1, "targets": {"T09": 0.8}}}, ("balance.targets.T09", "is not a territory")),
])
def test_validate_refuses_the_rules_run_refuses(tmp_path, grid_dataset, rules, needles):
    path = write_scenario(tmp_path, grid_dataset, **rules)
    assert_refused(territory("validate", str(path)), ExitCode.BAD_INPUT, *needles)


def test_sizing_names_the_segment_key_of_a_missing_column(tmp_path, grid_dataset):
    scenario = {"kind": "sizing", "name": "s", "margin": 0.3, "units": {"dataset": str(grid_dataset)},
                "reps": {"cost": 100000, "hours": 1500, "headcount": {"min": 1, "max": 5}},
                "segments": [{"id": "a", "accounts": {"measure": "estab"},
                              "curve": {"type": "power", "scale": 100, "exponent": 0.5}}]}
    path = tmp_path / "sizing.yaml"
    path.write_text(yaml.safe_dump(scenario))
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "no column `estab` (named in segments.0.accounts.measure)")


def test_sizing_curve_without_type(tmp_path):
    scenario = {"kind": "sizing", "name": "s", "margin": 0.3, "reps": {"cost": 1, "hours": 1500,
                "headcount": {"max": 5}}, "segments": [{"id": "a", "curve": {"scale": 100}}]}
    path = tmp_path / "sizing.yaml"
    path.write_text(yaml.safe_dump(scenario))
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "missing key `segments.0.curve.type`")


def test_output_path_that_is_a_file_is_refused_and_kept(tmp_path, grid_dataset):
    path = write_scenario(tmp_path, grid_dataset)
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    result = territory("run", str(path), "--out", str(target))
    assert_refused(result, ExitCode.BAD_INPUT, "--out", "notes.txt: is an existing file, not a folder")
    assert target.read_text() == "keep me" and not list(tmp_path.glob(".notes.txt.*"))
    result = territory("run", str(path), "--out", str(target / "run"))
    assert_refused(result, ExitCode.BAD_INPUT, "lies under", "which is a file")


def test_compare_output_path_that_is_a_file(tmp_path, grid_dataset):
    path = write_scenario(tmp_path, grid_dataset)
    target = tmp_path / "report"
    target.write_text("")
    result = territory("compare", str(path), str(path), "--out", str(target))
    assert_refused(result, ExitCode.BAD_INPUT, "--out", "is an existing file")
    assert not (tmp_path / "runs").exists()


def test_sweep_whose_grid_key_no_scenario_accepts(tmp_path, grid_dataset):
    write_scenario(tmp_path, grid_dataset)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("name: s\nbase: scenario.yaml\ngrid:\n  territories.cnt: [2, 3]\n")
    out = tmp_path / "out"
    result = territory("sweep", str(sweep), "--out", str(out), "--workers", "1")
    assert_refused(result, ExitCode.BAD_INPUT, "sweep.yaml: none of its 2 scenarios can be read",
                   "unknown key `territories.cnt` (did you mean `count`?)")
    assert not out.exists()


def test_compare_remakes_a_run_folder_whose_summary_was_tampered_with(tmp_path, grid_dataset):
    base = write_scenario(tmp_path, grid_dataset, solver={"time_limit": 30, "target_gap": 0.01})
    what_if = tmp_path / "four.yaml"
    what_if.write_text("extends: scenario.yaml\nname: four\noverrides: {territories.count: 4}\n")
    out = tmp_path / "out"
    first = territory("compare", str(base), str(what_if), "--out", str(out))
    assert first.returncode == 0, first.stderr
    (out / "runs" / "four" / "summary.json").write_text("[1, 2]")
    summary = out / "runs" / "grid-test" / "summary.json"
    summary.write_text(json.dumps(json.loads(summary.read_text()) | {"objective": "oops"}))
    again = territory("compare", str(base), str(what_if), "--out", str(out))
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert "[reused]" not in again.stdout
    notes = (out / "comparison.csv").read_text()
    assert notes.count("summary.json is not a run summary") == 2, notes


def _accounts_scenario(tmp_path, accounts: bytes):
    (tmp_path / "accounts.csv").write_bytes(accounts)
    (tmp_path / "reps.csv").write_bytes((REPO / "data" / "reps_tx.csv").read_bytes())
    scenario = {"kind": "accounts", "name": "a", "units": {"dataset": "accounts.csv"},
                "reps": {"dataset": "reps.csv"}, "balance": {"tolerance": None}}
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


ACCOUNTS = (REPO / "data" / "accounts_tx.csv").read_text(encoding="utf-8").splitlines(keepends=True)[:30]


@pytest.mark.parametrize("accounts, needles", [
    (b"", ("accounts.csv: cannot be read as CSV", "UTF-8 with a header row")),
    ("".join(ACCOUNTS[:1]).encode(), ("accounts.csv: has no account rows",)),
    ("".join(ACCOUNTS + ["A99999,Caf\xe9,31.1,-97.1,48001,X,growth,100,2,1,,\n"]).encode("latin-1"),
     ("accounts.csv: cannot be read as CSV", "'utf-8' codec")),
    ("".join(ACCOUNTS).replace("31.7985", "200", 1).encode(), ("accounts.csv row 2", "`lat` = `200` is above 90")),
    ("".join(ACCOUNTS).replace(",14800,", ",inf,", 1).encode(), ("row 2 (account_id A00001)", "`value` = `inf`")),
])
def test_accounts_file_problems_name_the_file_and_row(tmp_path, accounts, needles):
    path = _accounts_scenario(tmp_path, accounts)
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, *needles)

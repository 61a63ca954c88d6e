"""Bad input gets one clear line, a distinct non-zero exit code, no traceback and no output folder."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from optimizer.core.errors import ExitCode
from tests.conftest import REPO, grid_units, write_scenario


def territory(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optimizer.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=300)


def assert_refused(result: subprocess.CompletedProcess, code: ExitCode, *needles: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def run_refused(tmp_path, scenario, code, *needles):
    out = tmp_path / "out"
    result = territory("run", str(scenario), "--out", str(out))
    assert_refused(result, code, *needles)
    assert not out.exists(), "a refused run must leave no output folder"
    assert not list(tmp_path.glob(".out.partial-*"))


def test_unknown_key(tmp_path, grid_dataset):
    path = write_scenario(tmp_path, grid_dataset, balance={"tolerence": 0.1})
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "unknown key `balance.tolerence`", "`tolerance`")


@pytest.mark.parametrize("text, needle", [
    ("name: [oops\n", "not valid scenario YAML"),
    ("name: a\nname: b\n", "duplicate key 'name'"),
    ("name: !!python/object/apply:os.system [echo hi]\n", "tag"),
    ("", "the file is empty"),
    ("# only a comment\n", "the file is empty"),
    ("- a\n- b\n", "the top level must be a mapping"),
    ("hello\n", "the top level must be a mapping"),
])
def test_broken_yaml(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "bad.yaml", needle)


def write_units(tmp_path, frame) -> object:
    path = tmp_path / "units.gpkg"
    frame.to_file(path, layer="units")
    return path


def test_missing_unit_ids(tmp_path):
    frame = grid_units()
    frame.loc[3, "unit_id"] = None
    path = write_scenario(tmp_path, write_units(tmp_path, frame))
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "units.gpkg", "have no `unit_id`")


def test_duplicate_unit_ids(tmp_path):
    frame = grid_units()
    frame.loc[4, "unit_id"] = "U000"
    path = write_scenario(tmp_path, write_units(tmp_path, frame))
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "duplicate `unit_id` values: U000")


def test_missing_attribute_column(tmp_path, grid_dataset):
    path = write_scenario(tmp_path, grid_dataset, workload={"measures": {"labour_force": 1.0}})
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "no column `labour_force`", "did you mean `labor_force`?")


def test_negative_workload(tmp_path):
    frame = grid_units()
    frame.loc[7, "labor_force"] = -5
    path = write_scenario(tmp_path, write_units(tmp_path, frame))
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "negative for 1 units (U007)")


def test_missing_workload_value_is_not_filled(tmp_path):
    frame = grid_units()
    frame.loc[2, "labor_force"] = None
    path = write_scenario(tmp_path, write_units(tmp_path, frame))
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "missing or not a number for 1 units (U002)", "nothing is filled")


def test_home_base_not_among_units(tmp_path, grid_dataset):
    path = write_scenario(tmp_path, grid_dataset, territories={"bases": [{"unit": "U001"}, {"unit": "X999"}]})
    run_refused(tmp_path, path, ExitCode.BAD_INPUT, "territories.bases.1.unit", "'X999' is not one of the 25 units")


def test_missing_crs(tmp_path):
    shapefile = tmp_path / "units.shp"
    grid_units().rename(columns={"labor_force": "labor"}).to_file(shapefile)
    (tmp_path / "units.prj").unlink()  # a shapefile without its .prj has no CRS
    scenario = write_scenario(tmp_path, shapefile, workload={"measures": {"labor": 1.0}})
    run_refused(tmp_path, scenario, ExitCode.BAD_INPUT, "has no coordinate reference system")


def test_dataset_file_not_found(tmp_path):
    scenario = write_scenario(tmp_path, tmp_path / "nowhere.gpkg")
    run_refused(tmp_path, scenario, ExitCode.BAD_INPUT, "nowhere.gpkg", "file not found")


def test_oversized_unit_reported_before_the_solve(tmp_path):
    frame = grid_units()
    frame.loc[12, "labor_force"] = frame["labor_force"].sum()  # half of all workload in one unit
    path = write_scenario(tmp_path, write_units(tmp_path, frame))
    run_refused(tmp_path, path, ExitCode.INFEASIBLE, "Unit 12 (U012)", "units.sharing.allow: true")


def test_band_no_plan_can_meet(tmp_path, grid_dataset):
    path = write_scenario(tmp_path, grid_dataset, territories={"count": 30})
    run_refused(tmp_path, path, ExitCode.INFEASIBLE, "30 territories but only 25 units")


def test_bad_time_limit_flag(tmp_path, grid_dataset):
    path = write_scenario(tmp_path, grid_dataset)
    result = territory("run", str(path), "--out", str(tmp_path / "out"), "--time-limit", "-1")
    assert_refused(result, ExitCode.BAD_INPUT, "--time-limit")


def test_validate_reports_ok_and_refuses_the_same_problems(tmp_path, grid_dataset):
    good = write_scenario(tmp_path, grid_dataset)
    result = territory("validate", str(good))
    assert result.returncode == 0 and result.stdout.startswith("ok: grid-test: 25 units, 3 territories")
    bad = write_scenario(tmp_path, grid_dataset, territories={"count": 30})
    assert_refused(territory("validate", str(bad)), ExitCode.INFEASIBLE, "30 territories")


def test_schema_is_json_and_piping_into_head_exits_cleanly():
    result = subprocess.run(f"{sys.executable} -m optimizer.cli.main schema | head -1", shell=True, capture_output=True,
                            text=True, cwd=REPO, timeout=60)
    assert result.stdout.strip() == "{"
    assert "Traceback" not in result.stderr
    schema = yaml.safe_load(territory("schema").stdout)
    assert {"units", "workload", "territories", "balance"} <= set(schema["properties"])


@pytest.mark.parametrize("setting, needles", [
    ("balance", ("--set", "KEY=VALUE")),
    ("balance.tolerence=0.1", ("unknown key `balance.tolerence`", "`tolerance`")),
    ("balance.tolerance=[oops", ("--set balance.tolerance", "not a valid YAML value")),
    ("balance.tolerance=-1", ("balance.tolerance",)),
])
def test_bad_command_line_override(tmp_path, grid_dataset, setting, needles):
    path = write_scenario(tmp_path, grid_dataset)
    out = tmp_path / "out"
    assert_refused(territory("run", str(path), "--out", str(out), "--set", setting), ExitCode.BAD_INPUT, *needles)
    assert not out.exists()


def test_command_line_override_reaches_the_run(tmp_path, grid_dataset):
    path = write_scenario(tmp_path, grid_dataset)
    out = tmp_path / "out"
    result = territory("run", str(path), "--out", str(out), "--set", "solver.target_gap=0.002",
                       "--set", "name=overridden")
    assert result.returncode == 0, result.stderr
    summary = yaml.safe_load((out / "summary.json").read_text())
    assert summary["target_gap"] == 0.002 and summary["scenario"] == "overridden"

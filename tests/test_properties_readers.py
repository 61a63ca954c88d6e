"""Property-based tests of the readers (issue 19): random byte-level damage to a scenario YAML, a plan file or
a units file gives a clean outcome (the file still reads, or exit code 2 and one line), never a traceback.

The command runs in-process (typer's CliRunner) to keep hundreds of cases fast; a few damaged files also
go through a real process, where a message printed by a C library (GDAL) would show as a second line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from optimizer.cli.main import app
from optimizer.core.errors import ExitCode
from tests.conftest import REPO, grid_units, write_scenario

SETTINGS = settings(max_examples=int(os.environ.get("TERRITORY_EXAMPLES", 25)), deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# validate may also find the damaged request impossible (3); evaluate scores a damaged plan that still
# reads and may find it breaks rules (6)
CLEAN = {"validate": {ExitCode.OK, ExitCode.BAD_INPUT, ExitCode.INFEASIBLE},
         "evaluate": {ExitCode.OK, ExitCode.BAD_INPUT, ExitCode.PLAN_BREAKS_RULES}}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 4 x 4 grid (as GeoJSON and GeoPackage) whose ids start with characters a spreadsheet runs, its
    scenario and a solved plan (assignments.csv, ids neutralised)."""
    root = tmp_path_factory.mktemp("readers")
    units = grid_units(4, 4, seed=5)
    units["unit_id"] = [f"{'=+-@'[i % 4]}U{i:02d}" for i in range(len(units))]
    units.to_file(root / "grid.geojson", driver="GeoJSON")
    units.to_file(root / "grid.gpkg", layer="units")
    scenario = write_scenario(root, root / "grid.geojson", balance={"tolerance": 0.25})
    solved = CliRunner().invoke(app, ["run", str(scenario), "--out", str(root / "run")])
    assert solved.exit_code == 0, solved.output
    return root


# mostly text a hand edit or a bad save produces (digits, separators, quotes, formula characters), some raw bytes
TEXT = st.sampled_from(list(b"0123456789,;.-=+@'\"\n\r\t :%abcTUxyz[]{}&*!#"))


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """``data`` with one to three random edits: a byte replaced, a span deleted, bytes inserted, truncation."""
    out = bytearray(data)
    byte = st.one_of(TEXT, TEXT, TEXT, st.integers(0, 255))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["replace", "replace", "delete", "insert", "insert", "truncate"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if kind == "replace" and out:
            out[at] = draw(byte)
        elif kind == "delete":
            del out[at:at + draw(st.integers(1, 12))]
        elif kind == "insert":
            out[at:at] = bytes(draw(st.lists(byte, min_size=1, max_size=8)))
        else:
            del out[at:]
    return bytes(out)


def assert_clean(command: str, *args) -> None:
    result = CliRunner().invoke(app, [command, *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}")
    assert result.exit_code in CLEAN[command], result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if result.exit_code == ExitCode.BAD_INPUT or result.exit_code == ExitCode.INFEASIBLE:
        assert len(lines) == 1 and lines[0].startswith("error: "), lines
    elif result.exit_code == ExitCode.PLAN_BREAKS_RULES:
        assert len(lines) == 1 and "breaks" in lines[0], lines
    assert "Traceback" not in result.output


def scratch(world: Path, name: str) -> Path:
    folder = world / "damaged"
    folder.mkdir(exist_ok=True)
    return folder / name


@SETTINGS
@given(data=st.data())
def test_a_damaged_scenario_reads_or_is_refused_in_one_line(world, data):
    text = (world / "scenario.yaml").read_bytes()
    path = scratch(world, "scenario.yaml")
    path.write_bytes(data.draw(damaged(text)))
    assert_clean("validate", path)


@SETTINGS
@given(data=st.data())
def test_a_damaged_plan_file_is_scored_or_refused_in_one_line(world, data):
    plan = (world / "run" / "assignments.csv").read_bytes()
    path = scratch(world, "plan.csv")
    path.write_bytes(data.draw(damaged(plan)))
    assert_clean("evaluate", world / "scenario.yaml", path, "--out", world / "damaged" / "evaluated")


@pytest.mark.parametrize("name", ["grid.geojson", "grid.gpkg"])
@SETTINGS
@given(data=st.data())
def test_a_damaged_units_file_reads_or_is_refused_in_one_line(world, name, data):
    path = scratch(world, name)
    path.write_bytes(data.draw(damaged((world / name).read_bytes())))
    scenario = write_scenario(path.parent, path, balance={"tolerance": 0.25})
    assert_clean("validate", scenario)


def test_the_undamaged_plan_file_reads_back_to_the_same_plan(world):
    result = CliRunner().invoke(app, ["evaluate", str(world / "scenario.yaml"), str(world / "run" / "assignments.csv"),
                                      "--out", str(world / "again")])
    assert result.exit_code == 0, result.output
    assert (world / "again" / "assignments.csv").read_bytes() == (world / "run" / "assignments.csv").read_bytes()


@pytest.mark.parametrize("name, cut", [("grid.gpkg", 4096), ("grid.gpkg", 40_000), ("grid.geojson", 700),
                                       ("scenario.yaml", 60)])
def test_a_truncated_file_in_a_real_process_is_one_line(world, tmp_path, name, cut):
    """In a real process a message a C library prints itself would be seen too."""
    data = (world / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[:cut])
    scenario = path if name.endswith(".yaml") else write_scenario(tmp_path, path, balance={"tolerance": 0.25})
    result = subprocess.run([sys.executable, "-m", "optimizer.cli", "validate", str(scenario)], capture_output=True,
                            text=True, cwd=REPO, timeout=120)
    assert result.returncode in CLEAN["validate"], result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert result.returncode == 0 or (len(lines) == 1 and lines[0].startswith("error: ")), lines


def test_a_warning_of_the_reader_is_one_line_too(world, tmp_path):
    """GDAL warns about a GeoPackage header it can still read: one `warning:` line, not Python's two."""
    data = bytearray((world / "grid.gpkg").read_bytes())
    data[68:72] = bytes(4)  # the GeoPackage application_id
    path = tmp_path / "grid.gpkg"
    path.write_bytes(bytes(data))
    scenario = write_scenario(tmp_path, path, balance={"tolerance": 0.25})
    result = subprocess.run([sys.executable, "-m", "optimizer.cli", "validate", str(scenario)], capture_output=True,
                            text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [f"warning: units.dataset {path}: GPKG: bad application_id=0x00000000 "
                                                  f"on '{path}'"]


def test_regression_a_line_break_quoted_from_a_file_stays_in_one_line(world, tmp_path):
    """Found by the property test: a line break in a (quoted) header cell split the error in two lines."""
    path = tmp_path / "plan.csv"
    path.write_bytes(b'"u\nnit_id",territory_id\n=U00,T01\n')
    result = CliRunner().invoke(app, ["evaluate", str(world / "scenario.yaml"), str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == ExitCode.BAD_INPUT
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "the header is `u\\nnit_id,territory_id`" in lines[0], lines

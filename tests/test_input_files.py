"""A folder, a broken link, a named pipe or an unreadable file where a file is expected: one exact line
(issue 19). Before, each of them was "file not found" (or, for a pipe opened by a reader, a hang)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from optimizer.cli.main import app
from optimizer.core.errors import ExitCode
from tests.conftest import REPO, grid_units, write_scenario

DATA = REPO / "data"
# a regular file that open() refuses even to root (the kernel's sysctl permission check)
WRITE_ONLY = Path("/proc/sys/vm/drop_caches")


def _refused_to_root() -> bool:
    try:
        with open(WRITE_ONLY, "rb"):
            return False
    except OSError:
        return WRITE_ONLY.is_file()


DAMAGE = {
    "folder": "is a folder, not a file",
    "broken link": "is a symbolic link to ",
    "named pipe": "is a named pipe, not a regular file",
    "unreadable": "cannot be read (permission denied)",
}


def spoil(path: Path, how: str) -> None:
    """Replace the file at ``path`` by what ``how`` names."""
    if path.exists() or path.is_symlink():
        path.unlink()
    if how == "folder":
        path.mkdir()
        (path / "inside.yaml").write_text("name: x\n")
    elif how == "broken link":
        path.symlink_to(path.parent / "gone" / path.name)
    elif how == "named pipe":
        os.mkfifo(path)
    elif os.geteuid() != 0:  # "unreadable": a real file without read permission
        path.write_text("unit_id\n")
        path.chmod(0)
    elif _refused_to_root():  # root reads any file by its mode bits: use one the kernel refuses to open
        path.symlink_to(WRITE_ONLY)
    else:
        pytest.skip("running as root and no file here refuses root: an unreadable file cannot be made")


@pytest.fixture
def grid(tmp_path):
    dataset = tmp_path / "grid.gpkg"
    grid_units(3, 3).to_file(dataset, layer="units")
    plan = tmp_path / "today.csv"
    plan.write_text("unit_id,territory_id\n" + "".join(f"U{i:03d},T0{1 + i % 3}\n" for i in range(9)))
    return dataset, plan


def invoke(*args) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, [line for line in result.stderr.splitlines() if line.strip()]


def refused(needles, *args) -> None:
    code, lines = invoke(*args)
    assert code == ExitCode.BAD_INPUT, lines
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for needle in needles:
        assert needle in lines[0], lines[0]


def accounts_case(tmp_path: Path) -> Path:
    for name in ("accounts_tx.csv", "reps_tx.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    scenario = yaml.safe_load((REPO / "scenarios" / "accounts_tx.yaml").read_text())
    scenario["units"]["dataset"] = "accounts_tx.csv"
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


@pytest.mark.parametrize("how", DAMAGE)
@pytest.mark.parametrize("kind", ["scenario file", "units dataset", "current plan", "extends", "plan file",
                                  "accounts file", "reps file", "sweep file", "sweep's scenario"])
def test_not_a_readable_file_is_one_exact_line(tmp_path, grid, kind, how):
    dataset, today = grid
    scenario = write_scenario(tmp_path, dataset)
    if kind == "scenario file":
        spoil(scenario, how)
        refused([str(scenario), DAMAGE[how]], "validate", scenario)
    elif kind == "units dataset":
        spoil(dataset, how)
        refused([f"units.dataset {dataset}", DAMAGE[how]], "validate", scenario)
    elif kind == "current plan":
        scenario = write_scenario(tmp_path, dataset, realignment={"current_plan": str(today), "max_moved_units": 3})
        spoil(today, how)
        refused([f"realignment.current_plan {today}", DAMAGE[how]], "validate", scenario)
    elif kind == "extends":
        what_if = tmp_path / "what_if.yaml"
        what_if.write_text("extends: scenario.yaml\nname: what-if\n")
        spoil(scenario, how)
        refused(["what_if.yaml: extends scenario.yaml", DAMAGE[how]], "validate", what_if)
    elif kind == "plan file":
        spoil(today, how)
        refused([str(today), DAMAGE[how]], "evaluate", scenario, today, "--out", tmp_path / "out")
        assert not (tmp_path / "out").exists()
    elif kind in ("accounts file", "reps file"):
        scenario = accounts_case(tmp_path)
        target = tmp_path / ("accounts_tx.csv" if kind == "accounts file" else "reps_tx.csv")
        spoil(target, how)
        refused([str(target), DAMAGE[how]], "validate", scenario)
    else:
        sweep = tmp_path / "sweep.yaml"
        sweep.write_text(yaml.safe_dump({"name": "s", "base": "scenario.yaml", "grid": {"territories.count": [2, 3]}}))
        spoil(sweep if kind == "sweep file" else scenario, how)
        needle = str(sweep) if kind == "sweep file" else f"scenario file {scenario}"
        refused([needle, DAMAGE[how]], "sweep", sweep, "--out", tmp_path / "out")
        assert not (tmp_path / "out").exists()


def test_a_folder_names_the_files_inside_it(tmp_path, grid):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    for name in ("a.yaml", "b.yaml", "notes.txt"):
        (folder / name).write_text("name: x\n")
    refused([f"{folder}: is a folder, not a file (give the path of a file inside it (a.yaml, b.yaml))"],
            "validate", folder)


def test_a_missing_file_is_still_not_found(tmp_path):
    refused([f"{tmp_path / 'nowhere.yaml'}: file not found"], "validate", tmp_path / "nowhere.yaml")


@pytest.mark.parametrize("how", ["folder", "named pipe"])
def test_real_process_gets_the_same_line(tmp_path, grid, how):
    """Through the installed command: no hang on a pipe, no traceback, exit code 2."""
    dataset, _ = grid
    scenario = write_scenario(tmp_path, dataset)
    spoil(dataset, how)
    result = subprocess.run([sys.executable, "-m", "optimizer.cli", "run", str(scenario), "--out",
                             str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == ExitCode.BAD_INPUT and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: units.dataset {dataset}: {DAMAGE[how]}" + (
        " (give the path of the file, not of the folder that holds it)" if how == "folder"
        else " (give the path of a saved file)")
    assert not (tmp_path / "out").exists() and not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]

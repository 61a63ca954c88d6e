"""One writer per run folder (issue 19): a second writer is refused in one line, or waits when told to."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optimizer.core.errors import ExitCode
from optimizer.outputs.folder_lock import (FolderBusyError, acquire, folder_lock, holder, lock_path, release, remove_stale,
                                   set_wait)
from optimizer.outputs.folders import staging_folder
from tests.conftest import REPO, SCENARIOS

TERRITORY = Path(sys.executable).with_name("territory")
HOLD = """
import sys, time
from pathlib import Path
from optimizer.outputs.folder_lock import acquire
acquire(Path(sys.argv[1]))
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def holding(folder: Path, seconds: float) -> subprocess.Popen:
    """Another process that holds ``folder``'s lock for ``seconds`` (started once it holds it)."""
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), str(seconds)], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "locked"
    return child


@pytest.fixture(autouse=True)
def refuse_at_once(monkeypatch):
    monkeypatch.delenv("TERRITORY_WAIT", raising=False)
    set_wait(None)
    yield
    set_wait(None)


def test_a_second_process_is_refused_naming_the_first(tmp_path):
    folder = tmp_path / "run"
    other = holding(folder, 30)
    try:
        with pytest.raises(FolderBusyError) as caught:
            with staging_folder(folder):
                pass
        assert caught.value.exit_code == ExitCode.BAD_INPUT
        line = caught.value.line()
        assert f"is being written by process {other.pid} (`python -c" in line and "\n" not in line
        assert "--wait" in line and not folder.exists()
        assert not list(tmp_path.glob(".run.partial-*")), "a refused writer leaves nothing"
    finally:
        other.kill()
        other.wait()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    folder = tmp_path / "run"
    other = holding(folder, 30)
    other.send_signal(signal.SIGKILL)
    other.wait()
    assert lock_path(folder).exists() and holder(folder)["pid"] == other.pid, "SIGKILL left the lock file"
    with staging_folder(folder) as staging:
        (staging / "summary.json").write_text("{}")
    assert (folder / "summary.json").is_file()
    assert not lock_path(folder).exists(), "the next writer clears it when done"


def test_only_a_lock_nobody_holds_is_removed_as_stale(tmp_path):
    folder = tmp_path / "run"
    other = holding(folder, 30)
    remove_stale(folder)
    assert holder(folder)["pid"] == other.pid, "a live writer keeps its lock"
    other.kill()
    other.wait()
    remove_stale(folder)
    assert not lock_path(folder).exists()


def test_waiting_when_told_to(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    other = holding(folder, 1.0)
    monkeypatch.setenv("TERRITORY_WAIT", "60")
    started = time.monotonic()
    with folder_lock(folder):
        assert holder(folder)["pid"] == os.getpid()
    assert time.monotonic() - started > 0.3, "it waited for the other writer"
    assert other.wait(5) == 0


def test_waiting_gives_up_after_the_time_given(tmp_path):
    folder = tmp_path / "run"
    other = holding(folder, 30)
    try:
        set_wait(0.5)
        with pytest.raises(FolderBusyError, match=r"waited 0.5 s"):
            acquire(folder)
    finally:
        other.kill()
        other.wait()


def test_the_holder_may_take_its_own_lock_again(tmp_path):
    folder = tmp_path / "deep" / "run"
    acquire(folder)
    with staging_folder(folder) as staging:
        (staging / "a.txt").write_text("a")
    assert lock_path(folder).exists(), "still held by the outer acquire"
    release(folder)
    assert not lock_path(folder).exists() and (folder / "a.txt").is_file()


def test_a_refused_writer_leaves_no_folder_it_made(tmp_path):
    folder = tmp_path / "new" / "run"
    other = holding(folder, 30)
    try:
        with pytest.raises(FolderBusyError):
            acquire(folder)
    finally:
        other.kill()
        other.wait()
    with folder_lock(tmp_path / "gone" / "run"):
        pass
    assert not (tmp_path / "gone").exists(), "a folder made only for the lock is removed again"


def test_a_bad_wait_variable_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TERRITORY_WAIT", "soon")
    with pytest.raises(Exception, match="TERRITORY_WAIT: `soon` is not a number of seconds"):
        acquire(tmp_path / "run")


@pytest.mark.slow
def test_two_real_runs_into_one_folder(tmp_path):
    """The first run holds the folder while it solves; the second is refused at once with exit code 2 and
    one line naming the first; the folder then holds the first run's complete output."""
    out = tmp_path / "shared"
    env = {**os.environ, "TERRITORY_WAIT": ""}
    # the first solves to a zero gap for up to 20 s, so it is surely still writing when the second starts
    first = subprocess.Popen([str(TERRITORY), "run", str(SCENARIOS / "texas_counties.yaml"), "--out", str(out),
                              "--set", "solver.target_gap=0", "--time-limit", "20"],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while (holder(out) or {}).get("pid") != first.pid:
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    second = subprocess.run([str(TERRITORY), "run", str(SCENARIOS / "texas_counties_18.yaml"), "--out", str(out)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert first.poll() is None, "the first run was still writing when the second was refused"
    assert second.returncode == ExitCode.BAD_INPUT, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --out {out}: is being written by process {first.pid} ")
    assert "territory run" in lines[0] and "texas_counties.yaml" in lines[0]
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "texas-counties" and summary["territories"] == 20
    assert sorted(p.name for p in out.iterdir()) == ["assignments.csv", "map.html", "summary.json",
                                                     "territories.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared"], "no lock or staging folder is left"


def test_the_wait_flag_queues_a_run_behind_the_writer(tmp_path, grid_dataset):
    from typer.testing import CliRunner

    from optimizer.cli.main import app
    from tests.conftest import write_scenario

    scenario, out = write_scenario(tmp_path, grid_dataset), tmp_path / "out"
    other = holding(out, 30)
    try:
        refused = CliRunner().invoke(app, ["run", str(scenario), "--out", str(out)])
        assert refused.exit_code == ExitCode.BAD_INPUT
        assert refused.stderr.strip().startswith(f"error: --out {out}: is being written by process {other.pid} ")
    finally:
        other.kill()
        other.wait()
    other = holding(out, 1.0)
    waited = CliRunner().invoke(app, ["--wait", "60", "run", str(scenario), "--out", str(out)])
    assert waited.exit_code == 0, waited.output
    assert (out / "summary.json").is_file() and other.wait(5) == 0
    assert not lock_path(out).exists(), "the command released its lock when it ended"

"""Sweeps on a real Dask LocalCluster with real HiGHS solves: failures, a killed worker, resume, Ctrl-C.

Synthetic grid data sets only (no data/ files): a 5 x 5 grid solves in a fraction of a second, a 60 x 60
grid takes 1.5-5 seconds (bases, build, solve, map), so a worker can be killed while it works on it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import grid_units, write_scenario

from optimizer.cli.sweep import PARTIAL_FAILURE, exit_code
from optimizer.core.errors import ExitCode, InputError
from optimizer.sweep.file import load_sweep

pytestmark = pytest.mark.timeout(180)
RUN_FILES = ("summary.json", "assignments.csv", "territories.csv", "map.html")
TERRITORY = [sys.executable, "-m", "optimizer.cli.main"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A folder with a small (5 x 5) and a slow (60 x 60) grid and a base scenario over the small one."""
    folder = tmp_path_factory.mktemp("sweep-data")
    grid_units().to_file(folder / "small.gpkg", layer="units")
    grid_units(60, 60).to_file(folder / "large.gpkg", layer="units")
    write_scenario(folder, folder / "small.gpkg").rename(folder / "base.yaml")
    return folder


def _sweep(folder: Path, name: str, **body) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "base": "base.yaml", **body}, sort_keys=False))
    return path


def _territory(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*TERRITORY, *args], check=False, capture_output=True, text=True, timeout=150, **kwargs)


def _assert_complete(folder: Path) -> dict:
    assert sorted(p.name for p in folder.iterdir()) == sorted(RUN_FILES), folder
    return json.loads((folder / "summary.json").read_text())


def _read_table(path: Path) -> pd.DataFrame:
    text = ["case", "worker", "folder", "error"]
    return pd.read_csv(path, dtype={column: str for column in text}).fillna({column: "" for column in text})


def _no_leftovers(runs: Path) -> None:
    assert not [p.name for p in runs.iterdir() if p.name.startswith(".")], "staging folders were left behind"


def test_sweep_file_expands_to_named_scenarios(data):
    path = _sweep(data, "expand", grid={"territories.count": [2, 3], "balance.tolerance": [0.1, 0.2]},
                  overrides={"solver.time_limit": 10})
    _, scenarios = load_sweep(path)
    assert [s.name for s in scenarios] == ["count-2_tolerance-0.1", "count-2_tolerance-0.2",
                                           "count-3_tolerance-0.1", "count-3_tolerance-0.2"]
    assert scenarios[3].overrides == {"solver.time_limit": 10, "territories.count": 3, "balance.tolerance": 0.2}
    assert scenarios[0].scenario == (data / "base.yaml").resolve()


@pytest.mark.parametrize("body, message", [
    ({"grid": {"territories.count": [2]}, "retry": 1}, "unknown key `retry`"),
    ({"grid": {"balance.tolerance": [0.1]}, "overrides": {"balance.tolerance": 0.2}}, "both in `grid`"),
    ({"grid": {"territories.count": []}}, "lists no values"),
    ({"base": "missing.yaml"}, "missing.yaml: not found"),
    ({"cases": [{"name": "a", "overides": {}}]}, "unknown key `cases.0.overides`"),
])
def test_bad_sweep_files_are_refused_with_their_key(data, body, message):
    with pytest.raises(InputError, match=message):
        load_sweep(_sweep(data, "bad", **body))


def test_non_dominated_within_each_case_and_page_escapes_user_text():
    from optimizer.sweep.report import mark_non_dominated, tradeoff_html

    def row(name, case, km, dev, k, status="optimal"):
        return {"scenario": name, "case": case, "status": status, "weighted_distance_km": km,
                "max_abs_deviation_pct": dev, "territories": k, "error": ""}

    rows = [row("a", "TX", 50.0, 5.0, 20), row("b", "TX", 52.0, 5.0, 20), row("c", "TX", 48.0, 8.0, 20),
            row("d", "CA", 90.0, 9.0, 30), row("e", "TX", 1.0, 0.0, 1, status="infeasible")]
    rows[4]["error"] = "<script>alert(1)</script> `${x}`"
    mark_non_dominated(rows)
    assert [r["non_dominated"] for r in rows] == [True, False, True, True, False]
    page = tradeoff_html(rows, "Sweep <b>${evil}</b>")
    assert "<script>" not in page and "${" not in page and "<b>$" not in page
    assert page.count("<svg") == 2 and "&lt;script&gt;" in page and "Sweep &lt;b&gt;" in page


def test_cli_refuses_a_bad_sweep_file_in_one_line(data):
    done = _territory("sweep", str(_sweep(data, "bad-cli", grid={"territories.count": "3"})), "--out",
                      str(data / "never"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_sweep_records_a_failure_finishes_the_rest_and_resumes(data, tmp_path):
    path = _sweep(data, "grid", grid={"territories.count": [2, 3, 30], "balance.tolerance": [0.1, 0.2]})
    done = _territory("sweep", str(path), "--workers", "2", "--out", str(tmp_path))
    assert done.returncode == PARTIAL_FAILURE, done.stdout + done.stderr  # some failed, the others have plans
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: 2 of 6 scenarios failed (2 infeasible)")
    assert str(tmp_path / "sweep.csv") in done.stderr and "Traceback" not in done.stderr
    table = _read_table(tmp_path / "sweep.csv")
    table = table.rename(columns={"territories.count": "count", "balance.tolerance": "tolerance"})
    assert len(table) == 6 and table.scenario.is_unique
    failed = table[table["count"] == 30]
    assert set(failed.status) == {"infeasible"} and failed.error.str.contains("30 territories").all()
    assert (failed.folder == "").all() and not (tmp_path / "runs" / failed.scenario.iat[0]).exists()
    solved = table[table["count"] != 30]
    assert set(solved.status) == {"optimal"} and (solved.error == "").all(), solved.error.tolist()
    assert (solved.threads == max(1, len(os.sched_getaffinity(0)) // 2)).all()
    for row in solved.itertuples():
        summary = _assert_complete(tmp_path / row.folder)
        assert summary["objective"] == pytest.approx(row.objective) and row.gap <= 1e-6
        assert summary["territories"] == row.count and summary["band"]["tolerance"] == row.tolerance
        assert row.max_abs_deviation_pct <= 100 * row.tolerance + 1e-6 and row.weighted_distance_km > 0
        assert summary["solver"]["threads"] == row.threads
    html = (tmp_path / "sweep.html").read_text()
    assert "<svg" in html and "<script" not in html and "http" not in html.replace("http://www.w3.org", "")
    assert table.non_dominated.sum() >= 1 and not failed.non_dominated.any()
    _no_leftovers(tmp_path / "runs")

    stamps = {row.folder: (tmp_path / row.folder / "summary.json").stat().st_mtime_ns for row in solved.itertuples()}
    again = _territory("sweep", str(path), "--workers", "1", "--out", str(tmp_path), "--resume")
    assert again.returncode == PARTIAL_FAILURE and "(4 resumed)" in again.stdout, again.stdout + again.stderr
    resumed = _read_table(tmp_path / "sweep.csv")
    assert resumed.set_index("scenario").resumed.to_dict() == {r.scenario: r.status != "infeasible"
                                                               for r in table.itertuples()}
    pd.testing.assert_series_equal(resumed.objective, table.objective)
    assert stamps == {f: (tmp_path / f / "summary.json").stat().st_mtime_ns for f in stamps}


@pytest.mark.parametrize("statuses, code", [
    (["optimal", "feasible"], ExitCode.OK),
    (["optimal", "infeasible"], PARTIAL_FAILURE),
    (["feasible", "bad_input", "no_plan"], PARTIAL_FAILURE),
    (["infeasible", "infeasible"], ExitCode.INFEASIBLE),
    (["no_plan"], ExitCode.NO_PLAN_IN_TIME),
    (["bad_input", "infeasible"], ExitCode.UNEXPECTED),
])
def test_exit_code_tells_a_partial_batch_from_a_full_success_or_failure(statuses, code):
    assert exit_code([{"scenario": str(i), "status": s} for i, s in enumerate(statuses)]) == code
    assert PARTIAL_FAILURE not in {int(c) for c in ExitCode}  # distinct from every other outcome of `territory`


def test_a_batch_in_which_every_scenario_fails_exits_with_their_code(data, tmp_path):
    path = _sweep(data, "all-fail", grid={"territories.count": [30, 40]})
    done = _territory("sweep", str(path), "--workers", "1", "--out", str(tmp_path))
    assert done.returncode == ExitCode.INFEASIBLE, done.stdout + done.stderr
    assert "2 infeasible" in done.stdout and "scenarios failed" not in done.stderr
    assert len(_read_table(tmp_path / "sweep.csv")) == 2


def test_realignment_rows_report_moves_and_trade_offs_include_them(data, tmp_path):
    from optimizer.sweep.run import SweepOptions, run_sweep

    plan = pd.DataFrame({"unit_id": [f"U{i:03d}" for i in range(25)], "territory_id": [f"T{i % 5 // 2 + 1}"
                                                                                        for i in range(25)]})
    plan.to_csv(data / "current.csv", index=False)
    base = yaml.safe_load((data / "base.yaml").read_text())
    (data / "realign_base.yaml").write_text(yaml.safe_dump({**base, "balance": {"tolerance": 0.2},
                                                       "realignment": {"current_plan": "current.csv"}}))
    path = _sweep(data, "realign", grid={"realignment.max_moved_share": [0.3, 1.0]})
    path.write_text(path.read_text().replace("base.yaml", "realign_base.yaml"))
    run = run_sweep(path, tmp_path, SweepOptions(workers=1))
    table = _read_table(tmp_path / "sweep.csv")
    assert list(table.status) == ["optimal", "optimal"], table.error.tolist()
    for row, budget in zip(table.itertuples(), (0.3, 1.0)):
        summary = _assert_complete_realignment(tmp_path / row.folder)
        moves = pd.read_csv(tmp_path / row.folder / "moves.csv", dtype={"unit_id": str})
        assert row.units_moved == summary["moves"]["units_moved"] == len(moves)
        assert row.workload_moved_pct == pytest.approx(100 * summary["moves"]["workload_moved_share"])
        assert row.workload_moved_pct <= 100 * budget + 1e-6
    assert table.objective.iat[1] <= table.objective.iat[0] * (1 + 1e-6)  # a looser budget is never worse
    page = (tmp_path / "sweep.html").read_text()
    assert page.count("<svg") == 3 and "workload moved" in page
    assert any(row["non_dominated"] for row in run.rows)


def _assert_complete_realignment(folder: Path) -> dict:
    assert sorted(p.name for p in folder.iterdir()) == sorted((*RUN_FILES, "moves.csv")), folder
    return json.loads((folder / "summary.json").read_text())


def _kill_when_solving(address: str, name: str, runs: Path, killed: dict) -> None:
    """Wait until scenario ``name`` runs on a worker, let it solve for a while, then SIGKILL that worker."""
    from distributed import Client

    def executing(dask_worker) -> list[str]:
        return [str(ts.key) for ts in dask_worker.state.executing]

    with Client(address, timeout="10s") as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = [addr for addr, keys in client.run(executing).items() if any(k.endswith(name) for k in keys)]
            if busy:
                pid = client.run(os.getpid, workers=busy)[busy[0]]
                time.sleep(0.8)  # the engine was imported as the worker started: the run (1.5-5 s) is under way
                killed["folder_existed"] = (runs / name).exists()
                os.kill(pid, signal.SIGKILL)
                killed["pid"] = pid
                return
            time.sleep(0.05)


def test_a_killed_worker_has_its_scenario_retried_elsewhere(data, tmp_path):
    from distributed import LocalCluster

    from optimizer.sweep.run import SweepOptions, run_sweep

    slow = {"units.dataset": str(data / "large.gpkg"), "territories.count": 10, "balance.tolerance": 0.05,
            "solver.time_limit": 60}
    path = _sweep(data, "faults", cases=[{"name": "slow", "overrides": slow},
                                         {"name": "typo", "overrides": {"balance.tolerence": 0.1}},
                                         {"name": "fast", "overrides": {"territories.count": 4}}])
    killed: dict = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.CRITICAL) as cluster:
        killer = threading.Thread(target=_kill_when_solving,
                                  args=(cluster.scheduler_address, "slow", tmp_path / "runs", killed))
        killer.start()
        run = run_sweep(path, tmp_path, SweepOptions(scheduler=cluster.scheduler_address))
        killer.join()
    assert "pid" in killed and killed["folder_existed"] is False, "the worker was not killed mid-solve"
    rows = {row["scenario"]: row for row in run.rows}
    assert list(rows) == ["slow", "typo", "fast"]
    assert rows["slow"]["status"] in ("optimal", "feasible") and rows["slow"]["gap"] is not None
    assert not rows["slow"]["worker"].endswith(f":{killed['pid']}"), "the retry ran in the killed process"
    assert _assert_complete(tmp_path / "runs" / "slow")["units"] == 3600
    assert rows["typo"]["status"] == "bad_input" and "balance.tolerence" in rows["typo"]["error"]
    assert rows["fast"]["status"] == "optimal" and _assert_complete(tmp_path / "runs" / "fast")["territories"] == 4
    _no_leftovers(tmp_path / "runs")


def test_ctrl_c_leaves_only_complete_run_folders(data, tmp_path):
    slow = {"units.dataset": str(data / "large.gpkg"), "balance.tolerance": 0.05, "solver.time_limit": 60}
    path = _sweep(data, "interrupt", overrides=slow, grid={"territories.count": [8, 9, 10, 11, 12, 13]})
    runs = tmp_path / "runs"
    proc = subprocess.Popen([*TERRITORY, "sweep", str(path), "--workers", "2", "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (runs.is_dir() and any(runs.glob("count-*"))):
        assert time.monotonic() < deadline and proc.poll() is None, "no scenario finished"
        time.sleep(0.05)
    time.sleep(0.5)  # the next two scenarios are solving now
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "--resume" in err and "Traceback" not in err, err
    folders = [p for p in runs.iterdir() if not p.name.startswith(".")]
    table = _read_table(tmp_path / "sweep.csv")
    state = f"folders {sorted(p.name for p in runs.iterdir())}\n{table[['scenario', 'status', 'folder']]}\n{err}"
    assert 1 <= len(folders) < 6, state
    for folder in folders:
        _assert_complete(folder)
    _no_leftovers(runs)
    assert len(table) == 6 and set(table.status) <= {"feasible", "optimal", "not_run"}, state
    assert (table.status == "not_run").sum() == 6 - len(folders), state

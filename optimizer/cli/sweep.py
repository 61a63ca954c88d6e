"""``territory sweep``: run a batch of scenarios on Dask (see :mod:`optimizer.sweep.run`).

Registered by :mod:`optimizer.cli.main`; Dask, pyomo and pandas are imported inside the command so that
``territory --help`` stays instant.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from optimizer.core.errors import ExitCode, InputError, TerritoryError
from optimizer.sweep.task import FAILED

EXIT_OF_STATUS = {"bad_input": ExitCode.BAD_INPUT, "infeasible": ExitCode.INFEASIBLE,
                  "no_plan": ExitCode.NO_PLAN_IN_TIME, "check_failed": ExitCode.CHECK_FAILED}
# Some scenarios failed and the others have their plans: a batch script must not take it for a full
# success (0) nor for a batch in which nothing could be solved (the failures' own code).
PARTIAL_FAILURE = 7
INTERRUPTED = 130


def register(app: typer.Typer) -> None:
    """Add the ``sweep`` command to ``app``."""
    app.command()(sweep)


def sweep(
    sweep_file: Path = typer.Argument(..., help="Sweep YAML file: a base scenario and a grid, cases or files.",
                                      show_default=False, readable=False),
    out: Path = typer.Option(..., "--out", help="Folder for sweep.csv, sweep.html and runs/<scenario>/."),
    workers: int | None = typer.Option(None, "--workers", help="Local cluster size (default: one per core)."),
    scheduler: str | None = typer.Option(None, "--scheduler",
                                            help="Address of a running Dask scheduler, e.g. tcp://host:8786."),
    resume: bool = typer.Option(False, "--resume", help="Skip scenarios whose run folder is complete."),
    solver_threads: int | None = typer.Option(
        None, "--solver-threads", help="Threads per solve (default: host cores // solves running at once)."),
) -> None:
    """Run every scenario of a sweep in parallel; write one run folder each, sweep.csv and sweep.html.

    Exit code: 0 when every scenario has a plan; 7 when some failed and the others have their plans; when
    every scenario failed, the failures' code if they agree, else 1 (see README); 130 on Ctrl-C.
    """
    finished: list[dict[str, Any]] = []
    try:
        options = _options(workers, scheduler, resume, solver_threads)
        run = _run(sweep_file, out, options, finished)
    except TerritoryError as exc:
        typer.echo(f"error: {exc.line()}", err=True)
        raise typer.Exit(int(exc.exit_code))
    except KeyboardInterrupt:
        typer.echo(f"interrupted after {len(finished)} finished scenarios: their rows are in {out / 'sweep.csv'} "
                   "and no run folder is half-written; rerun with --resume to finish the rest", err=True)
        raise typer.Exit(INTERRUPTED)
    typer.echo("\n".join(summary_lines(run)))
    code = exit_code(run.rows)
    if code == PARTIAL_FAILURE:
        typer.echo(f"error: {partial_line(run.rows, run.out)}", err=True)
    elif code != ExitCode.OK:
        typer.echo(f"error: {no_plan_line(run.rows, run.out)}", err=True)
    raise typer.Exit(code)


def _options(workers: int | None, scheduler: str | None, resume: bool, solver_threads: int | None) -> Any:
    from optimizer.sweep.run import SweepOptions

    if workers is not None and workers < 1:
        raise InputError("--workers", f"must be at least 1, not {workers}")
    if workers is not None and scheduler:
        raise InputError("--workers", "sizes the local cluster; with --scheduler the workers are those attached "
                         "to the scheduler", "drop one of the two flags")
    if solver_threads is not None and not 1 <= solver_threads <= 64:
        raise InputError("--solver-threads", f"must be between 1 and 64, not {solver_threads}")
    return SweepOptions(workers=workers, scheduler=scheduler, resume=resume, solver_threads=solver_threads)


def _run(sweep_file: Path, out: Path, options: Any, finished: list[dict[str, Any]]) -> Any:
    from optimizer.outputs.folders import claim_output_folder
    from optimizer.sweep.file import load_sweep
    from optimizer.sweep.run import run_sweep

    load_sweep(sweep_file)  # refuse a bad sweep file before any progress bar or cluster
    claim_output_folder(out)

    def record(row: dict[str, Any], done: int, total: int) -> None:
        finished.append(row)

    if not sys.stderr.isatty():
        return run_sweep(sweep_file, out, options, record)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[last]}", markup=False))
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("sweep", total=None, last="starting the cluster")

        def show(row: dict[str, Any], done: int, total: int) -> None:
            record(row, done, total)
            bar.update(task, completed=done, total=total, last=f"{row['scenario']}: {row['status']}")

        return run_sweep(sweep_file, out, options, show)


def summary_lines(run: Any) -> list[str]:
    """Plain lines: counts by status, each failure with its error, and where the outputs are."""
    rows = run.rows
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    resumed = sum(bool(row.get("resumed")) for row in rows)
    workers = run.cluster.get("workers")
    ran = (f"{workers} worker{'s' if workers != 1 else ''} ({run.cluster.get('scheduler')})" if workers is not None
           else "no cluster: every scenario was resumed")
    lines = [f"sweep {run.spec.name}: {len(rows)} scenarios: "
             + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
             + f" ({resumed} resumed); {run.cluster.get('seconds', 0):.1f} s on {ran}"]
    lines += [f"failed  {row['scenario']}: {row['status']}: {row.get('error', '')}"
              for row in rows if row["status"] in FAILED]
    lines.append(f"written {run.out}/sweep.csv, sweep.html, sweep.json and runs/<scenario>/")
    return lines


def exit_code(rows: list[dict[str, Any]]) -> int:
    """0 when every row has a plan; :data:`PARTIAL_FAILURE` when some have one and others failed; when
    none has a plan, the failures' code when they agree, else 1."""
    failed = {row["status"] for row in rows if row["status"] in FAILED}
    if not failed:
        return int(ExitCode.OK)
    if any(row["status"] not in FAILED for row in rows):
        return PARTIAL_FAILURE
    codes = {EXIT_OF_STATUS.get(status, ExitCode.UNEXPECTED) for status in failed}
    return int(codes.pop()) if len(codes) == 1 else int(ExitCode.UNEXPECTED)


def no_plan_line(rows: list[dict[str, Any]], out: Path) -> str:
    """One line for a batch in which no scenario has a plan: why, and where each one's error is."""
    _, reasons = _failures(rows)
    return f"no scenario of the sweep has a plan ({reasons}); each one's error is in {out / 'sweep.csv'}"


def _failures(rows: list[dict[str, Any]]) -> tuple[int, str]:
    """How many rows failed, and ``"2 infeasible, 1 no_plan"``: the count of each failure status."""
    counts: dict[str, int] = {}
    for row in rows:
        if row["status"] in FAILED:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
    return sum(counts.values()), ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def partial_line(rows: list[dict[str, Any]], out: Path) -> str:
    """One line for a batch in which some scenarios failed: how many, why, and where the rows are."""
    failed, reasons = _failures(rows)
    return (f"{failed} of {len(rows)} scenarios failed ({reasons}); the other {len(rows) - failed} have their plans "
            f"and run folders; every row, with each failure's error, is in {out / 'sweep.csv'} (exit code "
            f"{PARTIAL_FAILURE})")

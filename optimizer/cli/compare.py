"""The ``territory evaluate`` and ``territory compare`` commands (registered by :mod:`optimizer.cli.main`), thin
layers over :func:`optimizer.api.evaluate` and :func:`optimizer.api.compare`.

Heavy imports happen inside the commands so that ``territory --help`` stays instant. Errors the user can
act on print one line ``error: ...`` and exit with the codes of :class:`optimizer.core.errors.ExitCode`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from optimizer.core.errors import ExitCode, TerritoryError

ENTRY_HELP = ("Scenario YAML files, base first; `SCENARIO.yaml:PLAN.csv` scores a hand-edited plan of that "
              "scenario instead of solving it.")


def _fail(exc: TerritoryError) -> None:
    typer.echo(f"error: {exc.line()}", err=True)
    raise typer.Exit(int(exc.exit_code))


def _progress(console_text: str) -> None:
    if sys.stderr.isatty():
        typer.echo(f"  {console_text}", err=True)


def evaluate(
    scenario: Path = typer.Argument(..., help="Scenario YAML file the plan belongs to.", show_default=False,
                                    readable=False),
    plan: Path = typer.Argument(..., help="Plan CSV: unit_id,territory_id[,share].", show_default=False, readable=False),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default runs/<scenario>--<plan name>)."),
) -> None:
    """Score a hand-edited plan with the run's checks and metrics; write the same files as `run`.

    Exit codes: 0 the plan keeps every rule, 6 it breaks some (still scored and written), 2 bad plan file.
    """
    try:
        from optimizer import api
        from optimizer.outputs.folders import claim_output_folder

        spec = api.load_scenario(scenario)
        folder = out or api.default_run_folder(spec, plan)
        claim_output_folder(folder)
        outcome = api.evaluate(spec, plan, folder, progress=_progress)
    except TerritoryError as exc:
        _fail(exc)
    from optimizer.outputs.report import print_summary

    print_summary(outcome.summary, outcome.folder, rich=sys.stdout.isatty())
    for rule in outcome.broken_rules:
        typer.echo(f"broken      {rule}")
    if not outcome.ok:
        typer.echo(f"the plan breaks {len(outcome.broken_rules)} rule(s); it was scored and written anyway",
                   err=True)
        raise typer.Exit(int(ExitCode.PLAN_BREAKS_RULES))


def compare(
    entries: list[str] = typer.Argument(..., help=ENTRY_HELP, show_default=False),
    out: Path = typer.Option(..., "--out", help="Folder for comparison.csv and report.html."),
    runs: Optional[Path] = typer.Option(None, "--runs", help="Where run folders are kept and reused "
                                        "(default: OUT/runs; `--runs runs` reuses `territory run` output)."),
    fresh: bool = typer.Option(False, "--fresh", help="Solve every scenario again even if a matching run exists."),
) -> None:
    """Compare a base scenario with what-ifs: comparison.csv and a one-file report.html with maps and charts.

    A run folder is reused when scenario, data, plan and bases are unchanged and it passes the checks.
    """
    try:
        from optimizer import api
        from optimizer.outputs.folders import claim_output_folder, require_output_folder

        claim_output_folder(out)
        if runs is not None:
            require_output_folder(runs, "--runs")
        result = api.compare(entries, out, runs_dir=runs, fresh=fresh, progress=_progress)
    except TerritoryError as exc:
        _fail(exc)
    for line in result.lines():
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` and ``compare`` to the ``territory`` command."""
    app.command("evaluate")(evaluate)
    app.command("compare")(compare)

"""The ``territory`` command: run, validate and schema, a thin layer over :mod:`optimizer.api`.

Heavy imports (pyomo, geopandas, folium) happen inside the commands so that ``--help`` is instant.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer

from optimizer.core.errors import ExitCode, TerritoryError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Design sales territories from a scenario YAML file, solved with HiGHS to a reported gap.")

# readable=False: an unreadable file gets our own one-line message (optimizer.core.input_files), not click's
SCENARIO = typer.Argument(..., help="Scenario YAML file.", show_default=False, readable=False)


@app.callback()
def _every_command(
    ctx: typer.Context,
    wait: Optional[float] = typer.Option(None, "--wait", min=0, metavar="SECONDS",
                                         help="Wait up to SECONDS (inf: no limit) for another process writing the "
                                              "same output folder, instead of stopping (or set TERRITORY_WAIT)."),
) -> None:
    # a command's folder locks are released when it ends, also when run in-process (tests, notebooks)
    from optimizer.outputs.folder_lock import command_scope, set_wait

    set_wait(wait)
    ctx.with_resource(command_scope())


def _on_terminal() -> bool:
    return sys.stderr.isatty()


def _fail(exc: TerritoryError) -> None:
    typer.echo(f"error: {exc.line()}", err=True)
    raise typer.Exit(int(exc.exit_code))


def _load(path: Path, overrides: dict | None = None):
    from optimizer import api

    return api.load_scenario(path, overrides)


@app.command()
def run(
    scenario: Path = SCENARIO,
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default runs/<scenario name>)."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="Override solver.time_limit (seconds)."),
    log: bool = typer.Option(False, "--log", help="Also write the HiGHS log to solver.log in the run folder."),
    settings: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                       help="Override a scenario key, e.g. --set solver.target_gap=0.002 "
                                            "(repeatable; the value is read as YAML)."),
) -> None:
    """Solve a scenario and write summary.json, assignments.csv, territories.csv and map.html."""
    try:
        if time_limit is not None and time_limit <= 0:
            raise _bad_flag("--time-limit", "must be > 0")
        overrides = _settings(settings) | ({"solver.time_limit": time_limit} if time_limit else {})
        spec = _load(scenario, overrides or None)
        from optimizer import api

        folder = out or api.default_run_folder(spec)
        _require_output_folder(folder)
        outcome = _run_with_progress(spec, folder, log)
    except TerritoryError as exc:
        _fail(exc)
    from optimizer.core.kinds import kind_of, resolve
    from optimizer.outputs.report import print_summary

    print_summary(outcome.summary, outcome.folder, rich=_on_terminal(), lines_for=resolve(kind_of(spec).lines))
    if outcome.summary["status"] == "no_plan":
        raise typer.Exit(int(ExitCode.NO_PLAN_IN_TIME))


def _settings(items: list[str]) -> dict:
    """``--set KEY=VALUE`` pairs as dotted overrides, each value parsed as one YAML scalar or list."""
    from optimizer.core.yamlio import parse_value

    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise _bad_flag("--set", f"'{item}' is not KEY=VALUE (e.g. --set balance.tolerance=0.03)")
        overrides[key.strip()] = parse_value(value, f"--set {key.strip()}")
    return overrides


def _bad_flag(flag: str, what: str) -> TerritoryError:
    from optimizer.core.errors import InputError

    return InputError(flag, what)


def _require_output_folder(folder: Path, flag: str = "--out") -> None:
    from optimizer.outputs.folders import claim_output_folder

    claim_output_folder(folder, flag)


def _run_with_progress(spec, folder: Path, log: bool):
    from optimizer import api

    if not _on_terminal():
        return api.run(spec, folder, keep_log=log)
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("starting") as status:
        return api.run(spec, folder, keep_log=log, progress=lambda text: status.update(text))


@app.command()
def validate(scenario: Path = SCENARIO) -> None:
    """Check a scenario and its data without solving: keys, columns, ids, bases and whether the band can be met."""
    try:
        spec = _load(scenario)
        from optimizer import api

        lines = api.validate(spec)
    except TerritoryError as exc:
        _fail(exc)
    typer.echo("\n".join(lines))


@app.command()
def schema(kind: str = typer.Option("alignment", "--kind", help="Scenario kind (see optimizer/kinds.py).")) -> None:
    """Print the JSON Schema of scenario files (for editor completion)."""
    from optimizer import api
    from optimizer.core.kinds import KINDS

    if kind not in KINDS:
        typer.echo(f"error: --kind: unknown kind `{kind}` (kinds are: {', '.join(KINDS)})", err=True)
        raise typer.Exit(int(ExitCode.BAD_INPUT))
    typer.echo(json.dumps(api.json_schema(kind), indent=2))


# Commands that live in their own modules: each module defines ``register(app)`` and keeps heavy imports
# inside its command functions. A module listed here that does not exist yet is simply not offered.
COMMAND_MODULES = ("optimizer.cli.compare", "optimizer.cli.sweep")


def _register_command_modules() -> None:
    from importlib import import_module
    from importlib.util import find_spec

    for name in COMMAND_MODULES:
        if find_spec(name) is not None:
            import_module(name).register(app)


_register_command_modules()


def main() -> None:
    """Entry point: restore default SIGPIPE so ``territory ... | head`` exits cleanly."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    warnings.showwarning = _warning_line
    click = _click_exceptions()
    try:
        code = app(standalone_mode=False)
    except click.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # a wrong flag, command or argument: one line, like every other error
        typer.echo(f"error: {_usage_line(exc)}", err=True)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("interrupted: no output was written", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug, not bad input: one line, the traceback only on request
        if os.environ.get("TERRITORY_DEBUG"):
            raise
        typer.echo(f"error: unexpected {type(exc).__name__}: {exc} (a bug: please report it with the scenario; "
                   "TERRITORY_DEBUG=1 shows the traceback)", err=True)
        sys.exit(int(ExitCode.UNEXPECTED))
    sys.exit(code if isinstance(code, int) else 0)


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning (e.g. GDAL's about a file it could read) as one line, like the errors, not Python's two."""
    text = " ".join(str(message).split())
    typer.echo(f"warning: {text}", err=True)


def _click_exceptions():
    """The exceptions of the click that typer runs on (recent typer vendors its own copy)."""
    try:
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return exceptions


def _usage_line(exc) -> str:
    """``territory run: No such option: --tme (see `territory run --help`)``: click's message on one line."""
    message = " ".join(exc.format_message().split())
    command = exc.ctx.command_path if getattr(exc, "ctx", None) else "territory"
    return f"{command}: {message} (see `{command} --help`)"


if __name__ == "__main__":
    main()

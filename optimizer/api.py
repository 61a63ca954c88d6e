"""The engine's service layer: the verbs the command line, the notebook and the web app share.

Every scenario kind (alignment, accounts, sizing) goes through the same few calls::

    from optimizer import api

    scenario = api.load_scenario("scenarios/texas_counties.yaml", {"balance.tolerance": 0.03})
    api.validate(scenario)                      # the lines `territory validate` prints; raises on a problem
    data = api.prepare(scenario)                # units, bases, ... : everything known before the solve
    solution = api.solve(scenario, data)        # a Solution (status, objective, bound, gap, ...): nothing written
    outcome = api.run(scenario, "runs/texas")   # solve, check and write the run folder (summary.json, ...)
    score = api.score_plan(scenario, "plan.csv")          # a hand-edited plan scored in memory
    comparison = api.compare(["base.yaml", "what_if.yaml"], "runs/compare")

Errors the user can act on are :class:`optimizer.core.errors.TerritoryError` subclasses (``InputError``,
``InfeasibleError``, ``NoPlanError``, ``CheckFailedError``), each with the exit code the CLI uses. Heavy
modules (pyomo, geopandas, folium) are imported inside the calls, so importing this module is cheap.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.core.errors import InputError
from optimizer.core.kinds import KINDS, kind_of, resolve
from optimizer.core.run import PhaseTimer, Progress, RunOutcome

if TYPE_CHECKING:
    import pandas as pd

    from optimizer.alignment.evaluate import Evaluation
    from optimizer.compare.run import Comparison
    from optimizer.solver.result import Solution

__all__ = ["Score", "compare", "default_run_folder", "evaluate", "json_schema", "load_scenario", "prepare",
           "run", "score_plan", "solve", "validate"]


def _quiet(_: str) -> None:
    """The default progress callback: say nothing."""


def load_scenario(path: Path | str, overrides: dict[str, Any] | None = None) -> Any:
    """Read and validate a scenario file of any kind.

    Parameters
    ----------
    path : Path or str
        The scenario YAML file (``extends`` and ``overrides`` inside it are applied).
    overrides : dict, optional
        Dotted keys set last, e.g. ``{"solver.time_limit": 30}`` (what ``--set`` gives on the command line).

    Returns
    -------
    The kind's immutable scenario (``optimizer.alignment.schema.Scenario``, ``AccountsScenario``, ...).
    """
    from optimizer.core.scenario import load_scenario as load

    return load(path, overrides)


def json_schema(kind: str = "alignment") -> dict[str, Any]:
    """The JSON Schema of scenario files of ``kind``, for editors (what ``territory schema`` prints)."""
    from optimizer.core.scenario import scenario_json_schema

    if kind not in KINDS:
        raise InputError("kind", f"unknown kind `{kind}`", f"kinds are: {', '.join(KINDS)}")
    return scenario_json_schema(kind)


def validate(scenario: Any) -> list[str]:
    """Check a scenario and its data without solving; the lines ``territory validate`` prints.

    Raises the same errors as a run would before its solve (bad keys, columns, ids, an unreachable band).
    """
    return resolve(kind_of(scenario).validator)(scenario)


def prepare(scenario: Any, progress: Progress = _quiet) -> Any:
    """Load and check everything the solve needs (for alignment: units, bases, shareable units, today's plan).

    The result is the kind's own prepared data (``optimizer.alignment.data.Prepared``, ...), to hand to
    :func:`solve` or to look at in a notebook.
    """
    return resolve(kind_of(scenario).prepare)(scenario, PhaseTimer(), progress)


def solve(scenario: Any, prepared: Any = None, *, keep_log: bool = False, progress: Progress = _quiet) -> Solution:
    """Solve a scenario and return its :class:`~optimizer.solver.result.Solution`, writing nothing.

    Parameters
    ----------
    scenario
        A scenario from :func:`load_scenario`.
    prepared : optional
        Its data from :func:`prepare` (prepared here when omitted).
    keep_log : bool
        Keep HiGHS's log in ``solution.log``.

    Raises
    ------
    InputError
        For a kind whose plan is only made by a run (sizing: a curve of solves), or bases to be chosen
        among candidates: use :func:`run`.
    InfeasibleError, NoPlanError
        When no plan exists, or none was found in the time limit.
    """
    from optimizer.solver.highs import SolverOptions

    kind = kind_of(scenario)
    if not kind.solve:
        raise InputError(f"kind {getattr(scenario, 'kind', 'alignment')}", "is solved and written by a run only",
                         "call optimizer.api.run")
    ready = prepare(scenario, progress) if prepared is None else prepared
    s = scenario.solver
    options = SolverOptions(s.time_limit, s.target_gap, s.threads, s.seed, keep_log)
    return resolve(kind.solve)(scenario, ready, options)


def default_run_folder(scenario: Any, plan: Path | str | None = None) -> Path:
    """Where ``territory run`` (or, with ``plan``, ``territory evaluate``) writes by default."""
    if plan is None:
        return Path("runs") / scenario.slug
    from optimizer.compare.run import plan_folder_name

    return Path("runs") / plan_folder_name(scenario.slug, Path(plan))


def run(scenario: Any, out: Path | str | None = None, *, keep_log: bool = False,
        progress: Progress = _quiet) -> RunOutcome:
    """Solve a scenario, check the plan independently and write its run folder (what ``territory run`` does).

    The folder (default :func:`default_run_folder`) is replaced only when everything was written; a failed
    run leaves nothing. Returns the folder and the summary written to ``summary.json``.
    """
    folder = Path(out) if out is not None else default_run_folder(scenario)
    return resolve(kind_of(scenario).runner)(scenario, folder, keep_log=keep_log, progress=progress)


def evaluate(scenario: Any, plan: Path | str, out: Path | str | None = None, *,
             progress: Progress = _quiet) -> Evaluation:
    """Score a hand-edited plan of an alignment scenario and write its run folder (``territory evaluate``).

    A plan that breaks rules is still scored and written; ``evaluation.broken_rules`` names them.
    """
    from optimizer.alignment.evaluate import evaluate_plan

    folder = Path(out) if out is not None else default_run_folder(scenario, plan)
    return evaluate_plan(scenario, Path(plan), folder, progress=progress)


@dataclass
class Score:
    """A plan scored in memory: the summary ``territory evaluate`` would write, its tables and broken rules."""

    summary: dict
    assignments: pd.DataFrame
    territories: pd.DataFrame
    broken_rules: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the plan keeps every rule."""
        return not self.broken_rules


def score_plan(scenario: Any, plan: Path | str, *, progress: Progress = _quiet) -> Score:
    """Score a hand-edited plan with the run's independent checks and metrics, leaving no files behind.

    The checks read a plan back from its written tables, so the tables are written to a temporary folder
    that is removed before this returns.
    """
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="territory-score-") as scratch:
        done = evaluate(scenario, plan, Path(scratch) / "run", progress=progress)
        tables = {name: pd.read_csv(done.folder / f"{name}.csv", dtype={"unit_id": str, "territory_id": str})
                  for name in ("assignments", "territories")}
    return Score(done.summary, tables["assignments"], tables["territories"], list(done.broken_rules))


def compare(entries: Sequence[str | Path], out: Path | str, *, runs_dir: Path | str | None = None,
            fresh: bool = False, progress: Progress = _quiet) -> Comparison:
    """Compare a base scenario (first) with what-ifs: write ``comparison.csv`` and ``report.html`` to ``out``.

    An entry is a scenario file, or ``SCENARIO.yaml:PLAN.csv`` to score a hand-edited plan instead of
    solving. Run folders are kept in ``runs_dir`` (default ``out/runs``) and reused while the scenario,
    data, plan and bases are unchanged, unless ``fresh``.
    """
    from optimizer.compare.run import compare_entries, parse_entry

    parsed = [parse_entry(str(entry)) for entry in entries]
    return compare_entries(parsed, Path(out), runs_dir=None if runs_dir is None else Path(runs_dir), fresh=fresh,
                           progress=progress)

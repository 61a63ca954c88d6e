"""The registry of scenario kinds: which schema validates a scenario file and which runner solves it.

A scenario file names its kind (``kind: alignment`` is the default). Adding a formulation means adding
one entry here: its pydantic schema, its runner and its validator (and, for :mod:`optimizer.api`, how to
prepare its data and solve it without writing anything), each as ``"module:attribute"`` so that nothing
heavy is imported until it is used.

A runner is called as ``run(scenario, out, keep_log=..., progress=...)`` and returns an object with
``folder`` and ``summary`` (see :class:`optimizer.core.run.RunOutcome`); it writes its run folder
atomically. A validator is called as ``validate(scenario)`` and returns lines to print; ``lines(summary, folder)`` gives
the lines ``territory run`` prints for a finished run. ``prepare(scenario, timer, progress)`` returns the
kind's data before the solve, and ``solve(scenario, prepared, options)`` its
:class:`optimizer.solver.result.Solution` (empty: the kind is solved and written by its runner only).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any


@dataclass(frozen=True)
class Kind:
    """Where a scenario kind's schema, runner and validator live."""

    schema: str
    runner: str
    validator: str
    lines: str = "optimizer.outputs.report:summary_lines"  # what `territory run` prints: lines(summary, folder)
    prepare: str = ""  # prepare(scenario, timer, progress) -> the kind's data before the solve
    solve: str = ""  # solve(scenario, prepared, options) -> Solution, writing nothing


KINDS: dict[str, Kind] = {
    "alignment": Kind("optimizer.alignment.schema:Scenario", "optimizer.alignment.pipeline:run_scenario",
                      "optimizer.alignment.pipeline:validate_lines", prepare="optimizer.alignment.prepare:prepare",
                      solve="optimizer.alignment.problem:solve_prepared"),
    "accounts": Kind("optimizer.accounts.schema:AccountsScenario", "optimizer.accounts.pipeline:run_scenario",
                     "optimizer.accounts.pipeline:validate_lines", "optimizer.outputs.report:generic_lines",
                     prepare="optimizer.accounts.pipeline:prepare", solve="optimizer.accounts.pipeline:solve_prepared"),
    "sizing": Kind("optimizer.sizing.schema:SizingScenario", "optimizer.sizing.pipeline:run_sizing",
                   "optimizer.sizing.pipeline:validate_lines", "optimizer.sizing.report:summary_lines",
                   prepare="optimizer.sizing.pipeline:prepare_sizing"),
    "sizing_joint": Kind("optimizer.sizing.joint_schema:JointScenario", "optimizer.sizing.joint_pipeline:run_joint",
                         "optimizer.sizing.joint_pipeline:validate_lines", "optimizer.sizing.report:summary_lines",
                         prepare="optimizer.sizing.joint_pipeline:prepare_timed"),
}


def resolve(reference: str) -> Any:
    """Import ``"module:attribute"``."""
    module, _, attribute = reference.partition(":")
    return getattr(import_module(module), attribute)


def kind_of(scenario: Any) -> Kind:
    """The registry entry of a validated scenario."""
    return KINDS[getattr(scenario, "kind", "alignment")]

"""Errors the user can act on, and the exit codes the CLI maps them to.

Every error names *where* (file, key path or row), *what* is wrong and *how to fix it*, so that the
command line can print one clear line instead of a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of the ``territory`` command, one per kind of outcome."""

    OK = 0
    UNEXPECTED = 1
    BAD_INPUT = 2
    INFEASIBLE = 3
    NO_PLAN_IN_TIME = 4
    CHECK_FAILED = 5
    PLAN_BREAKS_RULES = 6  # `territory evaluate`: the hand-edited plan was scored and written, but breaks rules


class TerritoryError(Exception):
    """Base class: an outcome the user can act on, with a one-line message."""

    exit_code: ExitCode = ExitCode.UNEXPECTED

    def __init__(self, where: str, what: str, fix: str = "") -> None:
        self.where, self.what, self.fix = where, what, fix
        super().__init__(self.line())

    def line(self) -> str:
        """The single line shown to the user: ``where: what. fix``; line breaks and other control
        characters quoted from a user's file are shown escaped (``\\r``), so it stays one line."""
        text = f"{self.where}: {self.what}" if self.where else self.what
        return (f"{text} ({self.fix})" if self.fix else text).translate(_ESCAPED)


# control characters (and Unicode line breaks) as Python writes them in a string literal: \r, \n, \x00
_ESCAPED = {code: repr(chr(code))[1:-1] for code in (*range(32), 0x7F, 0x85, 0x2028, 0x2029)}


class InputError(TerritoryError):
    """The scenario, a data file or a flag is wrong."""

    exit_code = ExitCode.BAD_INPUT


class InfeasibleError(TerritoryError):
    """No plan can satisfy the request; the message names the limits that conflict."""

    exit_code = ExitCode.INFEASIBLE


class NoPlanError(TerritoryError):
    """The solver stopped (time limit) before finding any plan."""

    exit_code = ExitCode.NO_PLAN_IN_TIME


class CheckFailedError(TerritoryError):
    """An independent check found the plan breaks a rule: a bug, never a warning."""

    exit_code = ExitCode.CHECK_FAILED

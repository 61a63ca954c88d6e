"""The outcome of independent checks, shared by every kind: each check's name, and what it found broken."""

from __future__ import annotations

from dataclasses import dataclass, field

from optimizer.core.errors import CheckFailedError


@dataclass
class CheckReport:
    """Every check's name and outcome; ``failures`` lists what broke, with details."""

    passed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # one line per failed check, first few problems shown
    problems: dict[str, list[str]] = field(default_factory=dict)  # every problem of every failed check

    @property
    def ok(self) -> bool:
        return not self.failures

    def raise_if_failed(self) -> None:
        """A failed check on a solved plan is a bug: raise :class:`CheckFailedError` naming every failure."""
        if self.failures:
            raise CheckFailedError("plan check", " | ".join(self.failures),
                                   "this is a bug in the optimizer: please report it with the scenario")

    def record(self, name: str, problems: list[str]) -> None:
        if problems:
            self.problems[name] = list(problems)
            shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
            self.failures.append(f"{name}: {shown}")
        else:
            self.passed.append(name)

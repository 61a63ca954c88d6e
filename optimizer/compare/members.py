"""The members of a comparison: each entry (a scenario, optionally with a hand-edited plan) and what it gave."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from optimizer.alignment.data import Prepared
from optimizer.alignment.schema import Scenario

PLANNED = ("optimal", "feasible", "evaluated")


@dataclass(frozen=True)
class Entry:
    """One scenario of a comparison, optionally with a hand-edited plan to score instead of solving."""

    scenario: Path
    plan: Path | None = None

    @property
    def text(self) -> str:
        return f"{self.scenario}:{self.plan}" if self.plan else str(self.scenario)


@dataclass
class Member:
    """A finished entry: its scenario, units, run folder and tables (``None`` when it has no plan)."""

    entry: Entry
    scenario: Scenario
    ready: Prepared
    folder: Path
    summary: dict | None
    assignments: pd.DataFrame | None = None
    territories: pd.DataFrame | None = None
    reused: bool = False
    failure: str = ""
    made_because: str = ""  # why the run folder was (re)made instead of reused

    @property
    def label(self) -> str:
        return f"{self.scenario.name} + {self.entry.plan.name}" if self.entry.plan else self.scenario.name

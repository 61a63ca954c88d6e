"""What a sweep ran, as the writers of sweep.csv, sweep.html and sweep.json read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer.sweep.file import SweepFile, SweepScenario


@dataclass
class SweepRun:
    """What ran: the rows in scenario order, where they were written and whether it was interrupted."""

    spec: SweepFile
    scenarios: list[SweepScenario]
    rows: list[dict[str, Any]]
    out: Path
    cluster: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    started: float = 0.0  # wall-clock time the sweep started (seconds since the epoch)

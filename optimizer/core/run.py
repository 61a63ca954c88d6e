"""What every kind's run shares: the progress callback, the phase timer and the finished run."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

Progress = Callable[[str], None]



@dataclass
class PhaseTimer:
    """Seconds per phase: load, bases, build, solve, check, write."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began


@dataclass
class RunOutcome:
    """A finished run: where it was written and its summary."""

    folder: Path
    summary: dict

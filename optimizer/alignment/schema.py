"""The alignment scenario: a validated, immutable description of one territory design request."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from optimizer.alignment.schema_rules import Contiguity, Realignment, Regions, Report, Rules
from optimizer.areas.schema import Territories, Units, Workload
from optimizer.core.schema_base import ScenarioIdentity, Solver
from optimizer.core.schema_base import Section as _Section


class Balance(_Section):
    """The workload band around the average territory."""

    tolerance: float = Field(0.05, gt=0, lt=1, description="Allowed deviation from the average workload, as a share.")
    soft_penalty: float | None = Field(
        None, gt=0,
        description="If set, the band is soft: cost in km for each average territory's worth of workload outside it.",
    )
    measures: dict[str, Annotated[float, Field(gt=0, lt=1)]] = Field(
        default_factory=dict,
        description="More columns balanced with their own tolerance, e.g. {population: 0.15, establishments: 0.10}.",
    )
    targets: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict,
        description="Per-territory target as a share of the average, e.g. {T03: 0.8}; others stay at 1.0.",
    )


class Objective(_Section):
    """What is minimised: workload-weighted distance from each unit to its territory's base."""

    distance: Literal["great_circle", "projected"] = "great_circle"


class Scenario(ScenarioIdentity):
    """A territory alignment request."""

    kind: Literal["alignment"] = Field("alignment", description="Which formulation; see optimizer/kinds.py.")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    units: Units
    workload: Workload
    territories: Territories
    balance: Balance = Field(default_factory=Balance)
    objective: Objective = Field(default_factory=Objective)
    solver: Solver = Field(default_factory=Solver)
    contiguity: Contiguity = Field(default_factory=Contiguity)
    realignment: Realignment | None = None
    rules: Rules = Field(default_factory=Rules)
    regions: Regions | None = None
    report: Report | None = None

    @model_validator(mode="after")
    def _regions_fit_territories(self) -> Scenario:
        if self.regions is not None and self.regions.count > self.territories.size:
            raise ValueError(f"regions.count is {self.regions.count} but there are only {self.territories.size} "
                             f"territories; ask for at most {self.territories.size} regions")
        return self

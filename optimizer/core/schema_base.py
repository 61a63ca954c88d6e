"""The base of every scenario section: unknown keys refused, values immutable."""

from __future__ import annotations

import hashlib
import json
import re

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """A scenario section: ``extra="forbid"`` so a misspelt key is an error, ``frozen`` so nothing drifts,
    and no ``.nan`` or ``.inf`` (YAML spells them so) where a number is asked for."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ScenarioIdentity(Section):
    """What every scenario kind has besides its own ``name`` field: a folder name and a hash."""

    @property
    def slug(self) -> str:
        """A folder-safe version of the name."""
        return re.sub(r"[^A-Za-z0-9._-]+", "-", self.name).strip("-.") or "scenario"

    def digest(self) -> str:
        """A short hash of the resolved scenario, recorded with every run."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class Solver(Section):
    """Limits handed to HiGHS."""

    time_limit: float = Field(60.0, gt=0, description="Seconds for the whole solve.")
    target_gap: float = Field(0.01, ge=0, lt=1, description="Stop once the plan is proven within this relative gap.")
    threads: int = Field(1, ge=1, le=64)
    seed: int = Field(0, ge=0, description="HiGHS random_seed; recorded with the run.")

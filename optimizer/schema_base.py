"""The base of every scenario section: unknown keys refused, values immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A scenario section: ``extra="forbid"`` so a misspelt key is an error, ``frozen`` so nothing drifts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

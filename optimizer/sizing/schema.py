"""The ``sizing`` scenario: segments with response curves, rep cost and capacity, a headcount range.

A segment's curve is given by its parameters or fitted to ``points`` (observed effort and sales). A
segment with ``accounts`` is built from unit data (e.g. the Texas counties whose establishments fall
in a band): its curve and effort are then *per account*, and the segment's totals are those times
its number of accounts (``models.response`` ``scaled``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from models.response import Adbudg, CurveError, Piecewise, PowerLaw
from optimizer.areas.schema import Units
from optimizer.core.schema_base import ScenarioIdentity, Solver
from optimizer.core.schema_base import Section as _Section

Point = tuple[float, float]


class AdbudgSpec(_Section):
    """ADBUDG: ``min + (max - min) x^shape / (half_saturation^shape + x^shape)``; S-shaped when shape > 1."""

    type: Literal["adbudg"]
    min: float | None = Field(None, ge=0, description="Sales with no effort (per year).")
    max: float | None = Field(None, gt=0, description="Sales at saturation (per year).")
    shape: float | None = Field(None, gt=0, le=20, description="<= 1: concave; > 1: S-shaped.")
    half_saturation: float | None = Field(None, gt=0, description="Effort that earns half of max - min.")
    points: list[Point] | None = Field(None, min_length=4, description="(effort, sales) observations to fit the "
                                       "four parameters to (scipy curve_fit), instead of giving them.")

    @model_validator(mode="after")
    def _parameters_or_points(self) -> AdbudgSpec:
        _parameters_xor_points(self, ("min", "max", "shape", "half_saturation"))
        if self.points is None:
            _as_value_error(lambda: Adbudg(self.min, self.max, self.shape, self.half_saturation))
        return self


class PowerSpec(_Section):
    """Power law: ``intercept + scale * x^exponent`` with ``0 < exponent <= 1``."""

    type: Literal["power"]
    scale: float | None = Field(None, gt=0)
    exponent: float | None = Field(None, gt=0, le=1, description="<= 1 keeps the curve concave.")
    intercept: float | None = Field(None, ge=0, description="Sales with no effort (default 0).")
    points: list[Point] | None = Field(None, min_length=3, description="(effort, sales) observations to fit to.")

    @model_validator(mode="after")
    def _parameters_or_points(self) -> PowerSpec:
        _parameters_xor_points(self, ("scale", "exponent"), optional=("intercept",))
        return self


class PiecewiseSpec(_Section):
    """Piecewise linear through (effort, sales) points; concave or S-shaped."""

    type: Literal["piecewise"]
    points: list[Point] = Field(min_length=2, description="(effort, sales) points, effort strictly increasing.")

    @model_validator(mode="after")
    def _valid_points(self) -> PiecewiseSpec:
        _as_value_error(lambda: Piecewise(tuple(p[0] for p in self.points), tuple(p[1] for p in self.points)))
        return self


CurveSpec = Annotated[AdbudgSpec | PowerSpec | PiecewiseSpec, Field(discriminator="type")]


class Band(_Section):
    """Units whose measure is in ``[min, max)`` form the segment."""

    min: float = Field(0.0, ge=0)
    max: float | None = Field(None, gt=0, description="Exclusive upper end; omit for no upper end.")

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.max is not None and self.max <= self.min:
            raise ValueError(f"max ({self.max}) must be above min ({self.min})")
        return self


class Accounts(_Section):
    """How many accounts a segment has, from a unit column (e.g. QCEW establishments)."""

    measure: str = Field(description="Unit column counting potential accounts, e.g. establishments.")
    share: float = Field(1.0, gt=0, le=1, description="Share of that count that are accounts for this sales force.")
    band: Band = Field(default_factory=Band, description="Which units belong to the segment, by the measure.")


class Effort(_Section):
    """Bounds on a segment's effort and the rep time one unit of effort takes."""

    min: float = Field(0.0, ge=0, description="Least effort (per account when the segment has accounts).")
    max: float | None = Field(None, gt=0, description="Most effort; default: all capacity of the largest headcount.")
    hours: float = Field(1.0, gt=0, description="Rep hours one unit of effort takes (e.g. per call, travel included).")

    @model_validator(mode="after")
    def _ordered(self) -> Effort:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class Segment(_Section):
    """A customer segment with its own response curve."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="Short id, used in column names.")
    name: str | None = Field(None, max_length=200)
    margin: float | None = Field(None, gt=0, le=1, description="Overrides the scenario's margin for this segment.")
    accounts: Accounts | None = None
    curve: CurveSpec
    effort: Effort = Field(default_factory=Effort)


class Headcount(_Section):
    """The range of headcounts to consider."""

    min: int = Field(1, ge=0, le=100_000)
    max: int | None = Field(None, ge=1, le=100_000, description="Omit to let reps.budget set it.")


class Reps(_Section):
    """What a rep costs and how much time a rep has."""

    cost: float = Field(gt=0, description="Yearly cost of one rep (salary, benefits, car, expenses).")
    hours: float = Field(gt=0, description="Hours a rep spends selling and travelling per year.")
    headcount: Headcount = Field(default_factory=Headcount)
    budget: float | None = Field(None, gt=0, description="Most the sales force may cost per year.")

    @model_validator(mode="after")
    def _range_given(self) -> Reps:
        if self.headcount.max is None and self.budget is None:
            raise ValueError("give headcount.max or budget (e.g. headcount: {min: 1, max: 200})")
        if self.headcount.max is not None and self.headcount.min > self.headcount.max:
            raise ValueError(f"headcount.min ({self.headcount.min}) is above headcount.max ({self.headcount.max}); "
                             "lower min or raise max")
        return self


class Linearisation(_Section):
    """How closely the linear envelopes follow the curves."""

    tolerance: float = Field(0.001, gt=0, le=0.1, description="Largest overestimate of a segment's sales by its "
                             "envelope, as a share of its sales at maximum effort.")
    max_cuts: int = Field(400, ge=4, le=5000, description="Most cuts or chord pieces per curve.")


class Recommend(_Section):
    """Which headcounts are reported as near the best."""

    near_best: float = Field(0.01, ge=0, lt=1, description="Share of the best profit a headcount may fall short by.")


class NamedScenario(ScenarioIdentity):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""



class SizingScenario(NamedScenario):
    """How many reps, and how they split their effort across segments."""

    kind: Literal["sizing"]
    units: Units | None = Field(None, description="Unit data the segments with `accounts` are built from.")
    currency: str = Field("USD", max_length=10)
    effort_unit: str = Field("calls", max_length=40, description="What effort counts, e.g. calls or FTE.")
    margin: float = Field(gt=0, le=1, description="Contribution margin: share of sales left before rep cost.")
    segments: list[Segment] = Field(min_length=1, max_length=500)
    reps: Reps
    linearisation: Linearisation = Field(default_factory=Linearisation)
    recommend: Recommend = Field(default_factory=Recommend)
    solver: Solver = Field(default_factory=Solver)

    @model_validator(mode="after")
    def _segments_consistent(self) -> SizingScenario:
        unique_segment_ids(self.segments)
        if self.units is None and any(s.accounts for s in self.segments):
            raise ValueError("segments with `accounts` need a `units` section naming the data set")
        return self


def unique_segment_ids(segments: list[Segment]) -> None:
    seen: set[str] = set()
    for segment in segments:
        if segment.id in seen:
            raise ValueError(f"segment id `{segment.id}` is used twice; give each segment its own id")
        seen.add(segment.id)


def _parameters_xor_points(spec: _Section, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    given = [k for k in (*required, *optional) if getattr(spec, k) is not None]
    if spec.points is not None and given:
        raise ValueError(f"give the parameters or `points` to fit them to, not both (drop {', '.join(given)})")
    missing = [k for k in required if getattr(spec, k) is None]
    if spec.points is None and missing:
        raise ValueError(f"missing {', '.join(missing)} (or give `points` to fit the curve to)")


def _as_value_error(make) -> None:
    try:
        make()
    except CurveError as exc:
        raise ValueError(str(exc)) from None


def curve_from_parameters(spec: AdbudgSpec | PowerSpec | PiecewiseSpec):
    """The curve object of a spec that gives its parameters (not points to fit)."""
    if isinstance(spec, AdbudgSpec):
        return Adbudg(spec.min, spec.max, spec.shape, spec.half_saturation)
    if isinstance(spec, PowerSpec):
        return PowerLaw(spec.scale, spec.exponent, spec.intercept or 0.0)
    return Piecewise(tuple(p[0] for p in spec.points), tuple(p[1] for p in spec.points))

"""Segments as plain numbers: each segment's total response curve, effort range and rep hours per effort.

A segment with ``accounts`` takes the units whose measure lies in its band; its account count is
``share x`` the band's total of the measure, and its per-account curve and effort bounds are scaled to
the segment (``R(x) = p r(x / p)``). Units in no band are reported as white space, never dropped
silently; a unit in two bands is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.response import Curve, Piecewise, is_concave
from optimizer.core.errors import InputError
from optimizer.areas.schema import Workload
from optimizer.sizing.fit import POOR_FIT_R2, FitReport, fit_curve
from optimizer.sizing.schema import Segment, curve_from_parameters
from optimizer.areas.units import UnitTable, load_units


@dataclass(frozen=True)
class SegmentData:
    """One segment in totals: curve, effort range and hours per unit of effort."""

    id: str
    name: str
    margin: float
    curve: Curve
    lo: float
    hi: float
    hours: float
    accounts: float | None
    unit_ids: tuple[str, ...]
    curve_type: str
    fit: FitReport | None
    written: Curve  # as written or fitted: per account when the segment has accounts

    @property
    def concave(self) -> bool:
        return is_concave(self.curve, self.lo, self.hi)


@dataclass(frozen=True)
class SegmentTable:
    """The segments of a scenario, in scenario order, and what was noticed building them."""

    segments: tuple[SegmentData, ...]
    units: UnitTable | None
    notes: tuple[str, ...]

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.segments]


def load_segment_units(scenario) -> UnitTable | None:
    """The unit data the ``accounts`` of the segments refer to (None when no segment has accounts)."""
    keys: dict[str, str] = {}  # measure -> the first key naming it, for messages
    for k, segment in enumerate(scenario.segments):
        if segment.accounts is not None:
            keys.setdefault(segment.accounts.measure, f"segments.{k}.accounts.measure")
    if not keys or scenario.units is None:
        return None
    return load_units(scenario.units, Workload(measures={m: 1.0 for m in keys}), extra=keys)


def band_mask(units: UnitTable, segment: Segment) -> np.ndarray:
    """Bool per unit: its measure lies in the segment's band ``[min, max)``."""
    values = units.frame[segment.accounts.measure].to_numpy(dtype=float)
    band = segment.accounts.band
    return (values >= band.min) & (values < (band.max if band.max is not None else math.inf))


def base_curve(segment: Segment, index: int, key: str = "segments") -> tuple[Curve, FitReport | None]:
    """The curve as written (per account when the segment has accounts), fitted to its points if given."""
    spec = segment.curve
    if spec.type != "piecewise" and spec.points is not None:
        return fit_curve(spec.type, spec.points, f"{key}.{index}.curve.{spec.type}.points")
    return curve_from_parameters(spec), None


def build_segments(scenario, units: UnitTable | None, headcount_max: int) -> SegmentTable:
    """Scale every segment to its totals; refuse overlapping bands and empty segments."""
    notes: list[str] = []
    masks = {}
    for k, segment in enumerate(scenario.segments):
        if segment.accounts is not None:
            masks[k] = band_mask(units, segment)
            _require_members(units, segment, masks[k], k)
    if masks:
        notes += unit_coverage_notes(units, scenario.segments, masks)
    rows = [_segment_data(scenario, units, k, masks.get(k), headcount_max) for k in range(len(scenario.segments))]
    notes += [f"segment {s.id}: the fitted curve explains little of its points (R² {s.fit.r2:.2f})"
              for s in rows if s.fit is not None and s.fit.r2 < POOR_FIT_R2]
    return SegmentTable(segments=tuple(rows), units=units, notes=tuple(notes))


def _segment_data(scenario, units, k: int, mask, headcount_max: int) -> SegmentData:
    segment = scenario.segments[k]
    curve, fit = base_curve(segment, k)
    accounts, ids = None, ()
    if mask is not None:
        measure = units.frame[segment.accounts.measure].to_numpy(dtype=float)
        accounts = float(segment.accounts.share * measure[mask].sum())
        ids = tuple(units.ids[mask])
    scale = accounts if accounts is not None else 1.0
    total = curve.scaled(scale) if accounts is not None else curve
    lo = segment.effort.min * scale
    default_hi = scenario.reps.hours * headcount_max / segment.effort.hours
    hi = segment.effort.max * scale if segment.effort.max is not None else default_hi
    lo, hi = _within_curve_domain(total, lo, hi, segment.effort.max is None, k)
    return SegmentData(id=segment.id, name=segment.name or segment.id, margin=segment.margin or scenario.margin,
                       curve=total, lo=lo, hi=hi, hours=segment.effort.hours, accounts=accounts, unit_ids=ids,
                       curve_type=segment.curve.type, fit=fit, written=curve)


def _within_curve_domain(curve: Curve, lo: float, hi: float, hi_defaulted: bool, k: int) -> tuple[float, float]:
    if not isinstance(curve, Piecewise):
        return lo, max(hi, lo)
    first, last = curve.efforts[0], curve.efforts[-1]
    if lo < first - 1e-9 * max(1.0, first):
        raise InputError(f"segments.{k}.effort.min", f"{lo:g} is below the curve's first point ({first:g})",
                         "add a point at the minimum effort or raise effort.min")
    if hi > last + 1e-9 * max(1.0, last):
        if not hi_defaulted:
            raise InputError(f"segments.{k}.effort.max", f"{hi:g} is beyond the curve's last point ({last:g})",
                             "lower effort.max or add a point at that effort")
        hi = last
    return lo, max(hi, lo)


def _require_members(units: UnitTable, segment: Segment, mask: np.ndarray, k: int) -> None:
    band = segment.accounts.band
    upper = f"{band.max:g}" if band.max is not None else "inf"
    if not mask.any():
        raise InputError(f"segments.{k}.accounts.band", f"no unit has {segment.accounts.measure} in "
                         f"[{band.min:g}, {upper})", "widen the band or drop the segment")
    measure = units.frame[segment.accounts.measure].to_numpy(dtype=float)
    if measure[mask].sum() <= 0:
        raise InputError(f"segments.{k}.accounts", f"the units in the band have no {segment.accounts.measure}",
                         "choose a band with accounts")


def unit_coverage_notes(units: UnitTable, segments: list[Segment], masks: dict[int, np.ndarray]) -> list[str]:
    """Refuse units in two bands; return a note listing the units in no band (white space)."""
    stacked = np.vstack(list(masks.values()))
    twice = np.flatnonzero(stacked.sum(axis=0) > 1)
    if twice.size:
        keys = list(masks)
        owners = [segments[keys[r]].id for r in np.flatnonzero(stacked[:, twice[0]])]
        listed = ", ".join(units.ids[twice[:5]])
        raise InputError("segments.*.accounts.band", f"{twice.size} units are in more than one segment "
                         f"({listed}; e.g. in {' and '.join(owners)})", "make the bands not overlap")
    outside = np.flatnonzero(stacked.sum(axis=0) == 0)
    if not outside.size:
        return []
    listed = ", ".join(f"{units.frame['name'].iat[i]} ({units.ids[i]})" for i in outside[:5])
    more = f" and {outside.size - 5} more" if outside.size > 5 else ""
    return [f"{outside.size} units are in no segment and get no effort (white space): {listed}{more}"]

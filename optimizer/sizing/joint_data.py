"""The joint model's numbers from the scenario: units with their own curves, candidate bases, eligible
pairs and hours per call with travel.

Travel per call from base ``b`` to unit ``u`` is ``2 x road_factor x (d + s_u) / speed / calls_per_trip``
hours, where ``d`` is the great-circle distance to the unit's centroid and ``s_u = 2/3 sqrt(area / pi)``
the mean distance from the centroid to a point of a disc of the unit's area (accounts are spread over
the unit). A pair is eligible when ``d <= max_distance_km``: a rule of the scenario, so the model's
bound holds for the model as stated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.sizing_envelope import Envelope, scaled
from models.sizing_joint import JointData
from optimizer.areas.distance import great_circle_km
from optimizer.core.errors import InputError
from optimizer.sizing.candidates import candidate_bases
from optimizer.sizing.joint_schema import JointScenario
from optimizer.sizing.pipeline import linearise
from optimizer.sizing.precheck import first_feasible_headcount, headcount_bounds
from optimizer.sizing.data import band_mask, base_curve, load_segment_units, unit_coverage_notes
from optimizer.areas.units import PROJECTED_CRS, UnitTable


@dataclass(frozen=True)
class JointInputs:
    """Everything the joint solve and its outputs need, as tables and arrays."""

    scenario: JointScenario
    units: UnitTable
    items: np.ndarray  # positions in ``units`` of the units in a segment (the model's items)
    segment_of: np.ndarray  # (items,) segment index
    accounts: np.ndarray  # (items,)
    curves: tuple  # (items,) true curves in totals
    call_hours: np.ndarray  # (items,)
    bases: pd.DataFrame  # candidate bases
    distance_km: np.ndarray  # (items, bases)
    data: JointData
    notes: tuple[str, ...]


def prepare_joint(scenario: JointScenario) -> JointInputs:
    """Load units, assign them to segments, find candidates and eligible pairs, and linearise the curves."""
    units = load_segment_units(scenario)
    masks = {k: band_mask(units, s) for k, s in enumerate(scenario.segments)}
    notes = unit_coverage_notes(units, scenario.segments, masks)
    segment_of_unit = np.full(len(units), -1)
    for k, mask in masks.items():
        segment_of_unit[mask] = k
    measure = np.array([units.frame[s.accounts.measure].to_numpy(float) * s.accounts.share
                        for s in scenario.segments])
    accounts_all = np.where(segment_of_unit >= 0, measure[np.maximum(segment_of_unit, 0), np.arange(len(units))], 0)
    items = np.flatnonzero((segment_of_unit >= 0) & (accounts_all > 0))
    if len(items) < int((segment_of_unit >= 0).sum()):
        notes.append(f"{int((segment_of_unit >= 0).sum()) - len(items)} units in a band have no accounts and get "
                     "no calls")
    bases = candidate_bases(scenario.bases, units)
    distance = great_circle_km(units.lat[items, None], units.lon[items, None], bases["base_lat"].to_numpy()[None, :],
                               bases["base_lon"].to_numpy()[None, :])
    return _assemble(scenario, units, items, segment_of_unit[items], accounts_all[items], bases, distance, notes)


def _assemble(scenario, units, items, segment_of, accounts, bases, distance, notes) -> JointInputs:
    per_account = [base_curve(s, k)[0] for k, s in enumerate(scenario.segments)]
    envelopes = [_per_account_envelope(per_account[k], s, scenario) for k, s in enumerate(scenario.segments)]
    curves = tuple(per_account[k].scaled(a) for k, a in zip(segment_of, accounts))
    lo = np.array([scenario.segments[k].effort.min for k in segment_of]) * accounts
    hi = np.array([scenario.segments[k].effort.max for k in segment_of]) * accounts
    call_hours = np.array([scenario.segments[k].effort.hours for k in segment_of])
    unit_env: tuple[Envelope, ...] = tuple(scaled(envelopes[k], a) for k, a in zip(segment_of, accounts))
    pair_unit, pair_base, pair_hours = _pairs(scenario, units, items, distance, call_hours)
    low, high = headcount_bounds(scenario.reps)
    min_hours = float(sum(lo[u] * pair_hours[pair_unit == u].min() for u in range(len(items))))
    first, more = first_feasible_headcount(min_hours, scenario.reps, low, high, "the units' minimum calls")
    margin = np.array([scenario.segments[k].margin or scenario.margin for k in segment_of])
    data = JointData(margin=margin, effort_lo=lo, effort_hi=hi, envelopes=unit_env, pair_unit=pair_unit,
                     pair_base=pair_base, pair_hours=pair_hours, n_bases=len(bases), rep_hours=scenario.reps.hours,
                     rep_cost=scenario.reps.cost, base_cost=scenario.bases.fixed_cost,
                     max_reps=scenario.bases.max_reps, headcount_lo=first, headcount_hi=high)
    return JointInputs(scenario=scenario, units=units, items=items, segment_of=segment_of, accounts=accounts,
                       curves=curves, call_hours=call_hours, bases=bases, distance_km=distance, data=data,
                       notes=tuple(notes + more))


def _per_account_envelope(curve, segment, scenario) -> Envelope:
    return linearise(curve, segment.effort.min, segment.effort.max, scenario.linearisation)


def spread_km(units: UnitTable, items: np.ndarray) -> np.ndarray:
    """Mean distance from a unit's centroid to a point of a disc of its area, in km."""
    area_km2 = units.frame.geometry.iloc[items].to_crs(PROJECTED_CRS).area.to_numpy() / 1e6
    return (2.0 / 3.0) * np.sqrt(area_km2 / np.pi)


def travel_hours(distance_km: np.ndarray, spread: np.ndarray, travel) -> np.ndarray:
    """Travel hours per call for the given centroid distances and spreads (broadcasting)."""
    return 2.0 * travel.road_factor * (distance_km + spread) / travel.speed_kmh / travel.calls_per_trip


def _pairs(scenario, units, items, distance, call_hours) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    eligible = distance <= scenario.travel.max_distance_km
    orphan = np.flatnonzero(~eligible.any(axis=1))
    if orphan.size:
        listed = ", ".join(f"{units.frame['name'].iat[items[i]]} ({units.ids[items[i]]}, nearest "
                           f"{distance[i].min():.0f} km)" for i in orphan[:5])
        raise InputError("travel.max_distance_km", f"{orphan.size} units have no candidate base within "
                         f"{scenario.travel.max_distance_km:g} km: {listed}",
                         "raise travel.max_distance_km or add candidate bases near them")
    unit, base = np.nonzero(eligible)
    spread = spread_km(units, items)
    hours = call_hours[unit] + travel_hours(distance[unit, base], spread[unit], scenario.travel)
    return unit, base, hours

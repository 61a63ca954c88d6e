"""Independent checks of a written plan.

These read the plan back from ``assignments.csv`` and ``territories.csv`` and verify it against the unit
data and the scenario's rules with their own arithmetic (including their own distance formula), never
with the model: a formulation or solver bug shows up as a failed check, not as a pretty map.
A failed check is an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.alignment.checks.rules import AdoptionRules, check_rules, moved, territory_targets
from optimizer.core.checks import CheckReport
from optimizer.core.safe_csv import read_table

SHARE_TOLERANCE = 1e-5
BAND_TOLERANCE = 1e-6
OBJECTIVE_TOLERANCE = 1e-5
# base coordinates pass through territories.csv with 10 significant digits (about 1 mm): a unit sitting on its
# base may then be up to that far from it, so the recomputed objective may differ by that much per territory
OBJECTIVE_KM_PER_TERRITORY = 1e-4


@dataclass(frozen=True)
class PlanRules:
    """What a plan must satisfy, in the user's terms (from the scenario)."""

    territory_ids: tuple[str, ...]
    tolerance: float
    soft_penalty: float | None
    shareable: frozenset[str]
    distance: str  # "great_circle" or "projected"
    adoption: AdoptionRules = field(default_factory=AdoptionRules)


def check_plan(folder: Path, units: pd.DataFrame, rules: PlanRules,
               reported_objective: float | None) -> CheckReport:
    """Check the plan in ``folder`` against ``units`` (unit_id, workload, lat, lon, x_m, y_m) and ``rules``.

    Returns every check's outcome; a solved plan calls :meth:`CheckReport.raise_if_failed`, while scoring a
    hand-edited plan lists what it breaks. ``reported_objective`` of ``None`` skips the objective check.
    """
    assignments = read_table(folder / "assignments.csv", dtype={"unit_id": str, "territory_id": str})
    territories = read_table(folder / "territories.csv", dtype={"territory_id": str, "base_unit_id": str})
    report = CheckReport()
    report.record("known ids", _unknown_ids(assignments, units, rules))
    report.record("every unit exactly once", _coverage(assignments, units, rules))
    loads = _territory_loads(assignments, units, rules)
    report.record("territory table matches the plan", _table_matches(territories, loads))
    if rules.soft_penalty is None:
        target = territory_targets(units, "workload", rules.territory_ids, rules.adoption.targets)
        report.record("workload inside the band", _band(loads, target, rules))
    if reported_objective is not None:
        report.record("objective recomputed", _objective(assignments, territories, units, rules, loads,
                                                         reported_objective))
    check_rules(report, folder, assignments, units, rules.territory_ids, rules.adoption, rules.shareable)
    return report


def _unknown_ids(assignments: pd.DataFrame, units: pd.DataFrame, rules: PlanRules) -> list[str]:
    bad_units = sorted(set(assignments["unit_id"]) - set(units["unit_id"]))
    bad_terrs = sorted(set(assignments["territory_id"]) - set(rules.territory_ids))
    return [f"unknown unit {u}" for u in bad_units] + [f"unknown territory {t}" for t in bad_terrs]


def _coverage(assignments: pd.DataFrame, units: pd.DataFrame, rules: PlanRules) -> list[str]:
    problems = [f"unit {u} is in no territory" for u in sorted(set(units["unit_id"]) - set(assignments["unit_id"]))]
    if assignments.duplicated(["unit_id", "territory_id"]).any():
        problems.append("a unit-territory pair is listed twice")
    if ((assignments["share"] <= 0) | (assignments["share"] > 1 + SHARE_TOLERANCE)).any():
        problems.append("a share is outside (0, 1]")
    totals = assignments.groupby("unit_id")["share"].sum()
    problems += [f"shares of unit {u} add up to {s:.6f}" for u, s in totals.items() if abs(s - 1) > SHARE_TOLERANCE]
    counts = assignments["unit_id"].value_counts()
    split = counts[counts > 1].index
    problems += [f"unit {u} is split but may not be shared" for u in sorted(set(split) - rules.shareable)]
    return problems


def _territory_loads(assignments: pd.DataFrame, units: pd.DataFrame, rules: PlanRules) -> pd.Series:
    workload = units.set_index("unit_id")["workload"]
    weighted = assignments["share"].to_numpy() * workload.reindex(assignments["unit_id"]).to_numpy()
    loads = pd.Series(weighted).groupby(assignments["territory_id"].to_numpy()).sum()
    return loads.reindex(list(rules.territory_ids), fill_value=0.0)


def _table_matches(territories: pd.DataFrame, loads: pd.Series) -> list[str]:
    table = territories.set_index("territory_id")["workload"]
    if set(table.index) != set(loads.index):
        return ["territories.csv does not list exactly the scenario's territories"]
    diff = (table.reindex(loads.index) - loads).abs() > 1e-6 * max(1.0, float(loads.abs().max()))
    return [f"workload of {t} is {table[t]:.6g} in territories.csv but {loads[t]:.6g} from the plan"
            for t in loads.index[diff.to_numpy()]]


def _target(units: pd.DataFrame, rules: PlanRules) -> float:
    """The average territory of the scenario: every unit's workload over the number of territories."""
    return float(units["workload"].sum()) / len(rules.territory_ids)


def _band(loads: pd.Series, target: pd.Series, rules: PlanRules) -> list[str]:
    ratio = loads / target.reindex(loads.index)
    low, high = 1 - rules.tolerance - BAND_TOLERANCE, 1 + rules.tolerance + BAND_TOLERANCE
    return [f"{t} carries {r:.4f}x the average (band {1 - rules.tolerance:.2f}-{1 + rules.tolerance:.2f})"
            for t, r in ratio.items() if not low <= r <= high]


def _objective(assignments, territories, units, rules, loads, reported: float) -> list[str]:
    target = _target(units, rules)
    unit_rows = units.set_index("unit_id").reindex(assignments["unit_id"])
    base_rows = territories.set_index("territory_id").reindex(assignments["territory_id"])
    km = _distance_km(unit_rows, base_rows, rules.distance)
    travel = float((unit_rows["workload"].to_numpy() * assignments["share"].to_numpy() * km).sum()) / target
    factor = territory_targets(units, "workload", rules.territory_ids, rules.adoption.targets) / target
    ratio = loads / target
    outside = (np.maximum(0, (1 - rules.tolerance) * factor - ratio)
               + np.maximum(0, ratio - (1 + rules.tolerance) * factor))
    penalty = (rules.soft_penalty or 0.0) * float(outside.sum())
    recomputed = travel + penalty + _disruption_cost(assignments, units, rules)
    slack = OBJECTIVE_KM_PER_TERRITORY * len(rules.territory_ids)
    if not math.isclose(recomputed, reported, rel_tol=OBJECTIVE_TOLERANCE, abs_tol=slack):
        return [f"reported objective {reported:.6f} but the plan's is {recomputed:.6f}"]
    return []


def _distance_km(unit_rows: pd.DataFrame, base_rows: pd.DataFrame, kind: str) -> np.ndarray:
    if kind == "projected":
        bases = gpd.GeoSeries(gpd.points_from_xy(base_rows["base_lon"], base_rows["base_lat"]), crs="EPSG:4326")
        xy = bases.to_crs("EPSG:5070")
        return np.hypot(unit_rows["x_m"].to_numpy() - xy.x.to_numpy(), unit_rows["y_m"].to_numpy() - xy.y.to_numpy()) / 1000
    return _chord_angle_km(unit_rows["lat"].to_numpy(), unit_rows["lon"].to_numpy(),
                           base_rows["base_lat"].to_numpy(), base_rows["base_lon"].to_numpy())


def _chord_angle_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance through 3-D unit vectors (a different formula from the model's haversine)."""
    def vec(lat, lon):
        la, lo = np.radians(lat), np.radians(lon)
        return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
    a, b = vec(lat1, lon1), vec(lat2, lon2)
    cross = np.linalg.norm(np.cross(a.T, b.T), axis=1)
    return 6371.0088 * np.arctan2(cross, (a * b).sum(axis=0))


def _disruption_cost(assignments: pd.DataFrame, units: pd.DataFrame, rules: PlanRules) -> float:
    """The move penalty's part of the objective, in the model's units (units moved, or average territories
    of the moved measure)."""
    adoption = rules.adoption
    if adoption.current is None or not adoption.move_penalty:
        return 0.0
    moves = moved(assignments, units, adoption)
    if adoption.max_moved_units is not None:
        return adoption.move_penalty * float(moves["moved_share"].sum())
    per_territory = float(units[adoption.moved_measure or "workload"].sum()) / len(rules.territory_ids)
    return adoption.move_penalty * float(moves["moved"].sum()) / per_territory

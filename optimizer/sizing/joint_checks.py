"""Independent checks of a written joint plan.

They read ``assignments.csv``, ``territories.csv`` and ``sizing.csv`` back and verify them with their own
arithmetic from the unit data, the candidate bases and the true curves, never with the model: each unit
covered once from an eligible base, calls within range, hours (calls plus travel recomputed from the
distances) within the reps' capacity, reps per base and headcount within range, profit recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.core.checks import CheckReport
from optimizer.areas.distance import great_circle_km
from optimizer.core.safe_csv import read_table
from optimizer.sizing.joint_data import JointInputs, spread_km, travel_hours

REL = 1e-6


@dataclass(frozen=True)
class JointRules:
    """The joint scenario's rules and the plan's reported profit."""

    inputs: JointInputs
    reported_profit: float


def check_joint(folder: Path, rules: JointRules) -> CheckReport:
    """Check the plan in ``folder``; a solved run raises on any failure."""
    a = read_table(folder / "assignments.csv", dtype={"unit_id": str, "territory_id": str})
    t = read_table(folder / "territories.csv", dtype={"territory_id": str, "base_unit_id": str})
    inputs = rules.inputs
    expected = pd.Series(np.arange(len(inputs.items)), index=inputs.units.ids[inputs.items])
    report = CheckReport()
    report.record("every unit once, from a known base", _coverage(a, t, expected))
    if report.failures:
        return report
    pos = expected.reindex(a["unit_id"]).to_numpy()
    report.record("bases within the distance rule", _distance(a, t, inputs, pos))
    report.record("calls within min and max", _calls(a, inputs, pos))
    report.record("hours recomputed, within capacity", _hours(a, t, inputs, pos))
    report.record("reps per base and headcount in range", _reps(t, inputs))
    report.record("territories.csv matches the plan", _territories(a, t))
    report.record("profit recomputed from the true curves", _profit(a, t, inputs, pos, rules.reported_profit))
    return report


def _coverage(a: pd.DataFrame, t: pd.DataFrame, expected: pd.Series) -> list[str]:
    problems = [f"unit {u} is in no territory" for u in sorted(set(expected.index) - set(a["unit_id"]))]
    problems += [f"unknown unit {u}" for u in sorted(set(a["unit_id"]) - set(expected.index))]
    problems += ["a unit is listed twice"] if a["unit_id"].duplicated().any() else []
    problems += [f"unit {u} has share {s}" for u, s in zip(a["unit_id"], a["share"]) if abs(s - 1) > REL]
    unknown = sorted(set(a["territory_id"]) - set(t["territory_id"]))
    return problems + [f"territory {x} is not an open base" for x in unknown]


def _base_rows(a: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    return t.set_index("territory_id").reindex(a["territory_id"])


def _distance(a, t, inputs: JointInputs, pos) -> list[str]:
    base = _base_rows(a, t)
    km = great_circle_km(inputs.units.lat[inputs.items][pos], inputs.units.lon[inputs.items][pos],
                         base["base_lat"].to_numpy(float), base["base_lon"].to_numpy(float))
    limit = inputs.scenario.travel.max_distance_km
    return [f"unit {u} is {d:.1f} km from its base (rule {limit:g} km)" for u, d in zip(a["unit_id"], km)
            if d > limit * (1 + REL)]


def _calls(a, inputs: JointInputs, pos) -> list[str]:
    lo, hi = inputs.data.effort_lo[pos], inputs.data.effort_hi[pos]
    x = a["calls"].to_numpy(float)
    bad = (x < lo - REL * np.maximum(1, lo)) | (x > hi + REL * np.maximum(1, hi))
    return [f"unit {u}: {c:.3f} calls outside [{l:.3f}, {h:.3f}]" for u, c, l, h in
            zip(a["unit_id"][bad], x[bad], lo[bad], hi[bad])]


def _hours(a, t, inputs: JointInputs, pos) -> list[str]:
    base = _base_rows(a, t)
    km = great_circle_km(inputs.units.lat[inputs.items][pos], inputs.units.lon[inputs.items][pos],
                         base["base_lat"].to_numpy(float), base["base_lon"].to_numpy(float))
    spread = spread_km(inputs.units, inputs.items)[pos]
    per_call = inputs.call_hours[pos] + travel_hours(km, spread, inputs.scenario.travel)
    hours = a["calls"].to_numpy(float) * per_call
    matches = np.allclose(hours, a["hours"], rtol=1e-5, atol=1e-6)
    problems = [] if matches else ["hours per unit do not match calls plus travel"]
    used = pd.Series(hours).groupby(a["territory_id"].to_numpy()).sum()
    capacity = t.set_index("territory_id")["reps"] * inputs.data.rep_hours
    over = used > capacity.reindex(used.index) * (1 + 1e-5) + 1e-6
    return problems + [f"base {b} uses {used[b]:,.1f} of {capacity[b]:,.1f} hours" for b in used.index[over]]


def _reps(t: pd.DataFrame, inputs: JointInputs) -> list[str]:
    data = inputs.data
    problems = [f"base {b} has {r} reps (1-{data.max_reps})" for b, r in zip(t["territory_id"], t["reps"])
                if not 1 <= r <= data.max_reps]
    total = int(t["reps"].sum())
    if not data.headcount_lo <= total <= data.headcount_hi:
        problems.append(f"headcount {total} outside {data.headcount_lo}-{data.headcount_hi}")
    return problems


def _territories(a: pd.DataFrame, t: pd.DataFrame) -> list[str]:
    sums = a.groupby("territory_id")[["calls", "hours"]].sum().reindex(t["territory_id"]).fillna(0.0)
    problems = [f"{col} of base {b} differs from the plan" for col in ("calls", "hours")
                for b, x, y in zip(t["territory_id"], t[col], sums[col]) if not np.isclose(x, y, rtol=1e-6, atol=1e-6)]
    counts = a["territory_id"].value_counts().reindex(t["territory_id"]).fillna(0).astype(int)
    return problems + [f"base {b} lists {n} units, the plan {c}" for b, n, c in zip(t["territory_id"], t["units"],
                                                                                   counts) if n != c]


def _profit(a, t, inputs: JointInputs, pos, reported: float) -> list[str]:
    sales = np.array([float(inputs.curves[i].value(x)) for i, x in zip(pos, a["calls"].to_numpy(float))])
    data = inputs.data
    profit = float((data.margin[pos] * sales).sum()) - data.rep_cost * float(t["reps"].sum()) - \
        data.base_cost * len(t)
    if not np.isclose(profit, reported, rtol=REL, atol=1e-3):
        return [f"reported profit {reported:,.2f} but the plan earns {profit:,.2f}"]
    return []

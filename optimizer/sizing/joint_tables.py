"""Tidy tables of a joint run, keyed by ids: ``assignments.csv`` (unit, base, calls, hours),
``territories.csv`` (one row per open base: reps, hours against capacity, sales) and ``sizing.csv``
(the plan's headcount, and one rep fewer or more with the same bases and coverage).
Sales and profit are always the true curves' values at the plan's calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.sizing.joint_data import JointInputs, spread_km, travel_hours
from optimizer.sizing.joint_solve import JointModel
from optimizer.sizing.recommendation import effort_column
from optimizer.sizing.tables import add_marginal

EPS = 1e-6


@dataclass(frozen=True)
class Plan:
    """A plan as arrays: calls per pair, the covering pair of each unit, reps per base."""

    calls: np.ndarray  # (pairs,)
    cover: np.ndarray  # (items,) pair index covering the unit
    reps: np.ndarray  # (bases,) int
    effort: np.ndarray  # (items,)

    @property
    def headcount(self) -> int:
        return int(self.reps.sum())


def plan_of(inputs: JointInputs, jm: JointModel, values: np.ndarray) -> Plan:
    """Read the plan from column values (effort clipped onto its bounds, within solver tolerance)."""
    data = inputs.data
    cover_value = values[jm.columns["Cover"]]
    calls = np.maximum(values[jm.columns["Calls"]], 0.0)
    order = np.lexsort((-cover_value, data.pair_unit))
    first = order[np.r_[True, np.diff(data.pair_unit[order]) != 0]]
    effort = np.clip(np.bincount(data.pair_unit, weights=calls, minlength=len(data.margin)), data.effort_lo,
                     data.effort_hi)
    return Plan(calls=calls, cover=first, reps=np.round(values[jm.columns["Reps"]]).astype(int), effort=effort)


def profit_of(inputs: JointInputs, plan: Plan) -> dict:
    """Revenue, contribution, cost and profit under the true curves."""
    sales = np.array([float(c.value(x)) for c, x in zip(inputs.curves, plan.effort)])
    contribution = float((inputs.data.margin * sales).sum())
    bases_open = int((plan.reps > 0).sum())
    cost = inputs.data.rep_cost * plan.headcount + inputs.data.base_cost * bases_open
    return {"sales": sales, "revenue": float(sales.sum()), "contribution": contribution, "cost": cost,
            "profit": contribution - cost}


def assignment_table(inputs: JointInputs, plan: Plan) -> pd.DataFrame:
    """One row per unit: its base (territory), calls, hours with travel, distance and sales."""
    data, p = inputs.data, plan.cover
    units = inputs.units.frame.iloc[inputs.items]
    spread = spread_km(inputs.units, inputs.items)
    km = inputs.distance_km[data.pair_unit[p], data.pair_base[p]]
    travel = travel_hours(km, spread, inputs.scenario.travel) * plan.effort
    table = pd.DataFrame({
        "unit_id": units["unit_id"].to_numpy(),
        "territory_id": inputs.bases["territory_id"].to_numpy()[data.pair_base[p]],
        "share": 1.0, "name": units["name"].to_numpy(),
        "segment_id": [inputs.scenario.segments[k].id for k in inputs.segment_of],
        "accounts": inputs.accounts, "calls": plan.effort, "calls_per_account": plan.effort / inputs.accounts,
        "hours": plan.effort * inputs.call_hours + travel, "travel_hours": travel, "distance_km": km,
        "sales": profit_of(inputs, plan)["sales"]})
    return table.sort_values("unit_id", kind="stable").reset_index(drop=True)


def territory_table(inputs: JointInputs, plan: Plan, assignments: pd.DataFrame) -> pd.DataFrame:
    """One row per open base, in base order, with hours used against the reps' capacity."""
    bases = inputs.bases.assign(reps=plan.reps)
    bases = bases[bases["reps"] > 0].drop(columns=["population"])
    grouped = assignments.groupby("territory_id")
    sums = grouped[["calls", "hours", "travel_hours", "accounts", "sales"]].sum()
    frame = bases.merge(sums, left_on="territory_id", right_index=True, how="left").fillna(0.0)
    frame["units"] = frame["territory_id"].map(grouped.size()).fillna(0).astype(int)
    frame["workload"] = frame["hours"]
    frame["capacity_hours"] = frame["reps"] * inputs.data.rep_hours
    frame["deviation_pct"] = 100.0 * (frame["hours"] / frame["capacity_hours"] - 1.0)
    weighted = (assignments["calls"] * assignments["distance_km"]).groupby(assignments["territory_id"]).sum()
    frame["weighted_distance_km"] = (frame["territory_id"].map(weighted) / frame["calls"].where(frame["calls"] > 0)
                                     ).fillna(0.0)
    frame["contribution"] = _contribution(inputs, assignments, frame)
    return frame.reset_index(drop=True)


def _contribution(inputs: JointInputs, assignments: pd.DataFrame, frame: pd.DataFrame) -> pd.Series:
    margin = pd.Series(inputs.data.margin, index=inputs.units.ids[inputs.items])
    value = assignments["sales"] * margin.reindex(assignments["unit_id"]).to_numpy()
    return frame["territory_id"].map(value.groupby(assignments["territory_id"]).sum()).fillna(0.0)


def sizing_row(inputs: JointInputs, plan: Plan, basis: str, upper: float, model_profit: float) -> dict:
    """One ``sizing.csv`` row for a plan."""
    value = profit_of(inputs, plan)
    hours = inputs.data.pair_hours * plan.calls
    row = {"headcount": plan.headcount, "basis": basis, "profit": value["profit"], "revenue": value["revenue"],
           "contribution": value["contribution"], "cost": value["cost"], "upper_bound": upper,
           "model_minus_true": model_profit - value["profit"], "hours_used": float(hours.sum()),
           "hours_available": inputs.data.rep_hours * plan.headcount, "bases": int((plan.reps > 0).sum())}
    for k, segment in enumerate(inputs.scenario.segments):
        row[effort_column(segment.id)] = float(plan.effort[inputs.segment_of == k].sum())
    return row


def sizing_table(rows: list[dict]) -> pd.DataFrame:
    """Rows sorted by headcount, with the marginal profit of the last rep and its proven range."""
    table = pd.DataFrame(rows).sort_values("headcount").reset_index(drop=True)
    add_marginal(table)
    return table

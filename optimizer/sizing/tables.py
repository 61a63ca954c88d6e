"""Tidy tables of a sizing run: ``sizing.csv`` (one row per headcount) and ``segments.csv`` (the
recommended headcount's effort per segment). Profit, revenue and cost are always the *true* curves'
values at the chosen efforts; the model's own (linearised) profit only appears as ``model_minus_true``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.sizing import SizingData
from optimizer.sizing.curve import CurvePoint, relative, true_profit
from optimizer.sizing.recommendation import Recommendation, effort_column
from optimizer.sizing.data import SegmentTable


def curve_table(points: list[CurvePoint], segments: SegmentTable, data: SizingData,
                before: CurvePoint | None) -> pd.DataFrame:
    """One row per solved headcount; ``before`` (headcount one below the first) feeds the first marginal."""
    curves = [s.curve for s in segments.segments]
    rows = []
    for point in points:
        if not point.status.has_plan:
            continue
        value = true_profit(point.effort, curves, data.margin, data.rep_cost, point.headcount)
        row = {"headcount": point.headcount, "status": point.status.value, "profit": value["profit"],
               "revenue": value["revenue"], "contribution": value["contribution"], "cost": value["cost"],
               "upper_bound": point.upper, "gap": relative(point.upper, value["profit"]),
               "model_minus_true": point.model_profit - value["profit"],
               "hours_used": float(np.dot(data.hours, point.effort)),
               "hours_available": data.rep_hours * point.headcount}
        row |= {effort_column(s.id): float(x) for s, x in zip(segments.segments, point.effort)}
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty:
        previous = (_profit_of(before, curves, data), before.upper) if before is not None else (np.nan, np.nan)
        add_marginal(table, *previous)
    return table


def add_marginal(table: pd.DataFrame, profit_before: float = np.nan, upper_before: float = np.nan) -> None:
    """Insert the marginal profit of the last rep and the range the true marginal is proven to lie in.

    With ``P`` the true profit of a plan and ``U`` the bound at each headcount, the best profit at ``n``
    minus the best at ``n - 1`` lies in ``[P(n) - U(n-1), U(n) - P(n-1)]``. Rows whose headcount is
    not one above the previous row's (or whose previous headcount has no plan) get no marginal.
    """
    n = table["headcount"].to_numpy()
    profit, upper = table["profit"].to_numpy(float), table["upper_bound"].to_numpy(float)
    prev_profit = np.r_[profit_before, profit[:-1]]
    prev_upper = np.r_[upper_before, upper[:-1]]
    follows = np.r_[True, np.diff(n) == 1]
    position = table.columns.get_loc("cost") + 1
    for offset, (name, values) in enumerate((("marginal_profit", profit - prev_profit),
                                             ("marginal_low", profit - prev_upper),
                                             ("marginal_high", upper - prev_profit))):
        table.insert(position + offset, name, np.where(follows & np.isfinite(values), values, np.nan))


def _profit_of(point: CurvePoint, curves: list, data: SizingData) -> float:
    if not point.status.has_plan:
        return np.nan
    return true_profit(point.effort, curves, data.margin, data.rep_cost, point.headcount)["profit"]


def recommend(table: pd.DataFrame, share: float) -> Recommendation:
    """The headcount of highest true profit (the smallest on ties) and those within ``share`` of it."""
    best = table.loc[table["profit"].idxmax()]
    floor = float(best["profit"]) - share * abs(float(best["profit"]))
    near = table.loc[table["profit"] >= floor - 1e-9, "headcount"].astype(int)
    return Recommendation(int(best["headcount"]), float(best["profit"]), tuple(sorted(near)), share)


def segment_table(table: pd.DataFrame, segments: SegmentTable, data: SizingData, headcount: int) -> pd.DataFrame:
    """Effort, sales and contribution per segment at ``headcount``, with each curve's linearisation error."""
    row = table.set_index("headcount").loc[headcount]
    records = []
    for k, s in enumerate(segments.segments):
        effort = float(row[effort_column(s.id)])
        sales = float(s.curve.value(effort))
        per_hour = float(s.margin * s.curve.slope(max(effort, 1e-9))) / s.hours
        records.append({
            "segment_id": s.id, "name": s.name, "units": len(s.unit_ids), "accounts": s.accounts,
            "effort": effort, "effort_min": s.lo, "effort_max": s.hi,
            "effort_per_account": effort / s.accounts if s.accounts else np.nan, "hours": effort * s.hours,
            "sales": sales, "margin": s.margin, "contribution": s.margin * sales,
            "marginal_contribution_per_hour": per_hour, "curve": s.curve_type, "concave": s.concave,
            "envelope_cuts": data.envelopes[k].cuts, "envelope_pieces": len(data.envelopes[k].pieces),
            "linearisation_error": s.margin * data.envelopes[k].error,
            "fit_r2": s.fit.r2 if s.fit else np.nan})
    return pd.DataFrame(records)

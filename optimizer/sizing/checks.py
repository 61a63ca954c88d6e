"""Independent checks of a written sizing curve.

They read ``sizing.csv`` and ``segments.csv`` back and verify them with the *true* response curves and
the scenario's numbers, never with the model or its envelopes: efforts inside their ranges, capacity
and budget held, profit recomputed from the curves, marginal profits, bounds, the recommendation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.core.checks import CheckReport
from optimizer.sizing.data import SegmentData
from optimizer.sizing.recommendation import effort_column
from optimizer.core.safe_csv import read_table

REL = 1e-6


@dataclass(frozen=True)
class SizingRules:
    """What every row must satisfy, in the scenario's terms."""

    segments: tuple[SegmentData, ...]
    rep_hours: float
    rep_cost: float
    budget: float | None
    headcount_lo: int
    headcount_hi: int
    error_bound: float
    near_best: float


def check_sizing(folder: Path, rules: SizingRules, recommended: int, near_range: tuple[int, int]) -> CheckReport:
    """Check the curve in ``folder``; a solved run raises on any failure."""
    table = read_table(folder / "sizing.csv")
    report = CheckReport()
    report.record("headcounts in range, each once", _headcounts(table, rules))
    report.record("effort within min and max", _effort_ranges(table, rules))
    report.record("capacity held", _capacity(table, rules))
    report.record("budget held", _budget(table, rules))
    report.record("profit recomputed from the true curves", _profit(table, rules))
    report.record("marginal profit of the last rep", _marginal(table))
    report.record("bound and linearisation error", _bounds(table, rules))
    report.record("recommended headcount and near-best range", _recommendation(table, rules, recommended, near_range))
    segments = read_table(folder / "segments.csv", dtype={"segment_id": str})
    report.record("segments.csv matches the recommended row", _segments(segments, table, rules, recommended))
    return report


def _tol(value: float) -> float:
    return REL * max(1.0, abs(value))


def _headcounts(table: pd.DataFrame, rules: SizingRules) -> list[str]:
    n = table["headcount"]
    problems = [] if n.is_unique else ["a headcount is listed twice"]
    outside = n[(n < rules.headcount_lo) | (n > rules.headcount_hi)]
    return problems + [f"headcount {h} is outside {rules.headcount_lo}-{rules.headcount_hi}" for h in outside]


def _effort_ranges(table: pd.DataFrame, rules: SizingRules) -> list[str]:
    problems = []
    for s in rules.segments:
        x = table[effort_column(s.id)]
        bad = table.loc[(x < s.lo - _tol(s.lo)) | (x > s.hi + _tol(s.hi)), "headcount"]
        problems += [f"{s.id} at headcount {h}: effort outside [{s.lo:g}, {s.hi:g}]" for h in bad]
    return problems


def _hours(table: pd.DataFrame, rules: SizingRules) -> np.ndarray:
    return sum(s.hours * table[effort_column(s.id)].to_numpy(float) for s in rules.segments)


def _capacity(table: pd.DataFrame, rules: SizingRules) -> list[str]:
    used, available = _hours(table, rules), rules.rep_hours * table["headcount"].to_numpy(float)
    bad = np.flatnonzero(used > available + REL * np.maximum(1.0, available))
    problems = [f"headcount {table['headcount'].iat[i]} uses {used[i]:,.1f} of {available[i]:,.1f} hours" for i in bad]
    if not np.allclose(table["hours_used"], used, rtol=REL, atol=1e-6):
        problems.append("hours_used does not match the efforts")
    return problems


def _budget(table: pd.DataFrame, rules: SizingRules) -> list[str]:
    if rules.budget is None:
        return []
    cost = rules.rep_cost * table["headcount"]
    return [f"headcount {h} costs more than the budget" for h in table.loc[cost > rules.budget + _tol(rules.budget),
                                                                          "headcount"]]


def _profit(table: pd.DataFrame, rules: SizingRules) -> list[str]:
    sales = np.column_stack([s.curve.value(table[effort_column(s.id)].to_numpy(float)) for s in rules.segments])
    margin = np.array([s.margin for s in rules.segments])
    recomputed = {"revenue": sales.sum(axis=1), "contribution": sales @ margin,
                  "cost": rules.rep_cost * table["headcount"].to_numpy(float)}
    recomputed["profit"] = recomputed["contribution"] - recomputed["cost"]
    problems = []
    for column, values in recomputed.items():
        off = ~np.isclose(table[column].to_numpy(float), values, rtol=REL, atol=1e-6)
        problems += [f"{column} at headcount {table['headcount'].iat[i]} is {table[column].iat[i]:,.2f}, "
                     f"recomputed {values[i]:,.2f}" for i in np.flatnonzero(off)]
    return problems


def _marginal(table: pd.DataFrame) -> list[str]:
    n, profit, marginal = (table[c].to_numpy(float) for c in ("headcount", "profit", "marginal_profit"))
    consecutive = np.flatnonzero(np.diff(n) == 1) + 1
    scale = REL * np.maximum(1.0, np.abs(profit[consecutive]))  # the CSV keeps 10 significant digits
    off = np.abs(marginal[consecutive] - np.diff(profit)[consecutive - 1]) > scale
    problems = [f"marginal profit at headcount {int(n[i])} is not the profit difference" for i in consecutive[off]]
    low, high = table["marginal_low"].to_numpy(float), table["marginal_high"].to_numpy(float)
    outside = np.flatnonzero((marginal < low - scale_all(profit)) | (marginal > high + scale_all(profit)))
    return problems + [f"marginal profit at headcount {int(n[i])} lies outside its proven range" for i in outside]


def scale_all(profit: np.ndarray) -> np.ndarray:
    return REL * np.maximum(1.0, np.abs(profit))


def _bounds(table: pd.DataFrame, rules: SizingRules) -> list[str]:
    problems = [f"upper bound below the profit at headcount {h}"
                for h in table.loc[table["upper_bound"] < table["profit"] - table["profit"].abs().map(_tol),
                                   "headcount"]]
    over = table["model_minus_true"]
    tol = _tol(rules.error_bound)
    bad = table.loc[(over < -tol) | (over > rules.error_bound + tol), "headcount"]
    return problems + [f"model profit differs from the true profit by more than the error bound "
                       f"{rules.error_bound:,.2f} at headcount {h}" for h in bad]


def _recommendation(table: pd.DataFrame, rules: SizingRules, recommended: int, near: tuple[int, int]) -> list[str]:
    best = table["profit"].max()
    problems = []
    if table.set_index("headcount").loc[recommended, "profit"] < best - _tol(best):
        problems.append(f"headcount {recommended} is not the most profitable")
    within = table.loc[table["profit"] >= best - rules.near_best * abs(best) - _tol(best), "headcount"]
    if (int(within.min()), int(within.max())) != tuple(near):
        problems.append(f"near-best range {near} but the table gives {int(within.min())}-{int(within.max())}")
    return problems


def _segments(segments: pd.DataFrame, table: pd.DataFrame, rules: SizingRules, recommended: int) -> list[str]:
    row = table.set_index("headcount").loc[recommended]
    if list(segments["segment_id"]) != [s.id for s in rules.segments]:
        return ["segments.csv does not list the scenario's segments in order"]
    problems = []
    for s, effort, sales in zip(rules.segments, segments["effort"], segments["sales"]):
        if not np.isclose(effort, row[effort_column(s.id)], rtol=REL, atol=1e-6):
            problems.append(f"{s.id}: effort differs from sizing.csv")
        if not np.isclose(sales, float(s.curve.value(effort)), rtol=REL, atol=1e-6):
            problems.append(f"{s.id}: sales are not the curve's value at the effort")
    return problems

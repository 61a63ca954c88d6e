"""Tidy result tables keyed by ids: what the outputs, checks and map are built from.

``assignments``: one row per account, ``account_id, rep_id`` first (``rep_id`` blank: uncovered).
``territories``: one row per rep: capacity, hours used and spare, utilisation, accounts, value, travel.
``moves``: one row per account whose rep changed (to another rep, or to none).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.accounts.data import AccountTable, RepTable
from optimizer.accounts.problem import AccountProblem


def assignment_table(accounts: AccountTable, reps: RepTable, problem: AccountProblem, minutes: np.ndarray,
                     rep_of: np.ndarray) -> pd.DataFrame:
    """One row per account in file order; figures are for the assigned rep (0 when uncovered)."""
    a = accounts.frame
    index = np.arange(len(a))
    covered = rep_of >= 0
    at = np.where(covered, rep_of, 0)

    def pick(grid: np.ndarray) -> np.ndarray:
        return np.where(covered, grid[index, at], 0.0)

    rep_id = np.where(covered, reps.ids[at], "")
    return pd.DataFrame({
        "account_id": a["account_id"], "rep_id": rep_id, "name": a["name"], "segment": a["segment"],
        "value": a["value"], "calls_per_year": a["calls_per_year"], "call_hours": a["call_hours"],
        "travel_minutes": np.round(pick(minutes), 3), "hours": pick(problem.hours),
        "travel_hours": pick(problem.travel_hours), "travel_cost": pick(problem.travel_cost),
        "current_rep": a["current_rep"], "moved": (a["current_rep"] != "").to_numpy() & (a["current_rep"] != rep_id),
        "locked": problem.locked, "family": a["family"], "lat": a["lat"], "lon": a["lon"],
    })


def territory_table(reps: RepTable, assignments: pd.DataFrame) -> pd.DataFrame:
    """One row per rep in roster order, with hours used and spare and the deviation from the average."""
    frame = reps.frame.rename(columns={"lat": "base_lat", "lon": "base_lon"})
    frame = frame[["rep_id", "name", "base_city", "base_lat", "base_lon", "capacity_hours"]].copy()
    covered = assignments[assignments["rep_id"] != ""]
    sums = covered.groupby("rep_id").agg(accounts=("account_id", "size"), value=("value", "sum"),
                                         hours_used=("hours", "sum"), travel_hours=("travel_hours", "sum"),
                                         travel_cost=("travel_cost", "sum"))
    frame = frame.join(sums, on="rep_id").fillna({"accounts": 0, "value": 0.0, "hours_used": 0.0,
                                                  "travel_hours": 0.0, "travel_cost": 0.0})
    frame["accounts"] = frame["accounts"].astype(int)
    frame["spare_hours"] = frame["capacity_hours"] - frame["hours_used"]
    frame["utilization"] = frame["hours_used"] / frame["capacity_hours"]
    average = frame["hours_used"].sum() / frame["capacity_hours"].sum()
    frame["deviation_pct"] = 100.0 * (frame["utilization"] / average - 1.0) if average > 0 else 0.0
    moved = assignments[assignments["moved"]]
    frame["moved_in"] = frame["rep_id"].map(moved["rep_id"].value_counts()).fillna(0).astype(int)
    frame["moved_out"] = frame["rep_id"].map(moved["current_rep"].value_counts()).fillna(0).astype(int)
    columns = ["rep_id", "name", "base_city", "base_lat", "base_lon", "capacity_hours", "hours_used", "spare_hours",
               "utilization", "deviation_pct", "accounts", "value", "travel_hours", "travel_cost", "moved_in",
               "moved_out"]
    return frame[columns].reset_index(drop=True)


def move_table(assignments: pd.DataFrame, excluded: tuple[str, ...]) -> pd.DataFrame:
    """Accounts whose rep changed, with why (their rep left, they were reassigned, or left uncovered)."""
    moved = assignments[assignments["moved"]]
    reason = np.where(moved["rep_id"] == "", "uncovered",
                      np.where(moved["current_rep"].isin(excluded), "rep excluded", "reassigned"))
    return pd.DataFrame({"account_id": moved["account_id"], "from_rep": moved["current_rep"],
                         "to_rep": moved["rep_id"], "value": moved["value"], "reason": reason}).reset_index(drop=True)

"""Tidy result tables keyed by ids: what the outputs, checks and maps are built from.

``assignments``: ``unit_id, territory_id, share`` (a shared unit has one row per territory).
``territories``: one row per territory with its base, unit count, workload, deviation from the target,
each measure's share-weighted total and the workload-weighted mean distance to the base.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.areas.bases import BaseTable
from optimizer.areas.units import UnitTable


def assignment_table(units: UnitTable, bases: BaseTable, unit_index: np.ndarray, territory_index: np.ndarray,
                     share: np.ndarray) -> pd.DataFrame:
    """Rows sorted by unit id then territory id."""
    table = pd.DataFrame({
        "unit_id": units.ids[unit_index],
        "territory_id": bases.ids[territory_index],
        "share": np.round(share, 9),
    })
    return table.sort_values(["unit_id", "territory_id"], kind="stable").reset_index(drop=True)


def territory_table(units: UnitTable, bases: BaseTable, assignments: pd.DataFrame, distance_km: np.ndarray,
                    target: float) -> pd.DataFrame:
    """One row per territory, in base order; ``distance_km`` is units x territories."""
    unit_pos = pd.Series(np.arange(len(units)), index=units.ids)
    terr_pos = pd.Series(np.arange(len(bases)), index=bases.ids)
    u = unit_pos[assignments["unit_id"]].to_numpy()
    t = terr_pos[assignments["territory_id"]].to_numpy()
    share = assignments["share"].to_numpy(dtype=float)
    k = len(bases)
    workload = np.bincount(t, weights=units.workload[u] * share, minlength=k)
    travel = np.bincount(t, weights=units.workload[u] * share * distance_km[u, t], minlength=k)
    frame = bases.frame[["territory_id", "base_unit_id", "base_name", "base_lat", "base_lon"]].copy()
    frame["units"] = np.bincount(t, minlength=k)
    frame["shared_units"] = np.bincount(t, weights=(share < 1).astype(float), minlength=k).astype(int)
    frame["workload"] = workload
    frame["deviation_pct"] = 100.0 * (workload / target - 1.0)
    for measure in units.measures:
        values = units.frame[measure].to_numpy(dtype=float)
        frame[measure] = np.bincount(t, weights=values[u] * share, minlength=k)
    frame["weighted_distance_km"] = np.divide(travel, workload, out=np.zeros(k), where=workload > 0)
    return frame.reset_index(drop=True)


def moves_table(assignments: pd.DataFrame, current: pd.DataFrame, units: UnitTable,
                measure: str | None) -> pd.DataFrame:
    """Units whose territory changed from today's plan: ``unit_id, from_territory, to_territory, moved_share,
    moved`` (the moved part of ``measure``, default the workload index) and ``workload``."""
    before = current.set_index("unit_id")["territory_id"]
    frame = assignments.assign(before=before.reindex(assignments["unit_id"]).fillna("").to_numpy())
    kept = frame[frame["territory_id"] == frame["before"]].groupby("unit_id")["share"].sum()
    moved_share = 1.0 - kept.reindex(frame["unit_id"].unique(), fill_value=0.0)
    moved_share = moved_share[moved_share > 1e-6]
    values = units.frame.set_index("unit_id")[measure or "workload"]
    workload = units.frame.set_index("unit_id")["workload"]
    targets = frame[frame["territory_id"] != frame["before"]].groupby("unit_id")["territory_id"].agg(";".join)
    return pd.DataFrame({
        "unit_id": moved_share.index,
        "from_territory": before.reindex(moved_share.index).fillna("").to_numpy(),
        "to_territory": targets.reindex(moved_share.index).to_numpy(),
        "moved_share": moved_share.to_numpy(),
        "moved": moved_share.to_numpy() * values.reindex(moved_share.index).to_numpy(),
        "workload": moved_share.to_numpy() * workload.reindex(moved_share.index).to_numpy(),
    }).reset_index(drop=True)

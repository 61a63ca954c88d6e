"""Today's plan for a realignment: reading it, and the bases it implies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.core.errors import InputError
from optimizer.areas.units import UnitTable
from optimizer.core.input_files import require_file
from optimizer.core.safe_csv import restore


def read_current_plan(path: Path, units: UnitTable) -> pd.DataFrame:
    """``unit_id, territory_id`` of today's plan, one row per unit; units missing from it are white space.

    Raises
    ------
    InputError
        For a missing file or column, an empty or unknown unit id, or a unit listed twice.
    """
    where = f"realignment.current_plan {path}"
    require_file(path, where, "file not found", "the path is relative to the scenario file", (".csv",))
    try:
        plan = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(where, f"cannot be read as CSV ({str(exc).splitlines()[0]})", "save it as CSV") from None
    missing = [c for c in ("unit_id", "territory_id") if c not in plan.columns]
    if missing:
        raise InputError(where, f"no column {', '.join(missing)}", "the file needs unit_id,territory_id columns")
    plan = plan[["unit_id", "territory_id"]].apply(lambda col: col.str.strip().map(restore))
    _refuse_bad_rows(plan, set(units.ids), where)
    return plan.reset_index(drop=True)


def _refuse_bad_rows(plan: pd.DataFrame, known: set[str], where: str) -> None:
    empty = plan[(plan["unit_id"] == "") | (plan["territory_id"] == "")]
    if not empty.empty:
        rows = ", ".join(str(i + 2) for i in empty.index[:5])
        raise InputError(where, f"empty unit_id or territory_id in rows {rows}", "fill them or delete the rows")
    unknown = plan[~plan["unit_id"].isin(known)]
    if not unknown.empty:
        listed = ", ".join(f"{u} (row {i + 2})" for i, u in unknown["unit_id"].head(5).items())
        raise InputError(where, f"{len(unknown)} unit ids are not among the scenario's units: {listed}",
                         "check for dropped leading zeros or units outside units.include")
    twice = plan[plan["unit_id"].duplicated(keep=False)]
    if not twice.empty:
        raise InputError(where, f"unit {twice['unit_id'].iloc[0]} is listed more than once",
                         "a current plan gives each unit one territory")


def current_owner(plan: pd.DataFrame, units: UnitTable, territory_ids: np.ndarray) -> np.ndarray:
    """Index of each unit's current territory among ``territory_ids`` (-1: white space or a dropped territory)."""
    position = {tid: k for k, tid in enumerate(territory_ids)}
    by_unit = dict(zip(plan["unit_id"], plan["territory_id"]))
    return np.array([position.get(by_unit.get(uid, ""), -1) for uid in units.ids])


def territory_medoids(plan: pd.DataFrame, units: UnitTable) -> dict[str, int]:
    """Per current territory, the unit minimising the workload-weighted distance to its other units."""
    index = {uid: i for i, uid in enumerate(units.ids)}
    xy, load = units.xy / 1000.0, units.workload
    medoids = {}
    for tid, group in plan.groupby("territory_id", sort=True):
        members = np.array([index[u] for u in group["unit_id"]])
        dist = np.sqrt(((xy[members][:, None, :] - xy[members][None, :, :]) ** 2).sum(axis=2))
        medoids[tid] = int(members[np.argmin(dist @ load[members])])
    return medoids

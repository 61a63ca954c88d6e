"""One-way travel minutes from each rep's base to each account.

By default: great-circle distance x road factor / speed. A user table ``from_id,to_id,minutes`` (rep to
account, one way) takes precedence pair by pair; its unknown ids, repeated pairs and bad minutes are
refused, and the pairs it lacks are either estimated (and counted) or refused, as the scenario says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.accounts.data import AccountTable, RepTable
from optimizer.accounts.readers import number_column, require_columns, row_label
from optimizer.accounts.schema import Travel
from optimizer.core.errors import InputError
from optimizer.core.input_files import require_file

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class TravelTimes:
    """Minutes (accounts x reps), which entries came from the table, and what to tell the user."""

    minutes: np.ndarray
    from_table: np.ndarray  # bool, same shape
    notes: tuple[str, ...]


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2) - np.radians(lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def estimated_minutes(accounts: AccountTable, reps: RepTable, travel: Travel) -> np.ndarray:
    """Great-circle estimate for every (account, rep)."""
    a, r = accounts.frame, reps.frame
    km = haversine_km(a["lat"].to_numpy()[:, None], a["lon"].to_numpy()[:, None],
                      r["lat"].to_numpy()[None, :], r["lon"].to_numpy()[None, :])
    return km * travel.road_factor / travel.speed_kmh * 60.0


def travel_times(accounts: AccountTable, reps: RepTable, travel: Travel, table_path: Path | None,
                 roster: set[str], needed: np.ndarray) -> TravelTimes:
    """Minutes for every pair; ``needed`` (accounts x reps, bool) marks pairs the table must cover."""
    minutes = estimated_minutes(accounts, reps, travel)
    given = np.zeros(minutes.shape, bool)
    if table_path is None:
        return TravelTimes(minutes, given, ())
    rows = read_travel_table(table_path, accounts, roster)
    rep_pos = pd.Series(np.arange(len(reps)), index=reps.ids)
    acc_pos = pd.Series(np.arange(len(accounts)), index=accounts.ids)
    active = rows[rows["from_id"].isin(rep_pos.index)]
    i, r = acc_pos[active["to_id"]].to_numpy(), rep_pos[active["from_id"]].to_numpy()
    minutes[i, r] = active["minutes"].to_numpy(float)
    given[i, r] = True
    missing = needed & ~given
    if missing.any() and travel.missing_pairs == "refuse":
        a, k = (int(v[0]) for v in np.nonzero(missing))
        raise InputError(str(table_path), f"no row for rep {reps.ids[k]} -> account {accounts.ids[a]} "
                         f"({int(missing.sum())} needed pairs missing)",
                         "add the rows, or set travel.missing_pairs: estimate")
    notes = [f"travel table {table_path.name}: {int(given.sum()):,} pairs used"]
    if missing.any():
        notes.append(f"{int(missing.sum()):,} rep-account pairs not in the travel table were estimated "
                     f"(great circle x {travel.road_factor} at {travel.speed_kmh} km/h)")
    return TravelTimes(minutes, given, tuple(notes))


def read_travel_table(path: Path, accounts: AccountTable, roster: set[str]) -> pd.DataFrame:
    """``from_id`` (rep), ``to_id`` (account), ``minutes``; every id known, every pair once."""
    require_file(path, str(path), "travel table not found", "check travel.table (relative to the accounts file)",
                 (".csv",))
    try:
        rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # noqa: BLE001 - pandas raises ParserError, UnicodeDecodeError, ...
        raise InputError(str(path), f"cannot be read as CSV ({str(exc).splitlines()[0][:150]})",
                         "save it as comma-separated UTF-8 with header from_id,to_id,minutes") from None
    rows.columns = [str(c).strip() for c in rows.columns]
    require_columns(rows, ["from_id", "to_id", "minutes"], path)
    rows = rows.assign(from_id=rows["from_id"].str.strip(), to_id=rows["to_id"].str.strip())
    rows["minutes"] = number_column(rows, "minutes", path, low=0)
    account_ids = set(accounts.ids)
    for column, known, kind in (("from_id", roster, "rep"), ("to_id", account_ids, "account")):
        bad = np.flatnonzero(~rows[column].isin(known).to_numpy())
        if bad.size:
            value = rows[column].iloc[int(bad[0])]
            swapped = " (it is an account id: from_id is the rep)" if value in account_ids and kind == "rep" else ""
            raise InputError(f"{path} {row_label(rows, int(bad[0]))}",
                             f"`{column}` {value} is not a known {kind}{swapped} ({bad.size} row(s) with unknown ids)",
                             f"{column} must be a {kind} id of the scenario; fix or drop those rows")
    repeated = np.flatnonzero(rows.duplicated(["from_id", "to_id"]).to_numpy())
    if repeated.size:
        row = rows.iloc[int(repeated[0])]
        raise InputError(f"{path} {row_label(rows, int(repeated[0]))}",
                         f"pair {row['from_id']} -> {row['to_id']} is listed twice", "keep one row per pair")
    return rows

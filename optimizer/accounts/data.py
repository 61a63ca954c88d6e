"""The account list and the rep roster of one scenario, read and cross-checked.

Accounts: ``account_id, lat, lon, segment, value, calls_per_year, call_hours`` and optionally ``name``,
``current_rep`` (blank: no rep today) and ``parent_id`` (blank: no family). Reps: ``rep_id, lat, lon,
capacity_hours, segments`` (``;``-separated, ``*`` for all) and optionally ``name``, ``base_city``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.accounts.readers import number_column, read_points, require_columns, row_label, text_ids
from optimizer.accounts.schema import AccountsScenario
from optimizer.core.errors import InputError

ACCOUNT_COLUMNS = ("account_id", "segment", "value", "calls_per_year", "call_hours")
REP_COLUMNS = ("rep_id", "capacity_hours", "segments")
ALL_SEGMENTS = "*"


@dataclass(frozen=True)
class AccountTable:
    """Accounts in file order: ids, location, segment, value, calls, current rep, family."""

    frame: pd.DataFrame  # account_id, name, lat, lon, segment, value, calls_per_year, call_hours,
    #                      current_rep ('' = none), parent_id ('' = none), family (id of the family's root)
    source: Path

    @property
    def ids(self) -> np.ndarray:
        return self.frame["account_id"].to_numpy()

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class RepTable:
    """Reps taking part (excluded reps removed), in file order."""

    frame: pd.DataFrame  # rep_id, name, base_city, lat, lon, capacity_hours, segments (frozenset)
    excluded: tuple[str, ...]
    source: Path

    @property
    def ids(self) -> np.ndarray:
        return self.frame["rep_id"].to_numpy()

    def __len__(self) -> int:
        return len(self.frame)


def load_inputs(scenario: AccountsScenario) -> tuple[AccountTable, RepTable, set[str]]:
    """Read both tables and check that they refer to each other; also every rep id of the roster."""
    reps, roster = load_reps(scenario)
    accounts = load_accounts(scenario, roster)
    return accounts, reps, roster


def load_reps(scenario: AccountsScenario) -> tuple[RepTable, set[str]]:
    """The reps taking part, and every rep id of the roster (excluded ones included)."""
    path = scenario.data_path(scenario.reps.dataset)
    raw = read_points(path, scenario.reps.layer, scenario.units.crs, "rep")
    require_columns(raw, list(REP_COLUMNS), path)
    ids = text_ids(raw, "rep_id", path)
    frame = pd.DataFrame({
        "rep_id": ids,
        "name": _optional_text(raw, "name", ids),
        "base_city": _optional_text(raw, "base_city", pd.Series([""] * len(raw))),
        "lat": raw["lat"].to_numpy(float), "lon": raw["lon"].to_numpy(float),
        "capacity_hours": number_column(raw, "capacity_hours", path, id_column="rep_id", low=0, positive=True),
        "segments": [_segments(raw, k, path) for k in range(len(raw))],
    })
    unknown = sorted(set(scenario.reps.exclude) - set(ids))
    if unknown:
        raise InputError("reps.exclude", f"rep {unknown[0]} is not in {path.name}", "list rep ids from the roster")
    keep = ~frame["rep_id"].isin(scenario.reps.exclude)
    if not keep.any():
        raise InputError("reps.exclude", "every rep is excluded", "keep at least one rep")
    table = RepTable(frame=frame[keep].reset_index(drop=True), excluded=tuple(scenario.reps.exclude), source=path)
    return table, set(ids)


def _segments(raw: pd.DataFrame, k: int, path: Path) -> frozenset[str]:
    items = frozenset(s.strip() for s in str(raw["segments"].iloc[k]).split(";") if s.strip())
    if not items:
        raise InputError(f"{path} {row_label(raw, k, 'rep_id')}", "`segments` is empty",
                         "list the segments the rep serves, separated by `;`, or `*` for all")
    return items


def _optional_text(raw: pd.DataFrame, column: str, default: pd.Series) -> pd.Series:
    if column not in raw.columns:
        return default.reset_index(drop=True)
    text = raw[column].astype(str).str.strip()
    return text.where(text != "", default.reset_index(drop=True))


def load_accounts(scenario: AccountsScenario, roster: set[str]) -> AccountTable:
    """Read the accounts; refuse unknown current reps and parents, and family cycles."""
    path = scenario.units.dataset
    raw = read_points(path, scenario.units.layer, scenario.units.crs, "account")
    require_columns(raw, list(ACCOUNT_COLUMNS), path)
    ids = text_ids(raw, "account_id", path)
    raw = raw.assign(account_id=ids)
    frame = pd.DataFrame({
        "account_id": ids, "name": _optional_text(raw, "name", ids),
        "lat": raw["lat"].to_numpy(float), "lon": raw["lon"].to_numpy(float),
        "segment": _required_text(raw, "segment", path),
        "value": number_column(raw, "value", path, id_column="account_id", low=0),
        "calls_per_year": number_column(raw, "calls_per_year", path, id_column="account_id", low=0),
        "call_hours": number_column(raw, "call_hours", path, id_column="account_id", low=0),
        "current_rep": _optional_text(raw, "current_rep", pd.Series([""] * len(raw))),
        "parent_id": _optional_text(raw, "parent_id", pd.Series([""] * len(raw))),
    })
    _refuse_unknown(frame, raw, "current_rep", roster, path,
                    "use a rep_id of the roster, or leave it blank for an account without a rep today")
    _refuse_unknown(frame, raw, "parent_id", set(ids), path, "use an account_id of this file, or leave it blank")
    frame["family"] = _family_roots(frame, raw, path)
    return AccountTable(frame=frame, source=path)


def _required_text(raw: pd.DataFrame, column: str, path: Path) -> pd.Series:
    text = raw[column].astype(str).str.strip()
    empty = np.flatnonzero((text == "").to_numpy())
    if empty.size:
        raise InputError(f"{path} {row_label(raw, int(empty[0]), 'account_id')}", f"empty `{column}`",
                         f"fill in `{column}` for every row")
    return text


def _refuse_unknown(frame: pd.DataFrame, raw: pd.DataFrame, column: str, known: set[str], path: Path,
                    fix: str) -> None:
    values = frame[column]
    bad = np.flatnonzero(((values != "") & ~values.isin(known)).to_numpy())
    if bad.size:
        first = int(bad[0])
        more = f" ({bad.size} rows in all)" if bad.size > 1 else ""
        target = "the rep roster" if column == "current_rep" else "the account list"
        raise InputError(f"{path} {row_label(raw, first, 'account_id')}",
                         f"`{column}` {values.iloc[first]} is not in {target}{more}", fix)


def _family_roots(frame: pd.DataFrame, raw: pd.DataFrame, path: Path) -> pd.Series:
    """Each account's family root: follow ``parent_id`` to an account without a parent."""
    parent = dict(zip(frame["account_id"], frame["parent_id"]))
    roots = []
    for position, account in enumerate(frame["account_id"]):
        seen, node = {account}, account
        while parent[node]:
            node = parent[node]
            if node in seen:
                raise InputError(f"{path} {row_label(raw, position, 'account_id')}",
                                 f"`parent_id` chain of {account} loops back to {node}",
                                 "a family needs one root account without a parent")
            seen.add(node)
        roots.append(node)
    return pd.Series(roots, index=frame.index)

"""The numbers of a comparison: spread, travel, what moved from the base, and which limits bound.

All metrics are computed from the run folders' tidy tables (``assignments``, ``territories``), never from
a model. Plans are compared on the base's units, which every entry must share.

**What moved.** Territory ids are positions (``T01`` is the northernmost base), so a what-if with another
headcount reuses ids for other reps. Each what-if territory is therefore matched to at most one base
territory by the largest workload they share (a one-to-one assignment, ``linear_sum_assignment``); a
what-if territory left unmatched is new. A unit's moved fraction is the part of its shares that does not
stay with its matched territory; a unit moved if that fraction is above zero, and the workload moved is
the sum of each unit's workload (the base scenario's index) times its moved fraction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

MOVED_EPS = 1e-6
EDGE_PP = 0.05  # a territory within 0.05 percentage points of a band edge is "at the edge"
LOWER_IS_BETTER = ("max_deviation_pct", "workload_cv", "weighted_travel_km", "units_moved",
                   "workload_moved_pct", "gap", "location_gap", "seconds")
AGAINST_BASE = ("units_moved", "workload_moved_pct")  # the base itself is not a candidate for these
SHOWN_DECIMALS = {"max_deviation_pct": 1, "workload_cv": 3, "weighted_travel_km": 1, "units_moved": 0,
                  "workload_moved_pct": 1, "gap": 4, "location_gap": 4, "seconds": 1}  # as the report shows them


@dataclass(frozen=True)
class Change:
    """What moved between the base plan and another plan, per unit of the base's order."""

    moved: np.ndarray  # (N,) fraction of each unit that changed territory, 0..1
    base_owner: np.ndarray  # (N,) index of the base territory with the largest share
    match: np.ndarray  # (K_other,) index of the matched base territory, -1 for a new territory


def share_matrix(assignments: pd.DataFrame, unit_ids: np.ndarray, territory_ids: np.ndarray) -> np.ndarray:
    """Units x territories matrix of shares (0 where a unit is not in a territory)."""
    u = pd.Index(unit_ids).get_indexer(assignments["unit_id"].astype(str))
    t = pd.Index(territory_ids).get_indexer(assignments["territory_id"].astype(str))
    if (u < 0).any() or (t < 0).any():
        raise ValueError("the assignments name units or territories that the comparison does not know")
    shares = np.zeros((len(unit_ids), len(territory_ids)))
    np.add.at(shares, (u, t), assignments["share"].to_numpy(float))
    return shares


def change_from_base(base: np.ndarray, other: np.ndarray, workload: np.ndarray) -> Change:
    """Match ``other``'s territories to ``base``'s by shared workload and measure what moved (see module doc)."""
    overlap = base.T @ (workload[:, None] * other)  # K_base x K_other
    rows, cols = linear_sum_assignment(-overlap)
    match = np.full(other.shape[1], -1)
    keep = overlap[rows, cols] > 0
    match[cols[keep]] = rows[keep]
    stays = np.zeros(len(workload))
    for col in np.flatnonzero(match >= 0):
        stays += np.minimum(base[:, match[col]], other[:, col])
    moved = np.clip(1.0 - stays, 0.0, 1.0)
    moved[moved < MOVED_EPS] = 0.0
    return Change(moved=moved, base_owner=np.argmax(base, axis=1), match=match)


def spread(territories: pd.DataFrame) -> dict[str, float]:
    """Largest absolute deviation (%), coefficient of variation of workload, workload-weighted travel (km)."""
    workload = territories["workload"].to_numpy(float)
    mean = workload.mean()
    travel = float((workload * territories["weighted_distance_km"].to_numpy(float)).sum() / workload.sum())
    return {"max_deviation_pct": float(territories["deviation_pct"].abs().max()),
            "workload_cv": float(workload.std() / mean) if mean > 0 else math.nan,
            "weighted_travel_km": travel}


def binding_limits(summary: dict, territories: pd.DataFrame, time_limit: float) -> str:
    """The limits that shaped the plan, in words: time limit reached, band edges, soft band, broken rules."""
    limits = []
    if summary["status"] == "feasible":
        gap = summary.get("gap")
        limits.append(f"time limit {time_limit:g} s" + (f" (gap {gap:.2%})" if gap is not None else ""))
    band = summary["band"]
    dev = territories["deviation_pct"].abs()
    edge = 100 * band["tolerance"]
    if band["soft_penalty"] is None:
        at_edge = int((dev >= edge - EDGE_PP).sum())
        if at_edge:
            limits.append(f"band ±{edge:g} %: {at_edge} of {len(dev)} territories at the edge")
    else:
        outside = int((dev > edge + 1e-6).sum())
        limits.append(f"soft band ±{edge:g} %: {outside} territories outside" if outside else
                      f"soft band ±{edge:g} %: all inside")
    broken = summary.get("broken_rules") or []
    if broken:
        limits.append(f"breaks {len(broken)} rule(s)")
    return "; ".join(limits) or "none"


def best_cells(rows: pd.DataFrame) -> dict[str, set[int]]:
    """Per lower-is-better column, the row positions holding its best value as the report shows it.

    Values are compared rounded to ``SHOWN_DECIMALS`` so a reader never sees two equal numbers of which one is
    marked; ties are all marked, and a column where every candidate ties marks nothing. Moved-from-base
    columns ignore the base (row 0).
    """
    best: dict[str, set[int]] = {}
    for column in LOWER_IS_BETTER:
        if column not in rows:
            continue
        values = pd.to_numeric(rows[column], errors="coerce").to_numpy(float).round(SHOWN_DECIMALS[column])
        candidates = np.arange(len(values))[1:] if column in AGAINST_BASE else np.arange(len(values))
        candidates = candidates[np.isfinite(values[candidates])]
        low = values[candidates].min() if len(candidates) else math.nan
        winners = {int(i) for i in candidates if values[i] == low}
        if 0 < len(winners) < len(candidates):
            best[column] = winners
    return best


def headcount_warnings(rows: pd.DataFrame) -> list[str]:
    """What-ifs whose travel moves against their headcount by more than the proven gaps explain.

    With more territories the best plan's weighted travel should not rise. When a scenario with more
    territories travels further than one with fewer, by more than the larger scenario's gap for its own
    bases, the plans' bases are the likely cause (the gap for these bases does not cover where the reps
    live); the location gap, when known, says how far either could still be from the best bases.
    """
    planned = rows.dropna(subset=["weighted_travel_km"]) if "weighted_travel_km" in rows else rows.iloc[0:0]
    lines = []
    for more in planned.itertuples(index=False):
        for fewer in planned.itertuples(index=False):
            if more.territories <= fewer.territories or more.weighted_travel_km <= fewer.weighted_travel_km:
                continue
            rise = more.weighted_travel_km / fewer.weighted_travel_km - 1.0
            gap = more.gap if more.gap is not None and not _nan(more.gap) else 0.0
            if rise <= gap:
                continue
            location = [f"{r.scenario} {r.location_gap:.1%}" for r in (more, fewer)
                        if getattr(r, "location_gap", None) is not None and not _nan(r.location_gap)]
            lines.append(f"{more.scenario} ({more.territories} territories) travels {rise:.1%} further than "
                         f"{fewer.scenario} ({fewer.territories}), beyond its gap for its bases ({gap:.2%}): the "
                         "likely cause is where the bases are, not the headcount"
                         + (f" (gap with any bases: {', '.join(location)})" if location else ""))
    return lines


def _nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)

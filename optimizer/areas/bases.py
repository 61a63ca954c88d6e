"""Home bases of the territories: given by the user, or chosen so the workload band is reachable.

Chosen bases use **balanced medoids**, a deterministic method:

1. Units heavier than half an average territory are cut into equal pieces of at most half a territory at
   the same place, so a metro county can attract several bases (its reps share it).
2. Initial centres: weighted k-means++ over the pieces with ``numpy.random.default_rng(seed)``.
3. Each round, pieces are allocated to centres so that every centre gets about one average territory of
   workload: each piece goes to the centre minimising ``distance - price``, and prices are raised for
   centres below the average and lowered above it (a dual ascent on the balanced transportation problem).
4. Each centre moves to the workload-weighted medoid of its pieces (the member unit that minimises the
   weighted distance to the others). Rounds stop when no centre moves.

Weighted k-means alone puts bases where the *mass* is, which on real data left the workload nearest each
base between 0.12x and 10x a territory; balancing the allocation before each medoid move is what makes
every territory able to reach its band with units near its base.

Large instances (pieces x bases above ``DENSE_LIMIT``, e.g. 31,000 ZIPs x 500) use **balanced
bisection** instead, because the price iteration above, restricted to each piece's nearest centres, did
not balance there (territories between 0.7x and 1.7x after 10 rounds, 20 s):

1. The pieces are split along the longer side of their bounding box (projected metres) at the weighted
   quantile ``floor(k/2) / k``, so each side holds workload in proportion to the territories it gets;
   both sides are split again until each holds one territory (``ceil(log2 k)`` levels, 0.1 s at ZIP level).
2. Each base is the workload-weighted medoid of its part.

The parts are balanced up to the pieces straddling a cut (0.93x-1.07x at ZIP level) and are handed to the
solver as a start (``BaseTable.allocation``): with them in the first LP it needs no elastic band.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.core.errors import InputError
from optimizer.areas.schema import Territories
from optimizer.areas.unit_ids import unknown_unit
from optimizer.areas.units import DISPLAY_CRS, PROJECTED_CRS, UnitTable

PRICE_ITERATIONS = 400
CANDIDATE_CENTRES = 32  # above DENSE_LIMIT a piece is priced against its nearest centres only
DENSE_LIMIT = 2_000_000  # pieces x centres


@dataclass(frozen=True)
class BaseTable:
    """One row per territory: ``territory_id, base_unit_id, base_name, base_lat, base_lon, x_m, y_m``."""

    frame: pd.DataFrame
    method: str
    allocation: np.ndarray | None = None  # (M, 2) unit index, territory index (frame order): a balanced start

    @property
    def ids(self) -> np.ndarray:
        return self.frame["territory_id"].to_numpy()

    def __len__(self) -> int:
        return len(self.frame)


def territory_ids(count: int) -> list[str]:
    """``T01, T02, ...`` padded to the width of ``count``."""
    width = max(2, len(str(count)))
    return [f"T{i + 1:0{width}d}" for i in range(count)]


def resolve_bases(spec: Territories, units: UnitTable, current: pd.DataFrame | None = None) -> BaseTable:
    """Bases from the scenario when listed, else today's territories' (realignment), else balanced medoids."""
    if spec.bases:
        return _given_bases(spec, units)
    if current is not None:
        return _bases_from_current(spec, units, current)
    if _is_large(units.workload, spec.size):
        chosen, allocation = balanced_bisection(units.xy, units.workload, spec.size)
        frame, order = _rows_for_units(units, chosen, territory_ids(spec.size))
        rank = np.argsort(order)  # part index -> row of the frame
        method = "chosen by balanced bisection (large instance; see optimizer/bases.py)"
        return BaseTable(frame=frame, method=method,
                         allocation=np.column_stack([allocation[:, 0], rank[allocation[:, 1]]]))
    chosen = choose_balanced_medoids(units.xy, units.workload, spec.size, spec.selection.rounds, spec.selection.seed)
    frame, _ = _rows_for_units(units, chosen, territory_ids(spec.size))
    method = (f"chosen by balanced medoids (seed {spec.selection.seed}, up to {spec.selection.rounds} rounds; "
              "see optimizer/bases.py)")
    return BaseTable(frame=frame, method=method)


def _bases_from_current(spec: Territories, units: UnitTable, current: pd.DataFrame) -> BaseTable:
    """Keep today's territories (based at their medoid unit); add or drop territories for a new headcount.

    Added territories are based, one at a time, at the unit with the most workload-weighted distance to
    every base so far; dropped ones are those with the least workload today (their units are reassigned).
    """
    from optimizer.areas.current_plan import territory_medoids

    medoids = territory_medoids(current, units)
    count = spec.count or len(medoids)
    loads = current.assign(w=units.frame.set_index("unit_id").loc[current["unit_id"], "workload"].to_numpy())
    by_load = loads.groupby("territory_id")["w"].sum().sort_values(ascending=False)
    kept = [tid for tid in sorted(medoids) if tid in set(by_load.index[:count])]
    rows = [unit_base_row(units, medoids[tid], tid, None) for tid in kept]
    chosen = [medoids[tid] for tid in kept]
    for k in range(count - len(kept)):
        gap = np.min(np.hypot(*(units.xy[:, None, :] - units.xy[chosen][None, :, :]).transpose(2, 0, 1)), axis=1)
        pick = int(np.argmax(units.workload * gap))
        chosen.append(pick)
        rows.append(unit_base_row(units, pick, f"NEW{k + 1:02d}", None))
    added, dropped = count - len(kept), len(medoids) - len(kept)
    method = (f"today's {len(kept)} territories kept at their medoid units" + (f", {added} added" if added else "")
              + (f", {dropped} dropped (least workload)" if dropped else ""))
    return BaseTable(frame=pd.DataFrame(rows), method=method)


def _given_bases(spec: Territories, units: UnitTable) -> BaseTable:
    ids = territory_ids(len(spec.bases or []))
    index = {uid: i for i, uid in enumerate(units.ids)}
    rows = []
    for k, base in enumerate(spec.bases or []):
        tid = base.id or ids[k]
        if base.unit is not None:
            if base.unit not in index:
                raise unknown_unit(f"territories.bases.{k}.unit", base.unit, index,
                                   "use a unit id from the data set (after units.include/exclude) or lat/lon")
            i = index[base.unit]
            row = unit_base_row(units, i, tid, base.name)
        else:
            row = _point_row(tid, base.lat, base.lon, base.name)
        rows.append(row)
    frame = pd.DataFrame(rows)
    dup = frame["territory_id"][frame["territory_id"].duplicated()]
    if not dup.empty:
        raise InputError("territories.bases", f"territory id '{dup.iloc[0]}' is used twice", "give each base its own id")
    return BaseTable(frame=frame, method="given in the scenario")


def unit_base_row(units: UnitTable, i: int, tid: str, name: str | None) -> dict:
    f = units.frame
    return {"territory_id": tid, "base_unit_id": f["unit_id"].iat[i], "base_name": name or f["name"].iat[i],
            "base_lat": f["lat"].iat[i], "base_lon": f["lon"].iat[i], "x_m": f["x_m"].iat[i], "y_m": f["y_m"].iat[i]}


def _point_row(tid: str, lat: float, lon: float, name: str | None) -> dict:
    point = gpd.GeoSeries(gpd.points_from_xy([lon], [lat]), crs=DISPLAY_CRS).to_crs(PROJECTED_CRS)
    return {"territory_id": tid, "base_unit_id": "", "base_name": name or f"{lat:.4f}, {lon:.4f}",
            "base_lat": lat, "base_lon": lon, "x_m": point.x.iat[0], "y_m": point.y.iat[0]}


def table_for_units(units: UnitTable, chosen: np.ndarray, method: str) -> BaseTable:
    """A base table over the units ``chosen`` (indices; repeats allowed), with ids ``T01, ...`` north to south."""
    frame, _ = _rows_for_units(units, np.asarray(chosen), territory_ids(len(chosen)))
    return BaseTable(frame=frame, method=method)


def _rows_for_units(units: UnitTable, chosen: np.ndarray, ids: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Base rows ordered north to south, then west to east (stable, readable ids), and that order."""
    xy = units.xy[chosen]
    order = np.lexsort((xy[:, 0], -xy[:, 1]))
    return pd.DataFrame([unit_base_row(units, int(chosen[j]), ids[k], None) for k, j in enumerate(order)]), order


def _is_large(workload: np.ndarray, count: int) -> bool:
    return len(_pieces(workload, count)[0]) * count > DENSE_LIMIT


def balanced_bisection(xy: np.ndarray, workload: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Base unit per part and the ``(unit, part)`` pairs of the parts; see the module docstring."""
    piece_unit, piece_load = _pieces(workload, count)
    parts: list[np.ndarray] = []
    stack = [(np.arange(len(piece_unit)), count)]
    while stack:
        members, k = stack.pop()
        if k == 1 or len(members) <= 1:
            parts += [members] * k  # a single piece left for several territories: they share its unit
            continue
        points = xy[piece_unit[members]]
        axis = int(np.argmax(points.max(axis=0) - points.min(axis=0)))
        ordered = members[np.argsort(points[:, axis], kind="stable")]
        cumulative = np.cumsum(piece_load[ordered])
        goal = cumulative[-1] * (k // 2) / k
        cut = int(np.clip(np.argmin(np.abs(cumulative - goal)) + 1, 1, len(ordered) - 1))
        stack += [(ordered[cut:], k - k // 2), (ordered[:cut], k // 2)]
    chosen = np.array([_weighted_medoid(piece_unit[part], piece_load[part], xy) for part in parts])
    pairs = np.unique(np.column_stack([np.concatenate([piece_unit[part] for part in parts]),
                                       np.repeat(np.arange(len(parts)), [len(part) for part in parts])]), axis=0)
    return chosen, pairs


def _weighted_medoid(units: np.ndarray, load: np.ndarray, xy: np.ndarray, sample: int = 400) -> int:
    """The member unit minimising the workload-weighted distance to the members (candidates: the
    ``sample`` heaviest members, so a part of thousands of pieces stays cheap)."""
    candidates = units[np.argsort(-load, kind="stable")[:sample]]
    spread = np.sqrt(((xy[candidates][:, None, :] - xy[units][None, :, :]) ** 2).sum(axis=2)) @ load
    return int(candidates[int(np.argmin(spread))])


def choose_balanced_medoids(xy: np.ndarray, workload: np.ndarray, count: int, rounds: int, seed: int) -> np.ndarray:
    """Indices of ``count`` base units (repeats allowed for heavy units); see the module docstring."""
    piece_unit, piece_load = _pieces(workload, count)
    target = piece_load.sum() / count
    piece_xy = xy[piece_unit] / 1000.0
    centres = _kmeans_pp(piece_xy, piece_load, count, np.random.default_rng(seed))
    centre_units = piece_unit[centres]
    for _ in range(rounds):
        owner = _balanced_allocation(piece_xy, piece_load, xy[centre_units] / 1000.0, target)
        moved = _medoids(piece_unit, piece_load, piece_xy, owner, centre_units)
        if np.array_equal(moved, centre_units):
            break
        centre_units = moved
    return centre_units


def _pieces(workload: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    half = 0.5 * workload.sum() / count
    parts = np.maximum(1, np.ceil(workload / half)).astype(int) if half > 0 else np.ones(len(workload), int)
    unit = np.repeat(np.arange(len(workload)), parts)
    return unit, (workload / parts)[unit]


def _kmeans_pp(points: np.ndarray, weight: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    chosen = [int(rng.choice(len(points), p=weight / weight.sum()))] if weight.sum() > 0 else [0]
    nearest = np.sum((points - points[chosen[0]]) ** 2, axis=1)
    for _ in range(1, count):
        score = weight * nearest
        pick = int(rng.choice(len(points), p=score / score.sum())) if score.sum() > 0 else int(np.argmax(weight))
        chosen.append(pick)
        nearest = np.minimum(nearest, np.sum((points - points[pick]) ** 2, axis=1))
    return np.asarray(chosen)


def _balanced_allocation(points: np.ndarray, load: np.ndarray, centres: np.ndarray, target: float) -> np.ndarray:
    """Owner centre per piece at prices that balance the centres' workload (see the module docstring).

    Small instances price every centre for every piece; large ones (ZIP level) only each piece's
    ``CANDIDATE_CENTRES`` nearest centres, which keeps each iteration linear in the number of pieces.
    """
    dense = len(points) * len(centres) <= DENSE_LIMIT
    if dense:
        dist = np.sqrt(((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2))
        idx = None
    else:
        from scipy.spatial import cKDTree

        dist, idx = cKDTree(centres).query(points, k=CANDIDATE_CENTRES)
    scale = float(np.median(dist.min(axis=1))) + 1.0
    price = np.zeros(len(centres))
    rows = np.arange(len(points))
    priced = np.empty_like(dist)  # reused every iteration: the price loop is the cost of choosing bases

    def owners() -> np.ndarray:
        if dense:  # every centre priced for every piece: broadcast the prices, no gather
            return np.argmin(np.subtract(dist, price[None, :], out=priced), axis=1)
        return idx[rows, np.argmin(np.subtract(dist, price[idx], out=priced), axis=1)]

    for it in range(PRICE_ITERATIONS):
        filled = np.bincount(owners(), weights=load, minlength=len(centres)) / target
        price += scale * 0.5 * (0.99**it) * np.clip(1.0 - filled, -1.0, 1.0)
    return owners()


def _medoids(piece_unit: np.ndarray, load: np.ndarray, points: np.ndarray, owner: np.ndarray,
             current: np.ndarray) -> np.ndarray:
    moved = current.copy()
    for t in range(len(current)):
        members = np.flatnonzero(owner == t)
        if members.size == 0:
            continue
        candidates, first = np.unique(piece_unit[members], return_index=True)
        cand_xy = points[members[first]]
        cost = np.sqrt(((cand_xy[:, None, :] - points[members][None, :, :]) ** 2).sum(axis=2)) @ load[members]
        moved[t] = candidates[int(np.argmin(cost))]
    return moved

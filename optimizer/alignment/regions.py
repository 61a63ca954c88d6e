"""Regions: the solved territories grouped into ``regions.count`` contiguous, balanced regions.

Territories are adjacent when any of their units are (Queen adjacency plus ``contiguity.links``), or when
they share a unit. The model of ``models.regions`` is solved through ``optimizer.solver.highs``; contiguity is
exact and lazy as in ``optimizer.alignment.solve.rules``: solve, find each region's pieces in the territory graph,
and for every territory of a piece cut off from its centre add ``y[t,c] <= sum of y[j,c]`` over the
piece's border territories ``j``; repeat until every region is in one piece. Every round relaxes the
contiguous model, so the best round bound holds for it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.regions import RegionData, build
from optimizer.areas.adjacency import components, queen_adjacency
from optimizer.areas.distance import distance_matrix_km
from optimizer.core.errors import InfeasibleError, InputError, NoPlanError
from optimizer.solver.highs import SolverOptions, SolveStatus, compile_model, relative_gap, solve

TIME_SHARE = 0.25  # the regions solve gets this share of solver.time_limit
MIN_SECONDS = 2.0
MAX_CENTRES = 150  # each territory may join one of its nearest centres (all when K is at most this)
MAX_CUT_ROUNDS = 100


@dataclass
class RegionPlan:
    """Territories with their ``region_id``, the ``regions.csv`` table and the summary entry."""

    territories: pd.DataFrame
    regions: pd.DataFrame
    summary: dict = field(default_factory=dict)


def territory_graph(assignments: pd.DataFrame, unit_ids: np.ndarray, neighbours: list[np.ndarray],
                    territory_ids: list[str]) -> list[np.ndarray]:
    """Neighbour territory indices per territory: some of their units touch, or they share a unit."""
    unit_pos = {uid: i for i, uid in enumerate(unit_ids)}
    terr_pos = {tid: k for k, tid in enumerate(territory_ids)}
    owners: list[set[int]] = [set() for _ in unit_ids]
    for uid, tid in zip(assignments["unit_id"], assignments["territory_id"]):
        owners[unit_pos[uid]].add(terr_pos[tid])
    edges: set[tuple[int, int]] = set()
    for i, near in enumerate(neighbours):
        for j in (i, *near.tolist()):
            edges.update((a, b) for a in owners[i] for b in owners[j] if a != b)
    graph: list[set[int]] = [set() for _ in territory_ids]
    for a, b in edges:
        graph[a].add(b)
        graph[b].add(a)
    return [np.array(sorted(g), dtype=int) for g in graph]


def plan_regions(scenario, ready, assignments: pd.DataFrame, territories: pd.DataFrame) -> RegionPlan:
    """Group the plan's territories into the scenario's regions (raises when no grouping exists)."""
    spec = scenario.regions
    ids = list(territories["territory_id"])
    k = len(ids)
    if spec.count > k:
        raise InputError("regions.count", f"is {spec.count} but the plan has only {k} territories",
                         f"ask for at most {k} regions")
    neighbours = queen_adjacency(ready.units.frame, scenario.contiguity.links)
    graph = territory_graph(assignments, ready.units.ids, neighbours, ids)
    load = territories["workload"].to_numpy(float)
    load = load / (load.sum() / k)  # average territory = 1
    lower, upper = (1 - spec.tolerance) * k / spec.count, (1 + spec.tolerance) * k / spec.count
    _refuse_impossible(spec, ids, load, upper, graph)
    bases = ready.bases.frame
    xy = bases[["x_m", "y_m"]].to_numpy(float)
    lat, lon = bases["base_lat"].to_numpy(float), bases["base_lon"].to_numpy(float)
    distance = distance_matrix_km(lat, lon, xy, lat, lon, xy, scenario.objective.distance)
    options = SolverOptions(max(scenario.solver.time_limit * TIME_SHARE, MIN_SECONDS), scenario.solver.target_gap,
                            scenario.solver.threads, scenario.solver.seed)
    centre, summary = solve_regions(load, distance, graph, spec.count, lower, upper, options)
    summary |= {"count": spec.count, "tolerance": spec.tolerance}
    return _tables(territories, ids, load, centre, spec, summary)


def _refuse_impossible(spec, ids: list[str], load: np.ndarray, upper: float, graph: list[np.ndarray]) -> None:
    heaviest = int(np.argmax(load))
    if load[heaviest] > upper + 1e-9:
        alone = load[heaviest] * spec.count / len(ids)  # in mean regions
        raise InfeasibleError("regions", f"territory {ids[heaviest]} alone carries {alone:.2f} mean regions of "
                              f"workload, above the band's upper end {1 + spec.tolerance:.2f}",
                              f"widen regions.tolerance to at least {alone - 1:.2f} or ask for fewer regions")
    pieces = components(np.arange(len(ids)), graph)
    if len(pieces) > spec.count:
        raise InfeasibleError("regions", f"the territories form {len(pieces)} separate groups on the map, so they "
                              f"cannot make {spec.count} connected regions",
                              "ask for more regions or declare contiguity.links between the groups")


def solve_regions(load: np.ndarray, distance: np.ndarray, graph: list[np.ndarray], count: int, lower: float,
                  upper: float, options: SolverOptions) -> tuple[np.ndarray, dict]:
    """Each territory's centre territory (index), and the solve's summary: status, objective, bound, gap."""
    k = len(load)
    clock = time.perf_counter()
    pairs = _eligible(distance)
    pair_id = np.full((k, k), -1)
    pair_id[pairs] = np.arange(int(pairs.sum()))
    pair_t, pair_c = np.nonzero(pairs)
    cost = load[pair_t] * distance[pair_t, pair_c]
    cuts: list[tuple[int, np.ndarray]] = []
    bound, rounds = -math.inf, 0
    for rounds in range(1, MAX_CUT_ROUNDS + 1):
        left = options.time_limit - (time.perf_counter() - clock)
        model = build(RegionData(load, pair_t, pair_c, cost, lower, upper, count, tuple(cuts)))
        result = solve(compile_model(model), SolverOptions(max(left, 0.05), options.target_gap, options.threads,
                                                           options.seed))
        if result.status is SolveStatus.INFEASIBLE:
            what = "connected regions" if cuts else "regions (even in pieces)"
            raise InfeasibleError("regions", f"no {count} {what} of whole territories keep every region within "
                                  f"±{(upper * count / k - 1):.0%} of the mean workload",
                                  "widen regions.tolerance or change regions.count")
        if not result.status.has_plan:
            raise NoPlanError("regions", "the time limit was reached before any grouping into regions was found",
                              "raise solver.time_limit")
        if math.isfinite(result.bound):
            bound = max(bound, result.bound)
        grid = np.zeros((k, k))
        grid[pair_t, pair_c] = np.round(result.values[: len(pair_t)])
        new = _cuts(grid, graph, pair_id)
        if not new:
            break
        if time.perf_counter() - clock >= options.time_limit:
            raise NoPlanError("regions", f"regions were still in pieces after {rounds} rounds of cuts when the "
                              "time limit was reached", "raise solver.time_limit")
        cuts += new
    centre = grid.argmax(axis=1)
    bound = min(bound, result.objective)
    gap = relative_gap(result.objective, bound)
    status = SolveStatus.OPTIMAL if gap <= options.target_gap + 1e-12 else SolveStatus.FEASIBLE
    scope = "all" if pairs.all() else f"each territory's nearest {MAX_CENTRES} centres:"
    return centre, {"status": status.value, "objective": result.objective, "bound": bound,
                    "gap": None if math.isnan(gap) else gap, "cut_rounds": rounds, "cuts": len(cuts),
                    "pairs": f"{scope} {int(pairs.sum())} territory-centre pairs",
                    "seconds": round(time.perf_counter() - clock, 3)}


def _eligible(distance: np.ndarray) -> np.ndarray:
    k = distance.shape[0]
    if k <= MAX_CENTRES:
        return np.ones((k, k), bool)
    pairs = np.zeros((k, k), bool)
    nearest = np.argpartition(distance, MAX_CENTRES - 1, axis=1)[:, :MAX_CENTRES]
    pairs[np.arange(k)[:, None], nearest] = True
    pairs[np.arange(k), np.arange(k)] = True
    return pairs


def _cuts(grid: np.ndarray, graph: list[np.ndarray], pair_id: np.ndarray) -> list[tuple[int, np.ndarray]]:
    cuts = []
    for c in np.flatnonzero(np.diag(grid) > 0.5):
        pieces = components(np.flatnonzero(grid[:, c] > 0.5), graph)
        for piece in pieces:
            inside = set(piece.tolist())
            if c in inside:
                continue
            border = {j for t in piece for j in graph[t].tolist() if j not in inside}
            border_pairs = np.array(sorted(pair_id[j, c] for j in border if pair_id[j, c] >= 0), dtype=int)
            cuts += [(int(pair_id[t, c]), border_pairs) for t in piece]
    return cuts


def _tables(territories: pd.DataFrame, ids: list[str], load: np.ndarray, centre: np.ndarray, spec,
            summary: dict) -> RegionPlan:
    centres = sorted(set(centre.tolist()))
    name = {c: f"R{n + 1:02d}" for n, c in enumerate(centres)}
    region = np.array([name[c] for c in centre])
    workload = territories["workload"].to_numpy(float)
    mean = workload.sum() / spec.count
    rows = []
    for c in centres:
        members = np.flatnonzero(centre == c)
        total = float(workload[members].sum())
        rows.append({"region_id": name[c], "centre_territory": ids[c], "territories": ";".join(ids[m] for m in members),
                     "territory_count": len(members), "workload": total, "deviation_pct": 100.0 * (total / mean - 1)})
    regions = pd.DataFrame(rows)
    summary["max_abs_deviation_pct"] = float(regions["deviation_pct"].abs().max())
    return RegionPlan(territories.assign(region_id=region), regions, summary)

"""Choosing the bases from candidates together with the plan (``territories.candidates``).

Exact location-allocation with a balance band is slow (PERFORMANCE_NOTES: a 32.7 % gap after 120 s at
1,000 x 20), so the exact model of ``models/location.py`` starts from a heuristic plan:

1. the balanced-medoid bases, each moved to the nearest unused candidate;
2. rounds of *allocate* (the certified alignment pipeline with the bases fixed) and *relocate* (each
   territory's base moves to the candidate that minimises its workload-weighted distance), until no
   base moves;
3. the location-allocation MIP, warm-started from that plan, for the rest of the time limit.

Its bound covers the choice of bases only when the MIP held every unit-candidate pair. Above
``ALL_PAIRS_LIMIT`` pairs each unit keeps its nearest candidates, and that restricted MIP's bound says
nothing about the pairs it left out (an outside check found it 0.57 % above the true optimum of a
300-point instance), so it is not used as a bound: the pipeline reports the bound of
``optimizer.alignment.location_bound`` (valid over every pair) and the certified bound for the chosen bases.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.location import LocationData, build
from optimizer.alignment.solve.align import AlignmentSolution, solve_alignment
from optimizer.areas.bases import BaseTable, territory_ids, unit_base_row
from optimizer.areas.distance import distance_matrix_km
from optimizer.core.errors import InputError, NoPlanError
from optimizer.solver.highs import SolverOptions, SolveStatus, compile_model, relative_gap, solve
from optimizer.areas.unit_ids import unknown_unit

RELOCATE_ROUNDS = 6
HEURISTIC_TIME_SHARE = 0.3
ALL_PAIRS_LIMIT = 60_000
NEAREST_CANDIDATES = 12


@dataclass
class Located:
    """The chosen bases and the plan over them (territory indices follow ``bases``)."""

    bases: BaseTable
    solution: AlignmentSolution
    bound: float = math.nan  # the MIP's bound over every choice of bases; NaN when it held only some pairs


def candidate_units(spec, units) -> np.ndarray:
    """Indices of the candidate units: listed ids, or the ``top`` units by workload."""
    index = {uid: i for i, uid in enumerate(units.ids)}
    if spec.units:
        unknown = [u for u in spec.units if u not in index]
        if unknown:
            raise unknown_unit("territories.candidates.units", unknown[0], index, "list unit ids of the data set")
        return np.array(sorted({index[u] for u in spec.units}))
    return np.sort(np.argsort(-units.workload, kind="stable")[: spec.top])


def choose_bases(scenario, ready, problem_for) -> Located:
    """Heuristic bases, then the exact location-allocation MIP; ``problem_for(bases)`` gives the problem."""
    clock_start = time.perf_counter()
    units, count = ready.units, scenario.territories.size
    candidates = candidate_units(scenario.territories.candidates, units)
    if len(candidates) < count:
        raise InputError("territories.candidates", f"{len(candidates)} candidates for {count} territories",
                         "list at least as many candidates as territories")
    dist = distance_matrix_km(units.lat, units.lon, units.xy, units.lat[candidates], units.lon[candidates],
                              units.xy[candidates], scenario.objective.distance)
    chosen = _snap(ready.bases, units, candidates)
    options = SolverOptions(scenario.solver.time_limit * HEURISTIC_TIME_SHARE / RELOCATE_ROUNDS,
                            scenario.solver.target_gap, scenario.solver.threads, scenario.solver.seed)
    best = None
    for _ in range(RELOCATE_ROUNDS):
        problem = problem_for(_table(units, candidates[chosen]))
        plan = solve_alignment(problem, options)
        if best is None or plan.objective < best[0]:
            best = (plan.objective, chosen, plan, problem)
        moved = _relocate(plan, problem.load, dist, chosen)
        if np.array_equal(np.sort(moved), np.sort(chosen)):
            break
        chosen = moved
    _, chosen, plan, problem = best
    left = scenario.solver.time_limit - (time.perf_counter() - clock_start)
    return _exact(scenario, units, candidates, dist, chosen, plan, problem, max(left, 1.0))


def _snap(bases: BaseTable, units, candidates: np.ndarray) -> np.ndarray:
    """Each base to its nearest candidate not yet taken (positions in ``candidates``)."""
    taken: list[int] = []
    for x, y in bases.frame[["x_m", "y_m"]].to_numpy():
        gap = np.hypot(units.xy[candidates, 0] - x, units.xy[candidates, 1] - y)
        gap[taken] = np.inf
        taken.append(int(np.argmin(gap)))
    return np.array(taken)


def _relocate(plan: AlignmentSolution, load: np.ndarray, dist: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    moved = chosen.copy()
    for t in range(len(chosen)):
        rows = plan.territory_index == t
        weight = np.bincount(plan.unit_index[rows], weights=load[plan.unit_index[rows]] * plan.share[rows],
                             minlength=len(load))
        cost = weight @ dist
        cost[np.delete(moved, t)] = np.inf
        moved[t] = int(np.argmin(cost))
    return moved


def _table(units, unit_indices: np.ndarray) -> BaseTable:
    order = np.lexsort((units.xy[unit_indices, 0], -units.xy[unit_indices, 1]))
    ids = territory_ids(len(unit_indices))
    rows = [unit_base_row(units, int(unit_indices[j]), ids[k], None) for k, j in enumerate(order)]
    return BaseTable(frame=pd.DataFrame(rows), method="")


def _exact(scenario, units, candidates, dist, chosen, plan, problem, seconds) -> Located:
    load, n = problem.load, len(problem.load)
    pairs = np.ones((n, len(candidates)), bool)
    restricted = pairs.size > ALL_PAIRS_LIMIT
    if restricted:
        pairs = np.zeros_like(pairs)
        nearest = np.argsort(dist, axis=1)[:, :NEAREST_CANDIDATES]
        pairs[np.arange(n)[:, None], nearest] = True
    start_grid = np.zeros((n, len(candidates)))
    start_grid[plan.unit_index, chosen[plan.territory_index]] = plan.share
    pairs |= start_grid > 0
    pairs[problem.shared] = True
    unit, cand = np.nonzero(pairs)
    tol = scenario.balance.tolerance
    data = LocationData(load=load, shared=problem.shared, pair_unit=unit, pair_candidate=cand,
                        pair_cost=load[unit] * dist[unit, cand], candidates=len(candidates),
                        territories=len(chosen), lower=1 - tol, upper=1 + tol)
    compiled = compile_model(build(data))
    opened = np.isin(np.arange(len(candidates)), chosen).astype(float)
    start = np.array([start_grid[unit[v.index()], cand[v.index()]] if v.parent_component().local_name == "Assign"
                      else opened[v.index()] for v in compiled.columns])
    result = solve(compiled, SolverOptions(seconds, scenario.solver.target_gap, scenario.solver.threads,
                                           scenario.solver.seed), start=start)
    if not result.status.has_plan:
        raise NoPlanError("territories.candidates", "no plan was found in time", "raise solver.time_limit")
    return _located(units, candidates, dist, compiled, result, unit, cand, problem, scenario, restricted)


def _located(units, candidates, dist, compiled, result, unit, cand, problem, scenario, restricted) -> Located:
    values = {(v.parent_component().local_name, v.index()): x for v, x in zip(compiled.columns, result.values)}
    opened = np.array([c for c in range(len(candidates)) if values.get(("Open", c), 0) > 0.5])
    bases = _table(units, candidates[opened])
    position = {int(u): k for k, u in enumerate(bases.frame["base_unit_id"].map(
        {uid: i for i, uid in enumerate(units.ids)}))}
    share = np.array([values[("Assign", p)] for p in range(len(unit))])
    keep = share > 1e-6
    territory = np.array([position[int(candidates[c])] for c in cand[keep]])
    shares = share[keep] / np.bincount(unit[keep], weights=share[keep], minlength=len(problem.load))[unit[keep]]
    whole = ~problem.shared[unit[keep]]
    shares[whole] = np.round(shares[whole])
    bound = result.bound if math.isfinite(result.bound) else -math.inf
    gap = relative_gap(result.objective, bound)
    scope = (f"each unit could go to its {NEAREST_CANDIDATES} nearest of {len(candidates)} candidates"
             if restricted else f"all {len(candidates)} candidates for every unit")
    covers = ("its bound holds only for those pairs, so it is not reported" if restricted
              else f"its gap {gap:.2%} covers the choice of bases")
    bases = BaseTable(frame=bases.frame, method=(
        f"chosen from {len(candidates)} candidates with the plan (location-allocation: relocate heuristic, then "
        f"the exact MIP with {scope}; {covers})"))
    solution = AlignmentSolution(
        unit_index=unit[keep][shares > 0], territory_index=territory[shares > 0], share=shares[shares > 0],
        status=SolveStatus.OPTIMAL if gap <= scenario.solver.target_gap + 1e-12 else SolveStatus.FEASIBLE,
        objective=result.objective, bound=min(bound, result.objective), lp_bound=math.nan,
        seconds={"build": 0.0, "solve": result.seconds}, stages=[{"stage": "location", "seconds": result.seconds}],
        restriction=f"location-allocation over {scope}")
    return Located(bases=bases, solution=solution, bound=math.nan if restricted else bound)

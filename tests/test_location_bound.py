"""The location bound is a lower bound for every choice of bases (brute force on small instances)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optimizer.alignment.solve.align import AlignmentProblem, solve_alignment
from optimizer.alignment.location_bound import LocationInstance, location_bound
from optimizer.solver.highs import SolverOptions


def _instance(n: int, seed: int, k: int, tol: float, heavy: bool = False, penalty: float | None = None):
    rng = np.random.default_rng(seed)
    lat = 30 + rng.random(n) * 2
    lon = -98 + rng.random(n) * 2
    w = rng.lognormal(0, 0.6, n)
    if heavy:
        w[0] = w.sum() * 0.6  # a metro unit heavier than a territory
    load = w / (w.sum() / k)
    xy = np.column_stack([lon * 95_000.0, lat * 111_000.0])
    return LocationInstance(load=load, lat=lat, lon=lon, xy=xy, candidates=np.arange(n), territories=k,
                            lower=1 - tol, upper=1 + tol, penalty=penalty)


def _best_over_base_sets(inst: LocationInstance, shared: np.ndarray) -> float:
    """The optimum over every multiset of k bases among the units, by the certified pipeline at 0 % gap."""
    from optimizer.areas.distance import great_circle_km

    best = np.inf
    n, k = len(inst.load), inst.territories
    for bases in itertools.combinations_with_replacement(range(n), k):
        b = np.array(bases)
        dist = great_circle_km(inst.lat[:, None], inst.lon[:, None], inst.lat[b][None, :], inst.lon[b][None, :])
        problem = AlignmentProblem(load=inst.load, distance_km=dist, shared=shared, lower=np.full(k, inst.lower),
                                   upper=np.full(k, inst.upper), penalty=inst.penalty)
        try:
            plan = solve_alignment(problem, SolverOptions(20, 1e-9))
        except Exception:  # no plan for these bases (the band is out of reach)
            continue
        best = min(best, plan.bound)  # the plan's proven bound: the optimum for these bases is at least this
    return best


@pytest.mark.parametrize("n, seed, k, tol, heavy, penalty", [
    (7, 1, 2, 0.10, False, None),
    (8, 2, 3, 0.15, False, None),
    (7, 3, 2, 0.05, True, None),
    (8, 4, 3, 0.05, False, 50.0),
])
def test_bound_is_below_every_base_choice(n, seed, k, tol, heavy, penalty):
    inst = _instance(n, seed, k, tol, heavy, penalty)
    shared = inst.load > 0.5
    optimum = _best_over_base_sets(inst, shared)
    assert np.isfinite(optimum)
    start = inst.load * 10.0
    found = location_bound(inst, start, optimum, 10.0, 400)
    assert found.value <= optimum + 1e-7 * abs(optimum)
    assert found.value > 0.3 * optimum, "the ascent should climb well above a trivial bound"


def test_sparse_pairs_keep_the_bound_valid(monkeypatch):
    """With pairs cut by radius (an unlimited item at the least ratio left out stands in for them) the bound
    still holds against the brute-force optimum, and some pairs really were left out."""
    import optimizer.alignment.location_bound as lb

    monkeypatch.setattr(lb, "DENSE_PAIRS", 10)
    monkeypatch.setattr(lb, "MIN_NEIGHBOURS", 2)
    for seed in (11, 12):
        inst = _instance(9, seed, 3, 0.10)
        lat_spread = inst.lat.copy()
        lat_spread[:3] += 6.0  # three far units: their lists cannot hold every candidate
        inst = LocationInstance(load=inst.load, lat=lat_spread, lon=inst.lon, xy=inst.xy, candidates=inst.candidates,
                                territories=3, lower=inst.lower, upper=inst.upper)
        optimum = _best_over_base_sets(inst, inst.load > 0.5)
        found = lb.location_bound(inst, inst.load * 10.0, optimum, 10.0, 300)
        assert found.pairs < len(inst.load) ** 2
        assert found.value <= optimum + 1e-7 * abs(optimum)


def _pipeline_optimum(scenario) -> float:
    """Brute force through the pipeline's own data: the best plan over every multiset of bases."""
    from dataclasses import replace

    from optimizer.alignment.prepare import prepare
    from optimizer.alignment.problem import alignment_problem
    from optimizer.areas.bases import table_for_units
    from optimizer.core.run import PhaseTimer

    ready = prepare(scenario, PhaseTimer(), lambda _: None)
    best = np.inf
    for bases in itertools.combinations_with_replacement(range(len(ready.units)), scenario.territories.size):
        problem, _ = alignment_problem(scenario, replace(ready, bases=table_for_units(ready.units, np.array(bases), "")))
        try:
            best = min(best, solve_alignment(problem, SolverOptions(20, 1e-9)).bound)
        except Exception:  # these bases cannot reach the band
            continue
    return best


@pytest.mark.parametrize("candidates", [None, {"top": 9}])
def test_reported_location_bound_holds_through_the_pipeline(tmp_path, monkeypatch, candidates):
    """The run's location bound is below the best plan over every choice of bases, also when the location MIP
    keeps only each unit's nearest candidate (its bound then covers those pairs only and must not be used:
    an outside check found such a bound 0.57 % above the true optimum)."""
    import optimizer.alignment.location as location
    from conftest import grid_units, write_scenario
    from optimizer.alignment.pipeline import run_scenario
    from optimizer.core.scenario import load_scenario

    monkeypatch.setattr(location, "ALL_PAIRS_LIMIT", 4)
    monkeypatch.setattr(location, "NEAREST_CANDIDATES", 1)
    grid_units(3, 3, seed=5).to_file(tmp_path / "grid.gpkg", layer="units")
    territories = {"count": 2} | ({"candidates": candidates} if candidates else {})
    path = write_scenario(tmp_path, tmp_path / "grid.gpkg", territories=territories,
                          balance={"tolerance": 0.25}, solver={"time_limit": 20, "target_gap": 0.0})
    scenario = load_scenario(path)
    summary = run_scenario(scenario, tmp_path / "out").summary
    optimum = _pipeline_optimum(scenario)
    assert summary["location_bound"] is not None and summary["location_gap"] is not None
    assert summary["location_bound"] <= optimum * (1 + 1e-7) + 1e-9
    assert summary["objective"] >= optimum * (1 - 1e-7) - 1e-9


def test_run_summary_words_both_bounds():
    from pathlib import Path

    from optimizer.outputs.report import summary_lines

    summary = {"scenario": "s", "status": "optimal", "units": 3, "territories": 2, "objective": 10.0,
               "objective_unit": "km", "bound": 9.9, "gap": 0.01, "target_gap": 0.01, "location_bound": 9.0,
               "location_gap": 0.1, "location_bound_scope": "every unit a possible base",
               "band": {"max_abs_deviation_pct": 1.0, "tolerance": 0.05, "territories_outside_band": []},
               "shared_units": [], "bases": "b", "seconds": {"total": 1.0}, "checks_passed": [], "notes": []}
    lines = summary_lines(summary, Path("out"))
    assert any(line.startswith("bound ") and "best plan with these bases" in line for line in lines)
    assert any(line.startswith("location ") and "10.000%: best plan with any bases" in line for line in lines)
    given = summary | {"location_bound": None, "location_gap": None}
    assert any("the bases are given" in line for line in summary_lines(given, Path("out")))

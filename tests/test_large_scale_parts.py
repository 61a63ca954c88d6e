"""The pieces the ZIP-level pipeline adds: bisection bases, band repair by moves and swaps, windows."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.areas.bases import balanced_bisection
from optimizer.alignment.solve.band_repair import repair_band
from optimizer.alignment.solve.pair_model import PairModel
from optimizer.alignment.solve.repair import out_of_band
from optimizer.alignment.solve.restricted import AlignmentProblem, Clock
from optimizer.solver.highs import SolverOptions, solve
from optimizer.alignment.solve.window_search import improve_by_windows


def _problem(n: int, k: int, seed: int, tolerance: float = 0.1) -> AlignmentProblem:
    rng = np.random.default_rng(seed)
    units = rng.uniform(0, 400, (n, 2))
    bases = units[rng.choice(n, k, replace=False)]
    load = rng.lognormal(0, 0.5, n)
    load *= k / load.sum()
    distance = np.hypot(*(units[:, None, :] - bases[None, :, :]).transpose(2, 0, 1))
    return AlignmentProblem(load=load, distance_km=distance, shared=np.zeros(n, bool),
                            lower=np.full(k, 1 - tolerance), upper=np.full(k, 1 + tolerance), penalty=None)


def _optimum(problem: AlignmentProblem) -> float:
    everything = np.ones(problem.distance_km.shape, bool)
    model = PairModel(problem, everything, Clock(60), 1e4).restricted(everything, None, Clock(60))
    result = solve(model.compiled, SolverOptions(60, 1e-9))
    assert result.status.value == "optimal"
    return result.objective


@pytest.mark.parametrize("count", [1, 7, 50])
def test_bisection_parts_are_balanced_and_cover_every_unit_once(count):
    rng = np.random.default_rng(count)
    xy = rng.normal(0, 1e5, (3000, 2))
    workload = rng.lognormal(0, 1, 3000)
    chosen, pairs = balanced_bisection(xy, workload, count)
    assert len(chosen) == count
    assert np.array_equal(np.sort(pairs[:, 0]), np.arange(3000))  # no unit heavier than half a territory here
    loads = np.bincount(pairs[:, 1], weights=workload[pairs[:, 0]], minlength=count)
    target = workload.sum() / count
    assert np.all(np.abs(loads - target) <= workload.max() * np.ceil(np.log2(max(count, 2))) + 1e-9)
    for part in range(count):  # each base is a member of its own part
        assert chosen[part] in pairs[pairs[:, 1] == part, 0]


def test_band_repair_puts_a_rounded_plan_back_in_the_band_moving_whole_units():
    problem = _problem(400, 8, seed=2, tolerance=0.05)
    nearest_base = np.argmin(problem.distance_km, axis=1)
    grid = np.zeros(problem.distance_km.shape)
    grid[np.arange(400), nearest_base] = 1.0
    assert out_of_band(grid, problem.load, problem.lower, problem.upper).size > 0
    repaired = repair_band(grid, problem.cost, problem.load, problem.shared, problem.lower, problem.upper, 10)
    assert set(np.unique(repaired)) <= {0.0, 1.0} and np.all(repaired.sum(axis=1) == 1)
    assert out_of_band(repaired, problem.load, problem.lower, problem.upper).size == 0


def test_windows_covering_every_territory_reach_the_optimum_and_never_leave_the_band():
    problem = _problem(60, 4, seed=4, tolerance=0.15)  # 4 territories: one window holds them all
    repaired = repair_band(np.eye(4)[np.arange(60) % 4], problem.cost, problem.load, problem.shared,
                           problem.lower, problem.upper, 10)
    assert out_of_band(repaired, problem.load, problem.lower, problem.upper).size == 0
    start = problem.plan_cost(repaired)
    reduced = np.zeros(problem.distance_km.shape)  # every pair is among a unit's 4 alternatives anyway
    improved, solved = improve_by_windows(problem, repaired.copy(), repaired, reduced, SolverOptions(30, 0.0), 30,
                                          None)
    assert solved >= 1
    assert out_of_band(improved, problem.load, problem.lower, problem.upper).size == 0
    assert problem.plan_cost(improved) <= start
    assert problem.plan_cost(improved) == pytest.approx(_optimum(problem), rel=2e-4)

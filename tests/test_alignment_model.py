"""The alignment model and its certified solve, against brute-force enumeration on small instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optimizer.alignment.solve.align import AlignmentProblem, solve_alignment
from optimizer.core.errors import InfeasibleError
from optimizer.solver.highs import SolverOptions, SolveStatus

EXACT = SolverOptions(time_limit=30, target_gap=0.0)


def random_problem(seed: int, units: int = 8, territories: int = 3, tolerance: float = 0.25,
                   penalty: float | None = None) -> AlignmentProblem:
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 500, (units, 2))
    bases = points[rng.choice(units, territories, replace=False)] + rng.normal(0, 20, (territories, 2))
    workload = rng.lognormal(0, 0.6, units)
    load = workload / (workload.sum() / territories)
    distance = np.hypot(*(points[:, None, :] - bases[None, :, :]).transpose(2, 0, 1))
    return AlignmentProblem(load=load, distance_km=distance, shared=np.zeros(units, bool),
                            lower=np.full(territories, 1 - tolerance), upper=np.full(territories, 1 + tolerance),
                            penalty=penalty)


def brute_force(problem: AlignmentProblem) -> float:
    """Best objective over every whole-unit assignment (inf if none is feasible)."""
    n, k = problem.distance_km.shape
    best = np.inf
    for owners in itertools.product(range(k), repeat=n):
        owners = np.asarray(owners)
        loads = np.bincount(owners, weights=problem.load, minlength=k)
        outside = np.maximum(problem.lower - loads, 0) + np.maximum(loads - problem.upper, 0)
        if problem.penalty is None and outside.sum() > 1e-9:
            continue
        cost = problem.cost[np.arange(n), owners].sum() + (problem.penalty or 0) * outside.sum()
        best = min(best, cost)
    return best


@pytest.mark.parametrize("seed, tolerance", [(s, 0.25) for s in range(6)] + [(s, 0.02) for s in range(3)])
def test_optimum_equals_brute_force_with_a_hard_band(seed, tolerance):
    problem = random_problem(seed, tolerance=tolerance)
    expected = brute_force(problem)
    if not np.isfinite(expected):
        with pytest.raises(InfeasibleError):
            solve_alignment(problem, EXACT)
        return
    solution = solve_alignment(problem, EXACT)
    assert solution.status is SolveStatus.OPTIMAL
    assert solution.objective == pytest.approx(expected, rel=1e-6)
    assert solution.bound <= expected + 1e-6, "the certified bound may never exceed the true optimum"


@pytest.mark.parametrize("seed", range(3))
def test_optimum_equals_brute_force_with_a_soft_band(seed):
    problem = random_problem(seed, tolerance=0.05, penalty=300.0)
    solution = solve_alignment(problem, EXACT)
    assert solution.objective == pytest.approx(brute_force(problem), rel=1e-6)


def test_bound_is_certified_for_the_full_model_when_the_gap_is_loose():
    problem = random_problem(11, units=9, territories=3, tolerance=0.3)
    expected = brute_force(problem)
    solution = solve_alignment(problem, SolverOptions(time_limit=30, target_gap=0.2))
    assert solution.bound <= expected + 1e-6 <= solution.objective + 1e-6
    assert solution.gap <= 0.2


def test_shared_unit_is_split_with_shares_adding_up_to_one():
    problem = random_problem(3, units=6, territories=3, tolerance=0.05)
    load = problem.load.copy()
    load[0] = 2.2  # one unit carries more than two territories' worth
    load = load / (load.sum() / 3)
    shared = load > 0.5
    problem = AlignmentProblem(load=load, distance_km=problem.distance_km, shared=shared,
                               lower=problem.lower, upper=problem.upper, penalty=None)
    solution = solve_alignment(problem, EXACT)
    rows = solution.unit_index == 0
    assert rows.sum() >= 2
    assert solution.share[rows].sum() == pytest.approx(1.0)
    loads = np.bincount(solution.territory_index, weights=load[solution.unit_index] * solution.share, minlength=3)
    assert np.all(loads <= 1.05 + 1e-6) and np.all(loads >= 0.95 - 1e-6)


def test_local_search_never_worsens_a_plan_nor_breaks_its_band():
    from optimizer.alignment.solve.local_search import improve_plan

    problem = random_problem(5, units=40, territories=4, tolerance=0.15)
    solution = solve_alignment(problem, SolverOptions(time_limit=30, target_gap=0.5))
    grid = np.zeros(problem.distance_km.shape)
    grid[solution.unit_index, solution.territory_index] = solution.share
    better = improve_plan(grid, problem.cost, problem.load, problem.shared, problem.lower, problem.upper, 5.0)
    assert problem.plan_cost(better) <= problem.plan_cost(grid) + 1e-9
    assert np.all(problem.outside_band(better) <= 1e-9)
    assert np.allclose(better.sum(axis=1), 1.0)

"""The dive on heavy units: it makes them whole in the LP, leaves the pricing session as it found it, and the
certified pipeline that uses it still ends at the brute-force optimum (or proves there is none)."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.alignment.solve.align import first_pairs, price_full_lp, solve_alignment
from optimizer.alignment.solve.dive import dive, heavy_units, split_heavy
from optimizer.core.errors import InfeasibleError
from optimizer.alignment.solve.pair_model import PairModel
from optimizer.alignment.solve.restricted import ELASTIC_PRICE, AlignmentProblem, Clock
from optimizer.solver.highs import SolverOptions, SolveStatus
from tests.test_alignment_model import brute_force, random_problem

EXACT = SolverOptions(time_limit=30, target_gap=0.0)


def _heavy_problem(n: int = 80, k: int = 6, seed: int = 5) -> AlignmentProblem:
    rng = np.random.default_rng(seed)
    units, bases = rng.uniform(0, 400, (n, 2)), rng.uniform(0, 400, (k, 2))
    load = rng.lognormal(0, 1.1, n)
    load *= k / load.sum()
    distance = np.hypot(*(units[:, None, :] - bases[None, :, :]).transpose(2, 0, 1))
    return AlignmentProblem(load=load, distance_km=distance, shared=load > 0.5, lower=np.full(k, 0.95),
                            upper=np.full(k, 1.05), penalty=None)


def test_dive_makes_heavy_units_whole_and_restores_the_session():
    problem = _heavy_problem()
    clock = Clock(60)
    model = PairModel(problem, first_pairs(problem), clock, ELASTIC_PRICE)
    lp, _ = price_full_lp(problem, EXACT, clock, model)
    assert split_heavy(problem, lp.shares).any(), "the instance must split a heavy unit for the test to mean anything"

    dived = dive(model, EXACT, clock, lp.shares, ELASTIC_PRICE, seconds=30)

    held = np.flatnonzero(dived.held >= 0)
    assert held.size and heavy_units(problem)[held].all()
    assert np.allclose(dived.shares[held, dived.held[held]], 1.0)
    assert not (split_heavy(problem, dived.shares) & ~dived.refused).any()
    assert np.allclose(dived.shares.sum(axis=1), 1.0)
    loads = problem.load @ dived.shares
    assert (loads >= problem.lower - 1e-7).all() and (loads <= problem.upper + 1e-7).all()
    assert dived.objective >= lp.value - 1e-6, "holding units can only raise the LP value"
    again = model.solve_lp(EXACT, clock, ELASTIC_PRICE)
    assert again.objective == pytest.approx(lp.value, rel=1e-9), "the dive must release every unit it held"


@pytest.mark.parametrize("seed", [4, 16, 21, 40])
def test_pipeline_through_the_dive_reaches_the_brute_force_optimum(seed):
    problem = random_problem(seed, units=9, territories=3, tolerance=0.05)
    solution = solve_alignment(problem, EXACT)
    assert "dive" in [stage["stage"] for stage in solution.stages], "this instance is chosen to go through the dive"
    expected = brute_force(problem)
    assert solution.status is SolveStatus.OPTIMAL
    assert solution.objective == pytest.approx(expected, rel=1e-6)
    assert solution.bound <= expected + 1e-6


@pytest.mark.parametrize("seed", [23, 51])
def test_a_dive_does_not_hide_an_infeasible_band(seed):
    problem = random_problem(seed, units=9, territories=3, tolerance=0.05)
    assert not np.isfinite(brute_force(problem))
    with pytest.raises(InfeasibleError):
        solve_alignment(problem, EXACT)

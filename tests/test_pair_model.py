"""A model grown by columns must be the model Pyomo builds over the same pairs, row for row."""

from __future__ import annotations

import numpy as np
import pytest

from models.alignment import AlignmentData, build
from optimizer.alignment.solve.pair_model import PairModel
from optimizer.alignment.solve.repair import nearest
from optimizer.alignment.solve.restricted import AlignmentProblem, Clock
from optimizer.solver.highs import SolverOptions, compile_model


def _problem(n: int = 40, k: int = 5, seed: int = 3, penalty: float | None = None) -> AlignmentProblem:
    rng = np.random.default_rng(seed)
    units, bases = rng.uniform(0, 300, (n, 2)), rng.uniform(0, 300, (k, 2))
    load = rng.lognormal(0, 0.6, n)
    load *= k / load.sum()
    shared = np.zeros(n, bool)
    shared[np.argmax(load)] = True
    distance = np.hypot(*(units[:, None, :] - bases[None, :, :]).transpose(2, 0, 1))
    return AlignmentProblem(load=load, distance_km=distance, shared=shared, lower=np.full(k, 0.9),
                            upper=np.full(k, 1.1), penalty=penalty)


@pytest.mark.parametrize("penalty", [None, 250.0])
def test_grown_model_equals_pyomo_model_over_the_same_pairs(penalty):
    problem = _problem(penalty=penalty)
    grown = PairModel(problem, nearest(problem.distance_km, 2), Clock(60), 1e5)
    grown.add(nearest(problem.distance_km, 3))
    pairs = nearest(problem.distance_km, 4)
    pairs[::7, 0] = True
    restricted = grown.restricted(pairs, penalty, Clock(60))

    unit, territory = np.nonzero(pairs)
    data = AlignmentData(load=problem.load, shared=problem.shared, pair_unit=unit, pair_territory=territory,
                         pair_cost=problem.cost[unit, territory], lower=problem.lower, upper=problem.upper,
                         penalty=penalty)
    pyomo = compile_model(build(data))
    assert [r.name for r in pyomo.rows] == [r.name for r in restricted.compiled.rows]
    np.testing.assert_array_equal(restricted.unit, unit)
    np.testing.assert_array_equal(restricted.territory, territory)
    mine, theirs = restricted.compiled, pyomo
    np.testing.assert_allclose(mine.matrix.toarray(), theirs.matrix.toarray())
    for name in ("cost", "row_lower", "row_upper", "col_lower", "col_upper", "integer"):
        np.testing.assert_array_equal(getattr(mine, name), getattr(theirs, name), err_msg=name)


def test_lp_priced_in_one_session_equals_lp_over_all_pairs():
    from optimizer.alignment.solve.align import price_full_lp
    from optimizer.solver.highs import solve

    problem = _problem(n=300, k=25, seed=5)
    lp, stages = price_full_lp(problem, SolverOptions(60, 0.0), Clock(60))
    everything = PairModel(problem, np.ones(problem.distance_km.shape, bool), Clock(60), 1e5)
    full = solve(everything.restricted(np.ones(problem.distance_km.shape, bool), None, Clock(60)).compiled,
                 SolverOptions(60, 0.0), relax=True)
    assert len(stages) >= 2  # columns entered after the first LP
    assert lp.value == pytest.approx(full.objective, rel=1e-7)

"""The sizing model against independent optimisers: scipy for concave curves, a fine grid for S-shaped
ones. The model's plan must be within its reported error bound of the true optimum, its bound must
hold, and its own profit must never exceed the true curves' value by more than the error bound."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from models.response import Adbudg, PowerLaw
from models.sizing import SizingData
from models.sizing_envelope import envelope
from optimizer.sizing.curve import compile_sizing, solve_at, solve_curve, true_profit
from optimizer.solver.highs import SolverOptions

OPTIONS = SolverOptions(time_limit=30, target_gap=1e-7)
REP_HOURS, REP_COST = 1600.0, 150_000.0


def sizing_data(curves, margin, hours, lo, hi, tolerance, n_range=(0, 60)) -> SizingData:
    envelopes = tuple(envelope(c, a, b, tolerance * float(c.value(b))) for c, a, b in zip(curves, lo, hi))
    return SizingData(margin=np.asarray(margin, float), hours=np.asarray(hours, float), effort_lo=np.asarray(lo, float),
                      effort_hi=np.asarray(hi, float), envelopes=envelopes, rep_hours=REP_HOURS, rep_cost=REP_COST,
                      headcount_lo=n_range[0], headcount_hi=n_range[1])


CONCAVE = [Adbudg(2e5, 4e6, 1.0, 3000), Adbudg(1e5, 2.5e6, 0.8, 1500), PowerLaw(9000, 0.6), Adbudg(0, 1.2e6, 0.9, 800)]
MARGIN, HOURS = [0.4, 0.35, 0.3, 0.45], [1.5, 2.0, 2.5, 3.0]
LO, HI = [500, 0, 0, 100], [40_000, 30_000, 25_000, 15_000]


def scipy_best(curves, margin, hours, lo, hi, capacity) -> tuple[float, np.ndarray]:
    """Maximise the true contribution under the capacity with SLSQP from several starts."""
    margin, hours, lo, hi = (np.asarray(v, float) for v in (margin, hours, lo, hi))
    scale = hi.max()

    def negative(z):
        return -sum(m * float(c.value(x)) for m, c, x in zip(margin, curves, z * scale)) / 1e6

    cons = [{"type": "ineq", "fun": lambda z: (capacity - hours @ (z * scale)) / capacity}]
    best = None
    for share in (0.2, 0.5, 0.9):
        start = np.clip(lo + share * capacity / hours.sum() / len(lo), lo, hi) / scale
        res = minimize(negative, start, method="SLSQP", bounds=list(zip(lo / scale, hi / scale)), constraints=cons,
                       options={"ftol": 1e-12, "maxiter": 500})
        if best is None or res.fun < best.fun:
            best = res
    return -best.fun * 1e6, best.x * scale


@pytest.fixture(scope="module")
def concave_model():
    data = sizing_data(CONCAVE, MARGIN, HOURS, LO, HI, tolerance=1e-4)
    return data, compile_sizing(data)


@pytest.mark.parametrize("headcount", [3, 8, 15, 30, 45])
def test_concave_split_matches_scipy_within_the_error_bound(concave_model, headcount):
    data, sizing = concave_model
    assert sizing.only_headcount_is_integer, "concave curves need no binaries"
    point = solve_at(sizing, headcount, OPTIONS)
    model = true_profit(point.effort, CONCAVE, data.margin, REP_COST, headcount)["contribution"]
    reference, effort = scipy_best(CONCAVE, MARGIN, HOURS, LO, HI, REP_HOURS * headcount)
    bound = data.error_bound
    assert model >= reference - bound - 1e-6 * reference, "the model's plan is worse than the error bound allows"
    assert reference <= point.upper + REP_COST * headcount + 1e-6 * reference, "the bound does not hold"
    assert point.model_profit + REP_COST * headcount - model <= bound + 1e-6 * model
    capacity = REP_HOURS * headcount
    assert np.abs(point.effort * HOURS - effort * HOURS).sum() <= 0.02 * capacity, "a different effort split"


def test_model_profit_never_exceeds_the_true_curves_by_more_than_the_error_bound():
    curves = [Adbudg(0, 3e6, 2.2, 4000), Adbudg(1e5, 2e6, 1.5, 2500), Adbudg(0, 1e6, 0.7, 900)]
    data = sizing_data(curves, [0.4, 0.4, 0.4], [1.5, 2.5, 3.0], [0, 0, 0], [30_000, 20_000, 10_000], 1e-3,
                       n_range=(1, 40))
    sizing = compile_sizing(data)
    assert not sizing.only_headcount_is_integer, "S-shaped curves need binaries"
    points, complete = solve_curve(sizing, range(1, 41), OPTIONS)
    assert complete and len(points) == 40
    for point in points:
        true = true_profit(point.effort, curves, data.margin, REP_COST, point.headcount)["profit"]
        assert -1e-6 * abs(true) <= point.model_profit - true <= data.error_bound + 1e-6 * abs(true)
        assert point.upper >= true - 1e-6 * abs(true)


def test_s_shaped_split_matches_a_grid_search_within_the_error_bound():
    curves = [Adbudg(0, 3e6, 2.5, 5000), Adbudg(0, 2e6, 1.8, 3000)]
    hours, hi = np.array([1.0, 1.0]), np.array([24_000.0, 24_000.0])
    data = sizing_data(curves, [0.5, 0.5], hours, [0, 0], hi, 1e-4, n_range=(1, 15))
    sizing = compile_sizing(data)
    for headcount in (2, 5, 9, 14):
        capacity = REP_HOURS * headcount
        x1 = np.linspace(0, min(capacity, hi[0]), 200_001)
        x2 = np.clip(capacity - x1, 0, hi[1])  # both curves rise, so all capacity is used
        grid = (0.5 * (curves[0].value(x1) + curves[1].value(x2))).max()
        point = solve_at(sizing, headcount, OPTIONS)
        model = true_profit(point.effort, curves, data.margin, REP_COST, headcount)["contribution"]
        step = 0.5 * float(curves[0].slope(curves[0].inflection)) * (x1[1] - x1[0])  # grid resolution
        assert model >= grid - data.error_bound - step - 1e-6 * grid
        assert grid <= point.upper + REP_COST * headcount + 1e-6 * grid

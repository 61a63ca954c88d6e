"""Response curves and their linear envelopes: the envelope never falls below the curve and never rises
above it by more than its reported error; bad parameters are refused; fits recover known curves."""

from __future__ import annotations

import numpy as np
import pytest

from models.response import Adbudg, CurveError, Piecewise, PowerLaw, is_concave
from models.sizing_envelope import envelope, scaled
from optimizer.core.errors import InputError
from optimizer.sizing.fit import fit_curve

CURVES = [
    Adbudg(0, 100, 0.6, 10),  # concave, infinite slope at 0
    Adbudg(5, 100, 1.0, 10),  # concave
    Adbudg(0, 100, 2.5, 10),  # S-shaped
    Adbudg(2, 50, 1.8, 3),  # S-shaped
    PowerLaw(3, 0.5),
    PowerLaw(1, 1.0, 4),  # linear
    Piecewise((0, 5, 10, 20), (0, 1, 10, 12)),  # convex kink then concave
    Piecewise((0, 10, 30), (5, 25, 30)),  # concave
]


@pytest.mark.parametrize("curve", CURVES, ids=lambda c: repr(c)[:40])
@pytest.mark.parametrize("lo, hi", [(0.0, 200.0), (1.0, 20.0), (7.5, 7.5)])
def test_envelope_lies_above_the_curve_by_at_most_its_error(curve, lo, hi):
    if isinstance(curve, Piecewise):
        hi = min(hi, curve.efforts[-1])
    tolerance = 1e-3 * float(curve.value(hi))
    env = envelope(curve, lo, hi, tolerance)
    x = np.linspace(lo, hi, 20_001)
    over = env.value(x) - curve.value(x)
    assert over.min() >= -1e-9 * max(1.0, float(curve.value(hi)))
    assert over.max() <= env.error + 1e-9 * max(1.0, float(curve.value(hi)))
    assert env.error <= tolerance + 1e-12
    assert env.needs_binaries == (not is_concave(curve, lo, hi))


def test_random_curves_keep_the_envelope_promise():
    rng = np.random.default_rng(7)
    for _ in range(40):
        curve = Adbudg(rng.uniform(0, 5), rng.uniform(10, 1000), rng.uniform(0.3, 4), rng.uniform(0.5, 50))
        hi = rng.uniform(1, 300)
        env = envelope(curve, 0.0, hi, 1e-3 * float(curve.value(hi)))
        x = np.concatenate([np.linspace(0, hi, 5001), rng.uniform(0, hi, 5000)])
        over = env.value(x) - curve.value(x)
        assert over.min() >= -1e-9 * float(curve.value(hi))
        assert over.max() <= env.error * (1 + 1e-9) + 1e-12


def test_scaling_an_envelope_is_the_envelope_of_the_scaled_curve():
    curve = Adbudg(1, 20, 1.6, 4)
    env = envelope(curve, 0, 40, 0.01)
    accounts = 37.5
    big, big_env = curve.scaled(accounts), scaled(env, accounts)
    x = np.linspace(0, 40 * accounts, 4001)
    assert np.allclose(big.value(x), accounts * curve.value(x / accounts))
    over = big_env.value(x) - big.value(x)
    assert over.min() >= -1e-7 and over.max() <= big_env.error + 1e-7
    assert big_env.error == pytest.approx(accounts * env.error)


@pytest.mark.parametrize("make, message", [
    (lambda: Adbudg(0, 100, 0, 10), "shape must be > 0"),
    (lambda: Adbudg(50, 40, 1, 10), "max (40) must be above min (50)"),
    (lambda: Adbudg(0, 100, 1, -1), "half_saturation must be > 0"),
    (lambda: PowerLaw(1, 1.5), "exponent must be in (0, 1]"),
    (lambda: Piecewise((0, 5, 5), (0, 1, 2)), "efforts must strictly increase"),
    (lambda: Piecewise((0, 5), (3, 1)), "responses must not fall"),
    (lambda: Piecewise((0,), (1,)), "at least two"),
])
def test_bad_curve_parameters_are_refused(make, message):
    with pytest.raises(CurveError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_fit_recovers_a_known_adbudg_curve_and_reports_the_fit():
    truth = Adbudg(3000, 25000, 1.3, 5)
    x = np.array([0, 1, 2, 4, 6, 9, 12, 18, 26, 40])
    points = list(zip(x.tolist(), truth.value(x).tolist()))
    curve, report = fit_curve("adbudg", points, "segments.0.curve.adbudg.points")
    assert report.points == 10 and report.r2 > 0.999999
    assert curve.shape == pytest.approx(1.3, rel=1e-3)
    assert curve.half_saturation == pytest.approx(5, rel=1e-3)


def test_fit_reports_a_poor_fit_honestly():
    rng = np.random.default_rng(1)
    x = np.linspace(0, 20, 12)
    y = 1000 + 800 * x ** 0.5 + rng.normal(0, 900, x.size).clip(-900, 900) + 900
    curve, report = fit_curve("power", list(zip(x, y)), "where")
    assert 0 < curve.exponent <= 1
    assert report.r2 < 0.99 and report.rmse > 100


def test_fit_needs_points_at_three_efforts():
    with pytest.raises(InputError, match="at least three different efforts") as err:
        fit_curve("adbudg", [(1, 5), (1, 6), (2, 7), (2, 8)], "segments.2.curve.adbudg.points")
    assert err.value.line().startswith("segments.2.curve.adbudg.points:")

"""Fitting a response curve to observed (effort, sales) points with ``scipy.optimize.curve_fit``.

The fit is reported beside the parameters: R², root-mean-square error and the largest residual, so a
curve that does not describe the data is visible in summary.json and on the sizing page.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from models.response import Adbudg, CurveError, PowerLaw
from optimizer.core.errors import InputError

POOR_FIT_R2 = 0.8


@dataclass(frozen=True)
class FitReport:
    """How well a fitted curve matches its points."""

    points: int
    r2: float
    rmse: float
    max_abs_residual: float

    def as_dict(self) -> dict:
        return {"points": self.points, "r2": self.r2, "rmse": self.rmse, "max_abs_residual": self.max_abs_residual}


def _adbudg(x, lo, hi, shape, half):
    u = (np.maximum(x, 0) / half) ** shape
    return lo + (hi - lo) * u / (1 + u)


def _power(x, intercept, scale, exponent):
    return intercept + scale * np.maximum(x, 0) ** exponent


def fit_curve(kind: str, points: list[tuple[float, float]], where: str) -> tuple[Adbudg | PowerLaw, FitReport]:
    """Fit an ``adbudg`` or ``power`` curve to ``points``; :class:`InputError` naming ``where`` if impossible."""
    x, y = _checked_points(points, where)
    if kind == "adbudg":
        guess = [max(float(y.min()), 0.0), float(y.max()) * 1.2 + 1e-9, 1.0, float(np.median(x[x > 0]))]
        bounds = ([0, 0, 0.05, 1e-9], [np.inf, np.inf, 20, np.inf])
        params = _least_squares(_adbudg, x, y, guess, bounds, where)
        make = lambda p: Adbudg(float(p[0]), max(float(p[1]), float(p[0]) * (1 + 1e-9) + 1e-9), float(p[2]),
                                float(p[3]))
        model = _adbudg
    else:
        guess = [max(float(y.min()), 0.0), float(y.max()) / max(float(x.max()), 1e-9) ** 0.5, 0.5]
        bounds = ([0, 1e-12, 0.01], [np.inf, np.inf, 1.0])
        params = _least_squares(_power, x, y, guess, bounds, where)
        make = lambda p: PowerLaw(float(p[1]), float(p[2]), float(p[0]))
        model = _power
    try:
        curve = make(params)
    except CurveError as exc:
        raise InputError(where, f"the fitted curve is not a response curve ({exc})",
                         "check the points, or give the parameters instead") from None
    return curve, _report(x, y, model(x, *params))


def _checked_points(points: list[tuple[float, float]], where: str) -> tuple[np.ndarray, np.ndarray]:
    data = np.asarray(points, dtype=float)
    if not np.all(np.isfinite(data)) or np.any(data < 0):
        raise InputError(where, "points must be finite and >= 0", "fix the (effort, sales) observations")
    x, y = data[:, 0], data[:, 1]
    if np.unique(x).size < 3 or not np.any(x > 0):
        raise InputError(where, "points need at least three different efforts, one of them above 0",
                         "add observations at other effort levels")
    return x, y


def _least_squares(model, x, y, guess, bounds, where: str) -> np.ndarray:
    guess = np.clip(guess, np.asarray(bounds[0]) + 1e-12, np.asarray(bounds[1]) - 1e-12)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            params, _ = curve_fit(model, x, y, p0=guess, bounds=bounds, maxfev=20_000)
    except (RuntimeError, ValueError) as exc:
        raise InputError(where, f"the curve could not be fitted to the points ({exc})",
                         "check the points, or give the parameters instead") from None
    return params


def _report(x: np.ndarray, y: np.ndarray, fitted: np.ndarray) -> FitReport:
    residual = y - fitted
    total = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((residual**2).sum()) / total if total > 0 else 1.0
    return FitReport(points=len(x), r2=r2, rmse=float(np.sqrt((residual**2).mean())),
                     max_abs_residual=float(np.abs(residual).max()))

r"""Sales response curves: a segment's sales per year as a function of the selling effort it gets.

Curves (effort :math:`x \ge 0`, e.g. calls per year; response in currency per year)
    =============  ==================================================================================
    ``Adbudg``     ADBUDG (Little 1970): :math:`r(x) = m + (M - m)\,\frac{x^c}{h^c + x^c}` with
                   ``min`` :math:`m`, ``max`` :math:`M`, ``shape`` :math:`c` and ``half_saturation``
                   :math:`h` (the effort that earns half of :math:`M - m`). Concave for
                   :math:`c \le 1`; S-shaped for :math:`c > 1`, convex up to the inflection
                   :math:`x^* = h\,((c-1)/(c+1))^{1/c}` and concave after it.
    ``PowerLaw``   :math:`r(x) = m + a\,x^b` with ``intercept`` :math:`m`, ``scale`` :math:`a` and
                   ``exponent`` :math:`0 < b \le 1` (concave).
    ``Piecewise``  linear interpolation through user points :math:`(x_k, y_k)`; concave where the
                   slopes fall, with a convex kink wherever a slope rises.
    =============  ==================================================================================

Every curve gives ``value(x)``, ``slope(x)`` and ``regions(lo, hi)``: the sub-intervals of
``[lo, hi]`` on which it is concave or convex, which is what the linearisation in
:mod:`models.sizing_envelope` needs. ``scaled(p)`` turns a per-account curve into the curve of ``p``
accounts that each get ``x / p`` of the effort: :math:`R(x) = p\,r(x / p)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

Region = tuple[float, float, bool]  # (lo, hi, concave)


@dataclass(frozen=True)
class Adbudg:
    """ADBUDG response: ``min + (max - min) x^shape / (half_saturation^shape + x^shape)``."""

    min: float
    max: float
    shape: float
    half_saturation: float

    def __post_init__(self) -> None:
        _require(self.min >= 0, f"min must be >= 0, got {self.min}")
        _require(self.max > self.min, f"max ({self.max}) must be above min ({self.min})")
        _require(self.shape > 0, f"shape must be > 0, got {self.shape}")
        _require(self.half_saturation > 0, f"half_saturation must be > 0, got {self.half_saturation}")

    def value(self, x: np.ndarray | float) -> np.ndarray:
        u = (np.maximum(np.asarray(x, dtype=float), 0.0) / self.half_saturation) ** self.shape
        return self.min + (self.max - self.min) * u / (1.0 + u)

    def slope(self, x: np.ndarray | float) -> np.ndarray:
        x = np.maximum(np.asarray(x, dtype=float), 1e-300)
        u = (x / self.half_saturation) ** self.shape
        return (self.max - self.min) * self.shape * u / (x * (1.0 + u) ** 2)

    @property
    def inflection(self) -> float:
        """Effort where the curve turns from convex to concave (0 when it is concave throughout)."""
        c = self.shape
        return 0.0 if c <= 1 else self.half_saturation * ((c - 1) / (c + 1)) ** (1 / c)

    def regions(self, lo: float, hi: float) -> list[Region]:
        return _split_at(lo, hi, self.inflection)

    def scaled(self, accounts: float) -> Adbudg:
        return Adbudg(self.min * accounts, self.max * accounts, self.shape, self.half_saturation * accounts)


@dataclass(frozen=True)
class PowerLaw:
    """Power-law response ``intercept + scale * x^exponent`` with ``0 < exponent <= 1``."""

    scale: float
    exponent: float
    intercept: float = 0.0

    def __post_init__(self) -> None:
        _require(self.scale > 0, f"scale must be > 0, got {self.scale}")
        _require(0 < self.exponent <= 1, f"exponent must be in (0, 1] (concave), got {self.exponent}")
        _require(self.intercept >= 0, f"intercept must be >= 0, got {self.intercept}")

    def value(self, x: np.ndarray | float) -> np.ndarray:
        return self.intercept + self.scale * np.maximum(np.asarray(x, dtype=float), 0.0) ** self.exponent

    def slope(self, x: np.ndarray | float) -> np.ndarray:
        x = np.maximum(np.asarray(x, dtype=float), 1e-300)
        return self.scale * self.exponent * x ** (self.exponent - 1)

    def regions(self, lo: float, hi: float) -> list[Region]:
        return [(lo, hi, True)]

    def scaled(self, accounts: float) -> PowerLaw:
        return PowerLaw(self.scale * accounts ** (1 - self.exponent), self.exponent, self.intercept * accounts)


@dataclass(frozen=True)
class Piecewise:
    """Linear interpolation through ``(effort, response)`` points with strictly increasing effort."""

    efforts: tuple[float, ...]
    responses: tuple[float, ...]

    def __post_init__(self) -> None:
        x, y = np.asarray(self.efforts, float), np.asarray(self.responses, float)
        _require(len(x) == len(y) and len(x) >= 2, "give at least two (effort, response) points")
        _require(bool(np.all(np.isfinite(x)) and np.all(np.isfinite(y))), "points must be finite numbers")
        _require(x[0] >= 0 and bool(np.all(y >= 0)), "efforts and responses must be >= 0")
        _require(bool(np.all(np.diff(x) > 0)), "efforts must strictly increase from point to point")
        _require(bool(np.all(np.diff(y) >= 0)), "responses must not fall as effort grows")

    def value(self, x: np.ndarray | float) -> np.ndarray:
        return np.interp(np.asarray(x, dtype=float), self.efforts, self.responses)

    def slope(self, x: np.ndarray | float) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        slopes = np.diff(self.responses) / np.diff(self.efforts)
        index = np.clip(np.searchsorted(self.efforts, x, side="right") - 1, 0, len(slopes) - 1)
        return slopes[index]

    def segments_within(self, lo: float, hi: float) -> list[tuple[float, float, float, float]]:
        """The linear pieces ``(x0, x1, intercept, slope)`` that overlap ``[lo, hi]``."""
        x, y = np.asarray(self.efforts), np.asarray(self.responses)
        pieces = []
        for k in range(len(x) - 1):
            a, b = max(lo, x[k]), min(hi, x[k + 1])
            if b > a or (lo == hi == a):
                slope = (y[k + 1] - y[k]) / (x[k + 1] - x[k])
                pieces.append((float(a), float(b), float(y[k] - slope * x[k]), float(slope)))
        return pieces

    def regions(self, lo: float, hi: float) -> list[Region]:
        """Runs of falling slopes; a rising slope (convex kink) starts a new run."""
        pieces = self.segments_within(lo, hi)
        regions, start = [], pieces[0][0]
        for before, after in pairwise(pieces):
            if after[3] > before[3] + 1e-12 * max(1.0, abs(before[3])):
                regions.append((start, before[1], True))
                start = after[0]
        regions.append((start, pieces[-1][1], True))
        return regions

    def scaled(self, accounts: float) -> Piecewise:
        return Piecewise(tuple(x * accounts for x in self.efforts), tuple(y * accounts for y in self.responses))


Curve = Adbudg | PowerLaw | Piecewise


class CurveError(ValueError):
    """Curve parameters that do not describe a response curve."""


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise CurveError(message)


def _split_at(lo: float, hi: float, inflection: float) -> list[Region]:
    if inflection <= lo:
        return [(lo, hi, True)]
    if inflection >= hi:
        return [(lo, hi, False)]
    return [(lo, inflection, False), (inflection, hi, True)]


def is_concave(curve: Curve, lo: float, hi: float) -> bool:
    """Whether the curve is concave on the whole of ``[lo, hi]`` (a single point always is)."""
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return True
    regions = curve.regions(lo, hi)
    return len(regions) == 1 and regions[0][2]


def describe(curve: Curve) -> dict:
    """The curve's type and parameters as plain numbers (for summary.json)."""
    if isinstance(curve, Adbudg):
        return {"type": "adbudg", "min": curve.min, "max": curve.max, "shape": curve.shape,
                "half_saturation": curve.half_saturation}
    if isinstance(curve, PowerLaw):
        return {"type": "power", "scale": curve.scale, "exponent": curve.exponent, "intercept": curve.intercept}
    return {"type": "piecewise", "points": [list(p) for p in zip(curve.efforts, curve.responses)]}

r"""Linear upper envelopes of response curves, with a proven bound on how far they overestimate.

A curve :math:`r` on the effort range :math:`[l, u]` is replaced by *pieces*: sub-intervals
:math:`[l_k, u_k]`, each with linear cuts :math:`R \le a_{kj} + b_{kj} x`. Every cut lies on or above
the curve over its piece, so a model that maximises :math:`R` is a **relaxation**: its optimum is an
upper bound on the true optimum. Each piece stores ``error``: the largest overestimate
:math:`\max_{x \in [l_k, u_k]} \min_j (a_{kj} + b_{kj} x) - r(x)`.

- **Concave region** (the whole curve when it is concave): one piece with tangent cuts, refined by
  the sandwich rule (a new tangent where the curve's slope equals the chord slope of the worst gap)
  until the error is below the tolerance. The error of a gap between tangents at :math:`t_a < t_b` is
  attained where they cross; before the first tangent it is attained at :math:`l` (exact formulas).
- **Convex region** (the start of an S-shaped curve): chord pieces, each interval bisected until its
  chord exceeds the curve by at most the tolerance. The model chooses one piece per segment with
  binaries, so a segment with a convex region costs binaries; a concave one costs none.
- **Piecewise-linear user curves**: their own lines, one piece per concave run: exact (error 0).

Every error is also checked on a grid of 2,049 points per piece and the larger figure is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from models.response import Curve, Piecewise

GRID = 2049
BISECTIONS = 200


@dataclass(frozen=True)
class Piece:
    """An effort interval and its cuts ``R <= intercepts + slopes * x``, with its proven overestimate."""

    lo: float
    hi: float
    intercepts: np.ndarray
    slopes: np.ndarray
    error: float

    def value(self, x: np.ndarray) -> np.ndarray:
        return np.min(self.intercepts[None, :] + self.slopes[None, :] * np.asarray(x)[:, None], axis=1)


@dataclass(frozen=True)
class Envelope:
    """The pieces of one curve over ``[lo, hi]``; ``error`` is the largest overestimate of any piece."""

    pieces: tuple[Piece, ...]

    @property
    def error(self) -> float:
        return max(p.error for p in self.pieces)

    @property
    def needs_binaries(self) -> bool:
        return len(self.pieces) > 1

    @property
    def cuts(self) -> int:
        return sum(len(p.slopes) for p in self.pieces)

    def value(self, x: np.ndarray | float) -> np.ndarray:
        """The best the model can claim at effort ``x``: the highest piece value among pieces holding ``x``."""
        x = np.atleast_1d(np.asarray(x, dtype=float))
        best = np.full(x.shape, -np.inf)
        for piece in self.pieces:
            inside = (x >= piece.lo - 1e-12) & (x <= piece.hi + 1e-12)
            best[inside] = np.maximum(best[inside], piece.value(x[inside]))
        return best


def envelope(curve: Curve, lo: float, hi: float, tolerance: float, max_cuts: int = 400) -> Envelope:
    """Pieces over ``[lo, hi]`` whose overestimate is at most ``tolerance`` (absolute, in response units).

    If ``max_cuts`` stops the refinement first, the envelope is still valid and its ``error`` says
    how far it got.
    """
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        level = float(curve.value(lo))
        return Envelope((Piece(lo, hi, np.array([level]), np.array([0.0]), 0.0),))
    if isinstance(curve, Piecewise):
        return Envelope(tuple(_exact_run(curve, a, b) for a, b, _ in curve.regions(lo, hi)))
    pieces: list[Piece] = []
    for a, b, concave in curve.regions(lo, hi):
        pieces += [_tangent_piece(curve, a, b, tolerance, max_cuts)] if concave else _chords(curve, a, b, tolerance,
                                                                                              max_cuts)
    return Envelope(tuple(pieces))


def _exact_run(curve: Piecewise, lo: float, hi: float) -> Piece:
    lines = curve.segments_within(lo, hi)
    return Piece(lo, hi, np.array([l[2] for l in lines]), np.array([l[3] for l in lines]), 0.0)


def _tangent_piece(curve: Curve, lo: float, hi: float, tolerance: float, max_cuts: int) -> Piece:
    """Tangents at ``hi`` (and ``lo`` where the slope is finite), refined where the overestimate is largest."""
    points = [hi] if not np.isfinite(curve.slope(lo)) or curve.slope(lo) > 1e12 else [lo, hi]
    while True:
        points.sort()
        gaps = _gap_errors(curve, lo, hi, points)
        worst = int(np.argmax([g[2] for g in gaps]))
        if gaps[worst][2] <= tolerance or len(points) >= max_cuts:
            break
        a, b, _ = gaps[worst]
        points.append(_mean_value_point(curve, a, b))
    piece = _tangents(curve, lo, hi, points, 0.0)
    return _tangents(curve, lo, hi, points, max(max(g[2] for g in gaps), _grid_error(curve, piece)))


def _tangents(curve: Curve, lo: float, hi: float, points: list[float], error: float) -> Piece:
    x = np.asarray(sorted(points))
    slopes = np.asarray(curve.slope(x), dtype=float)
    return Piece(lo, hi, np.asarray(curve.value(x)) - slopes * x, slopes, float(error))


def _gap_errors(curve: Curve, lo: float, hi: float, points: list[float]) -> list[tuple[float, float, float]]:
    """``(a, b, overestimate)`` for every gap between consecutive tangent points and the ends."""
    x = np.asarray(points)
    r, s = np.asarray(curve.value(x)), np.asarray(curve.slope(x))
    gaps = []
    if x[0] > lo:
        gaps.append((lo, float(x[0]), float(r[0] + s[0] * (lo - x[0]) - curve.value(lo))))
    for k in range(len(x) - 1):
        if s[k] - s[k + 1] <= 1e-15 * max(1.0, abs(s[k])):
            gaps.append((float(x[k]), float(x[k + 1]), 0.0))
            continue
        cross = np.clip((r[k + 1] - s[k + 1] * x[k + 1] - r[k] + s[k] * x[k]) / (s[k] - s[k + 1]), x[k], x[k + 1])
        over = min(r[k] + s[k] * (cross - x[k]), r[k + 1] + s[k + 1] * (cross - x[k + 1])) - curve.value(cross)
        gaps.append((float(x[k]), float(x[k + 1]), float(max(over, 0.0))))
    return gaps


def _mean_value_point(curve: Curve, a: float, b: float) -> float:
    """The point of ``(a, b)`` where a concave curve's slope equals its chord slope (by bisection)."""
    target = (curve.value(b) - curve.value(a)) / (b - a)
    left, right = a, b
    for _ in range(BISECTIONS):
        mid = 0.5 * (left + right)
        if mid in (left, right):
            break
        left, right = (mid, right) if curve.slope(mid) > target else (left, mid)
    point = 0.5 * (left + right)
    return point if a < point < b else 0.5 * (a + b)


def _chords(curve: Curve, lo: float, hi: float, tolerance: float, max_cuts: int) -> list[Piece]:
    """Chord pieces over a convex region, the worst bisected until within ``tolerance``."""
    pieces = [_chord(curve, lo, hi)]
    while len(pieces) < max_cuts:
        worst = int(np.argmax([p.error for p in pieces]))
        if pieces[worst].error <= tolerance:
            break
        p = pieces.pop(worst)
        mid = 0.5 * (p.lo + p.hi)
        pieces[worst:worst] = [_chord(curve, p.lo, mid), _chord(curve, mid, p.hi)]
    return pieces


def _chord(curve: Curve, lo: float, hi: float) -> Piece:
    ylo, yhi = float(curve.value(lo)), float(curve.value(hi))
    slope = (yhi - ylo) / (hi - lo)
    piece = Piece(lo, hi, np.array([ylo - slope * lo]), np.array([slope]), 0.0)
    found = minimize_scalar(lambda x: -(ylo + slope * (x - lo) - float(curve.value(x))), bounds=(lo, hi),
                            method="bounded", options={"xatol": 1e-10 * max(1.0, hi)})
    error = max(-float(found.fun), _grid_error(curve, piece), 0.0)
    return Piece(lo, hi, piece.intercepts, piece.slopes, error)


def _grid_error(curve: Curve, piece: Piece) -> float:
    x = np.linspace(piece.lo, piece.hi, GRID)
    return float(max(np.max(piece.value(x) - curve.value(x)), 0.0))


def underestimate(curve: Curve, env: Envelope) -> float:
    """The largest amount by which the envelope falls *below* the curve on a grid (should be ~0)."""
    worst = 0.0
    for piece in env.pieces:
        x = np.linspace(piece.lo, piece.hi, GRID)
        worst = max(worst, float(np.max(curve.value(x) - piece.value(x))))
    return worst


def scaled(env: Envelope, accounts: float) -> Envelope:
    """The envelope of ``accounts * r(x / accounts)`` from the envelope of ``r``: exact, error times ``accounts``.

    If ``r(y) <= a + b y`` on ``[l, u]`` then ``p r(x / p) <= p a + b x`` on ``[p l, p u]``.
    """
    return Envelope(tuple(Piece(p.lo * accounts, p.hi * accounts, p.intercepts * accounts, p.slopes.copy(),
                                p.error * accounts) for p in env.pieces))

"""A fast first plan: round the LP relaxation, then repair the band with a small restricted MIP.

The LP relaxation splits at most ``K - 1`` whole units; rounding each to its largest share costs almost
nothing but leaves some territories slightly outside the band. The repair MIP keeps every unit of an
in-band territory where it is and lets the units of the out-of-band territories, and of the territories
next to them, move among their few nearest territories. The plan is only a warm start: the full
pipeline and its certified bound decide (see ``optimizer.alignment.solve.align``).
"""

from __future__ import annotations

import numpy as np

REPAIR_NEAREST_TERRITORIES = 4  # territories a unit near an out-of-band territory may move to


def round_lp(lp_share: np.ndarray, shared: np.ndarray) -> np.ndarray:
    """Each whole unit to its largest LP share; shared units keep their (normalised) LP shares."""
    plan = np.zeros_like(lp_share)
    whole = np.flatnonzero(~shared)
    plan[whole, np.argmax(lp_share[whole], axis=1)] = 1.0
    plan[shared] = lp_share[shared] / lp_share[shared].sum(axis=1, keepdims=True)
    return plan


def out_of_band(plan: np.ndarray, load: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Indices of the territories whose workload under ``plan`` lies outside their band."""
    loads = (plan * load[:, None]).sum(axis=0)
    return np.flatnonzero((loads > upper + 1e-9) | (loads < lower - 1e-9))


def nearest(distance: np.ndarray, count: int) -> np.ndarray:
    """Mask of each row's ``count`` smallest entries."""
    n, k = distance.shape
    mask = np.zeros((n, k), bool)
    if count >= k:
        mask[:] = True
        return mask
    best = np.argpartition(distance, count - 1, axis=1)[:, :count]
    mask[np.arange(n)[:, None], best] = True
    return mask


def repair_pairs(plan: np.ndarray, distance: np.ndarray, shared: np.ndarray, violated: np.ndarray) -> np.ndarray:
    """Pairs the repair MIP may use: the plan's own, and for units of the out-of-band territories and of
    the territories nearest them, their few nearest territories."""
    owner = np.argmax(plan, axis=1)
    near_violation = nearest(distance[np.isin(owner, violated)], REPAIR_NEAREST_TERRITORIES)
    region = np.union1d(violated, np.flatnonzero(near_violation.any(axis=0)))
    free = np.isin(owner, region) & ~shared
    pairs = plan > 0
    pairs[free] |= nearest(distance[free], REPAIR_NEAREST_TERRITORIES)
    pairs[shared] = True
    return pairs

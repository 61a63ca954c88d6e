"""Checks before any solve: is the headcount range reachable within the budget and the minimum efforts?

Each refusal is one line naming the key, the numbers that conflict and the fix.
"""

from __future__ import annotations

import math

from optimizer.core.errors import InfeasibleError
from optimizer.sizing.schema import Reps

EPS = 1e-9


def headcount_bounds(reps: Reps) -> tuple[int, int]:
    """``(min, max)`` headcount after the budget; refused when the budget cannot pay for the minimum."""
    low = reps.headcount.min
    high = reps.headcount.max if reps.headcount.max is not None else math.inf
    if reps.budget is not None:
        affordable = math.floor(reps.budget / reps.cost + EPS)
        if affordable < low:
            raise InfeasibleError("reps.budget", f"{reps.budget:,.0f} pays for {affordable} reps at {reps.cost:,.0f} "
                                  f"each, below reps.headcount.min ({low})",
                                  f"raise the budget to at least {low * reps.cost:,.0f} or lower headcount.min")
        high = min(high, affordable)
    return low, int(high)


def first_feasible_headcount(min_hours: float, reps: Reps, low: int, high: int, what: str) -> tuple[int, list[str]]:
    """The least headcount in ``[low, high]`` whose hours cover ``min_hours``; refuse if none does.

    ``what`` names what needs the hours, e.g. "the segments' minimum effort".
    """
    needed = max(0, math.ceil(min_hours / reps.hours - EPS))
    if needed > high:
        by_budget = reps.budget is not None and high < (reps.headcount.max or math.inf)
        key = "reps.budget" if by_budget else "reps.headcount.max"
        fix = (f"raise reps.budget to at least {needed * reps.cost:,.0f}" if by_budget else
               f"allow at least {needed} reps")
        raise InfeasibleError(key, f"{high} reps give {high * reps.hours:,.0f} hours but {what} needs "
                              f"{min_hours:,.0f} hours ({min_hours / reps.hours:.1f} reps)",
                              f"{fix}, or lower the minimum effort (effort.min)")
    if needed > low:
        return needed, [(f"headcounts {low}-{needed - 1} cannot give {what} ({min_hours:,.0f} hours); "
                         f"the smallest headcount considered is {needed}")]
    return low, []

"""The result every kind's solve returns, in the user's terms and never a solver's enums.

:class:`Solution` holds what the solve proved (status, objective, bound, gap) and how it went (seconds
per phase, the stages it ran, what the bound covers, the solver log); each kind adds its plan as fields of
a subclass (``AlignmentSolution``: shares per unit and territory; ``AccountSolution``: each account's rep
and the objective's terms; joint sizing's ``JointSolution``: every column's value, profit maximised as the
minimum of its negative). Sizing alone solves a curve of headcounts, one ``CurvePoint`` each. Reports, sweeps and comparisons read this one shape. Nothing here imports the
solver, so a report can read a result without loading pyomo or highspy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum


class SolveStatus(str, Enum):
    """What came back from a solve, in the user's terms."""

    OPTIMAL = "optimal"  # proven within the target gap
    FEASIBLE = "feasible"  # a plan, stopped at the time limit before the target gap
    INFEASIBLE = "infeasible"  # proven that no plan exists
    NO_PLAN = "no_plan"  # stopped at the time limit without any plan
    ERROR = "error"

    @property
    def has_plan(self) -> bool:
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


def relative_gap(objective: float, bound: float) -> float:
    """``(objective - bound) / |objective|``, 0 when both are 0, NaN without a plan."""
    if math.isnan(objective) or math.isnan(bound):
        return math.nan
    if abs(objective) < 1e-9:
        return 0.0 if abs(bound) < 1e-9 else math.inf
    return max(0.0, (objective - bound) / abs(objective))


@dataclass(kw_only=True)
class Solution:
    """What a solve proved and how it went; a kind's solution subclasses it with its plan.

    ``objective`` and ``bound`` are of the minimised objective (NaN without a plan); ``lp_bound`` is the
    LP relaxation's value where the solve computed one (else NaN or ``None``); ``seconds`` has at least
    ``build`` and ``solve``; each of ``stages`` is one record of what a stage did (name, elapsed, fields);
    ``restriction`` says in words what the bound covers; ``log`` is HiGHS's log when it was kept.
    """

    status: SolveStatus
    objective: float
    bound: float
    lp_bound: float | None
    seconds: dict[str, float] = field(default_factory=dict)
    stages: list[dict] = field(default_factory=list)
    restriction: str = ""
    log: str = ""

    @property
    def gap(self) -> float:
        """``(objective - bound) / |objective|``: how far the plan is proven from the best possible."""
        return relative_gap(self.objective, self.bound)

    @property
    def has_plan(self) -> bool:
        """Whether the solve found a plan (optimal, or feasible at a limit)."""
        return self.status.has_plan

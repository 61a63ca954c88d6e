r"""Sales force sizing under response curves (Lodish's CALLPLAN, Zoltners & Sinha): how many reps, and
how much effort each segment gets, to maximise contribution minus the cost of the reps.

Sets
    ============  =========================================================================
    ``ITEMS``      segments :math:`s` (customer groups with their own response curve)
    ============  =========================================================================

Parameters
    ======================  =================================================================
    ``margin[s]``            :math:`\mu_s`, contribution margin on the segment's sales
    ``hours[s]``             :math:`h_s`, rep hours one unit of effort takes (travel included)
    ``effort_lo/hi[s]``      :math:`l_s, u_s`, the segment's effort range
    ``rep_hours``            :math:`H`, hours of one rep per year
    ``rep_cost``             :math:`c`, yearly cost of one rep
    ``headcount_lo/hi``      :math:`N^-, N^+`, the headcount range
    ``budget``               :math:`B`, most the reps may cost (optional)
    ======================  =================================================================

Variables
    ==================  =====================================================================
    ``Headcount``        :math:`N \in \mathbb{Z}`, :math:`N^- \le N \le N^+`
    ``Effort[s]``        :math:`E_s \in [l_s, u_s]`, e.g. calls per year
    ``Response[s]``      :math:`R_s`, sales under the segment's linear envelope
                         (:mod:`models.sizing_response`)
    ==================  =====================================================================

Model
    .. math::

        \max\ & \underbrace{\textstyle\sum_s \mu_s R_s}_{\text{contribution}}
                - \underbrace{c N}_{\text{rep\_cost}} \\
        \text{s.t.}\ & \textstyle\sum_s h_s E_s \le H N && \text{(capacity)} \\
        & c N \le B && \text{(budget, when given)} \\
        & R_s \le \text{envelope}_s(E_s) && \text{(response block)}

The envelope lies on or above each curve, so the optimum is an upper bound on the true optimum and
the true profit at the chosen efforts is at most :math:`\sum_s \mu_s\,\varepsilon_s` below the model's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from models.sizing_envelope import Envelope
from models.sizing_response import add_response


@dataclass(frozen=True)
class SizingData:
    """Plain numbers the sizing model is built from."""

    margin: np.ndarray  # (S,)
    hours: np.ndarray  # (S,) rep hours per unit of effort
    effort_lo: np.ndarray  # (S,)
    effort_hi: np.ndarray  # (S,)
    envelopes: tuple[Envelope, ...]  # (S,)
    rep_hours: float
    rep_cost: float
    headcount_lo: int
    headcount_hi: int
    budget: float | None = None

    @property
    def error_bound(self) -> float:
        """Largest amount the model's contribution can exceed the true one at the same efforts."""
        return float(sum(m * env.error for m, env in zip(self.margin, self.envelopes)))


def build(data: SizingData) -> pyo.ConcreteModel:
    """Build the declarative sizing model (headcount free within its range)."""
    m = pyo.ConcreteModel(name="sales_force_sizing")
    m.Headcount = pyo.Var(domain=pyo.NonNegativeIntegers, bounds=(data.headcount_lo, data.headcount_hi),
                          doc="number of reps")
    segments = range(len(data.margin))
    m.Effort = pyo.Var(segments, bounds=lambda _, s: (float(data.effort_lo[s]), float(data.effort_hi[s])),
                       doc="effort per segment, e.g. calls per year")
    effort = [m.Effort[s] for s in segments]
    add_response(m, effort, list(data.envelopes))
    hours = LinearExpression(constant=0, linear_coefs=[float(h) for h in data.hours], linear_vars=effort)
    m.capacity = pyo.Constraint(expr=hours - data.rep_hours * m.Headcount <= 0, doc="effort within rep hours")
    if data.budget is not None:
        m.budget = pyo.Constraint(expr=data.rep_cost * m.Headcount <= data.budget, doc="reps within the budget")
    m.contribution = pyo.Expression(expr=LinearExpression(
        constant=0, linear_coefs=[float(x) for x in data.margin], linear_vars=[m.Response[s] for s in segments]),
        doc="margin x sales under the envelopes")
    m.rep_cost = pyo.Expression(expr=data.rep_cost * m.Headcount, doc="yearly cost of the reps")
    m.profit = pyo.Objective(expr=m.contribution - m.rep_cost, sense=pyo.maximize)
    return m


def objective_terms(m: pyo.ConcreteModel) -> dict[str, float]:
    """Each registered objective term's value at the loaded solution."""
    return {"contribution": pyo.value(m.contribution), "rep_cost": pyo.value(m.rep_cost)}

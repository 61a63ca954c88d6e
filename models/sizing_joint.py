r"""Joint sizing, location and alignment (after Drexl & Haase 1999): how many reps, at which candidate
bases, which units each base covers and how many calls each unit gets, with travel time taken from
the reps' hours. Every unit has its own response curve (its segment's per-account curve times its
accounts).

Sets
    ============  ========================================================================
    ``ITEMS``      units :math:`u` (e.g. counties) that hold accounts
    ``BASES``      candidate bases :math:`b` (cities)
    ``PAIRS``      eligible pairs :math:`p = (u_p, b_p)`, base within the distance rule
    ============  ========================================================================

Parameters
    ====================  ====================================================================
    ``margin[u]``          :math:`\mu_u`, contribution margin
    ``effort_lo/hi[u]``    :math:`l_u, u_u`, calls per year the unit may get
    ``pair_hours[p]``      :math:`h_p`, rep hours per call: call time plus travel from the base
    ``rep_hours``          :math:`H`; ``rep_cost`` :math:`c`; ``base_cost`` :math:`f`
    ``max_reps``           :math:`M`, most reps one base hosts; ``headcount_lo/hi``
    ====================  ====================================================================

Variables
    ==================  ======================================================================
    ``Open[b]``          :math:`y_b \in \{0,1\}`, the base is used
    ``Reps[b]``          :math:`n_b \in \{0..M\}`, reps based there; ``Headcount`` :math:`N`
    ``Cover[p]``         :math:`x_p \in \{0,1\}`, unit :math:`u_p` is covered from base :math:`b_p`
    ``Calls[p]``         :math:`c_p \ge 0`, calls per year from that base
    ``Effort[u]``        :math:`E_u = \sum_{p \ni u} c_p`; ``Response[u]`` as in
                         :mod:`models.sizing_response`
    ==================  ======================================================================

Model
    .. math::

        \max\ & \textstyle\sum_u \mu_u R_u - c N - f \sum_b y_b \\
        \text{s.t.}\ & \textstyle\sum_{p \ni u} x_p = 1 && \text{(one\_base)} \\
        & c_p \le u_{u_p} x_p, \quad x_p \le y_{b_p} && \text{(calls\_need\_cover, cover\_needs\_open)} \\
        & y_b \le n_b \le M y_b && \text{(reps\_at\_open\_base)} \\
        & \textstyle\sum_{p \ni b} h_p c_p \le H n_b && \text{(capacity: calls and travel)} \\
        & \textstyle N = \sum_b n_b, \quad E_u = \sum_{p \ni u} c_p, \quad R_u \le \text{envelope}_u(E_u)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from models.sizing_envelope import Envelope
from models.sizing_response import add_response


@dataclass(frozen=True)
class JointData:
    """Plain numbers the joint model is built from."""

    margin: np.ndarray  # (U,)
    effort_lo: np.ndarray  # (U,)
    effort_hi: np.ndarray  # (U,)
    envelopes: tuple[Envelope, ...]  # (U,)
    pair_unit: np.ndarray  # (P,)
    pair_base: np.ndarray  # (P,)
    pair_hours: np.ndarray  # (P,) hours per call, travel included
    n_bases: int
    rep_hours: float
    rep_cost: float
    base_cost: float
    max_reps: int
    headcount_lo: int
    headcount_hi: int

    @property
    def error_bound(self) -> float:
        return float(sum(m * env.error for m, env in zip(self.margin, self.envelopes)))


def _grouped(keys: np.ndarray, size: int) -> list[np.ndarray]:
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(size + 1))
    return [order[bounds[k]: bounds[k + 1]] for k in range(size)]


def build(data: JointData) -> pyo.ConcreteModel:
    """Build the declarative joint model over the eligible pairs."""
    m = pyo.ConcreteModel(name="joint_sizing_and_alignment")
    n_units, n_pairs = len(data.margin), len(data.pair_unit)
    m.BASES = pyo.RangeSet(0, data.n_bases - 1)
    m.PAIRS = pyo.RangeSet(0, n_pairs - 1)
    m.Open = pyo.Var(m.BASES, domain=pyo.Binary, doc="base in use")
    m.Reps = pyo.Var(m.BASES, domain=pyo.NonNegativeIntegers, bounds=(0, data.max_reps), doc="reps at the base")
    m.Headcount = pyo.Var(domain=pyo.NonNegativeIntegers, bounds=(data.headcount_lo, data.headcount_hi))
    m.Cover = pyo.Var(m.PAIRS, domain=pyo.Binary, doc="unit covered from the base")
    m.Calls = pyo.Var(m.PAIRS, domain=pyo.NonNegativeReals, doc="calls per year from the base")
    m.Effort = pyo.Var(range(n_units), bounds=lambda _, u: (float(data.effort_lo[u]), float(data.effort_hi[u])))
    add_response(m, [m.Effort[u] for u in range(n_units)], list(data.envelopes))
    _assignment(m, data, _grouped(data.pair_unit, n_units))
    _bases(m, data, _grouped(data.pair_base, data.n_bases))
    m.contribution = pyo.Expression(expr=LinearExpression(
        constant=0, linear_coefs=[float(x) for x in data.margin], linear_vars=[m.Response[u] for u in range(n_units)]))
    m.rep_cost = pyo.Expression(expr=data.rep_cost * m.Headcount)
    m.base_cost = pyo.Expression(expr=data.base_cost * pyo.quicksum(m.Open[b] for b in m.BASES))
    m.profit = pyo.Objective(expr=m.contribution - m.rep_cost - m.base_cost, sense=pyo.maximize)
    return m


def _assignment(m: pyo.ConcreteModel, data: JointData, by_unit: list[np.ndarray]) -> None:
    @m.Constraint(range(len(by_unit)), doc="each unit covered from exactly one base")
    def one_base(m, u):
        return LinearExpression(constant=0, linear_coefs=[1.0] * len(by_unit[u]),
                                linear_vars=[m.Cover[p] for p in by_unit[u]]) == 1

    @m.Constraint(range(len(by_unit)), doc="the unit's effort is the calls from its base")
    def effort_from_calls(m, u):
        pairs = by_unit[u]
        return LinearExpression(constant=0, linear_coefs=[1.0] + [-1.0] * len(pairs),
                                linear_vars=[m.Effort[u]] + [m.Calls[p] for p in pairs]) == 0

    @m.Constraint(m.PAIRS, doc="calls only from the covering base")
    def calls_need_cover(m, p):
        hi = float(data.effort_hi[data.pair_unit[p]])
        return LinearExpression(constant=0, linear_coefs=[1.0, -hi], linear_vars=[m.Calls[p], m.Cover[p]]) <= 0

    @m.Constraint(m.PAIRS, doc="cover only from an open base")
    def cover_needs_open(m, p):
        return m.Cover[p] - m.Open[int(data.pair_base[p])] <= 0


def _bases(m: pyo.ConcreteModel, data: JointData, by_base: list[np.ndarray]) -> None:
    @m.Constraint(m.BASES, [0, 1], doc="an open base has between 1 and max_reps reps; a closed one none")
    def reps_at_open_base(m, b, upper):
        return m.Reps[b] - data.max_reps * m.Open[b] <= 0 if upper else m.Reps[b] - m.Open[b] >= 0

    @m.Constraint(m.BASES, doc="calls and travel within the hours of the base's reps")
    def capacity(m, b):
        pairs = by_base[b]
        return LinearExpression(constant=0, linear_coefs=[float(h) for h in data.pair_hours[pairs]] + [-data.rep_hours],
                                linear_vars=[m.Calls[p] for p in pairs] + [m.Reps[b]]) <= 0

    m.headcount = pyo.Constraint(expr=m.Headcount == pyo.quicksum(m.Reps[b] for b in m.BASES),
                                 doc="headcount is the reps of all bases")


def objective_terms(m: pyo.ConcreteModel) -> dict[str, float]:
    """Each registered objective term's value at the loaded solution."""
    return {"contribution": pyo.value(m.contribution), "rep_cost": pyo.value(m.rep_cost),
            "base_cost": pyo.value(m.base_cost)}

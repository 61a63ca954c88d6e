r"""Location-allocation with a balance band: choose the bases from candidates together with the plan.

Sets
    ==============  =============================================================
    ``UNITS``       units :math:`i`
    ``CANDIDATES``  candidate bases :math:`c` (units where a rep may live)
    ``PAIRS``       eligible pairs :math:`p = (i_p, c_p)`
    ==============  =============================================================

Parameters: :math:`w_i` workload in average territories, :math:`c_p = w_{i_p} d_{i_p c_p}` (km),
:math:`K` territories, band :math:`[L, U]`.

Variables: :math:`y_c \in \{0,1\}` candidate opened; :math:`x_p \in \{0,1\}` (a share in
:math:`[0,1]` for shared units).

.. math::

    \min\ & \sum_p c_p x_p \\
    \text{s.t.}\ & \sum_{p: i_p = i} x_p = 1 \quad \forall i && \text{(one\_base)} \\
    & x_p \le y_{c_p} \quad \forall p && \text{(only\_open)} \\
    & L\, y_c \le \sum_{p: c_p = c} w_{i_p} x_p \le U\, y_c \quad \forall c && \text{(band\_if\_open)} \\
    & \sum_c y_c = K && \text{(headcount)}
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression


@dataclass(frozen=True)
class LocationData:
    """Arrays the model is built from."""

    load: np.ndarray  # (units,)
    shared: np.ndarray  # (units,) bool
    pair_unit: np.ndarray
    pair_candidate: np.ndarray
    pair_cost: np.ndarray
    candidates: int
    territories: int
    lower: float
    upper: float


def build(data: LocationData) -> pyo.ConcreteModel:
    """The declarative Pyomo model over the eligible pairs."""
    m = pyo.ConcreteModel(name="location_allocation")
    m.PAIRS = pyo.RangeSet(0, len(data.pair_unit) - 1)
    m.CANDIDATES = pyo.RangeSet(0, data.candidates - 1)
    m.UNITS = pyo.RangeSet(0, len(data.load) - 1)
    whole = ~data.shared[data.pair_unit]
    m.Assign = pyo.Var(m.PAIRS, bounds=(0, 1), domain=lambda _, p: pyo.Binary if whole[p] else pyo.NonNegativeReals)
    m.Open = pyo.Var(m.CANDIDATES, domain=pyo.Binary)
    by_unit = [np.flatnonzero(data.pair_unit == i) for i in range(len(data.load))]
    by_candidate = [np.flatnonzero(data.pair_candidate == c) for c in range(data.candidates)]

    @m.Constraint(m.UNITS, doc="each unit served by one open base (shares add up to one)")
    def one_base(m, i):
        return LinearExpression(constant=0, linear_coefs=[1.0] * len(by_unit[i]),
                                linear_vars=[m.Assign[p] for p in by_unit[i]]) == 1

    @m.Constraint(m.PAIRS, doc="only an open base serves units")
    def only_open(m, p):
        return m.Assign[p] <= m.Open[int(data.pair_candidate[p])]

    def workload(m, c):
        pairs = by_candidate[c]
        return LinearExpression(constant=0, linear_coefs=[float(data.load[data.pair_unit[p]]) for p in pairs],
                                linear_vars=[m.Assign[p] for p in pairs])

    m.band_low = pyo.Constraint(m.CANDIDATES, rule=lambda m, c: workload(m, c) >= data.lower * m.Open[c])
    m.band_high = pyo.Constraint(m.CANDIDATES, rule=lambda m, c: workload(m, c) <= data.upper * m.Open[c])
    m.headcount = pyo.Constraint(expr=pyo.quicksum(m.Open.values()) == data.territories)
    m.travel = pyo.Expression(expr=LinearExpression(constant=0, linear_coefs=[float(c) for c in data.pair_cost],
                                                    linear_vars=[m.Assign[p] for p in m.PAIRS]))
    m.total_cost = pyo.Objective(expr=m.travel, sense=pyo.minimize)
    return m

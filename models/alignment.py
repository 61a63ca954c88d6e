r"""Workload-balanced territory alignment (a capacitated assignment with a balance band).

Every unit is assigned to exactly one territory (or, for a *shared* unit, split among several with
shares adding up to one); every territory's workload stays inside a band around its target; the
workload-weighted distance from units to their territory's base is minimised.

The model is built over a list of eligible (unit, territory) *pairs*, never a dense unit x territory
grid: the caller decides which pairs to include and is responsible for saying what a restriction means
for the bound (see ``optimizer.alignment.solve.align``).

Sets
    ============  =====================================================================
    ``UNITS``      units :math:`i` (counties, ZIPs, bricks)
    ``TERRITORIES`` territories :math:`t`, one per rep, each with a fixed base
    ``PAIRS``      eligible pairs :math:`p = (i_p, t_p)`
    ============  =====================================================================

Parameters (workload is normalised so that an average territory carries 1.0)
    ================  ================================================================
    ``load[i]``       :math:`w_i`, unit workload in average-territory units
    ``cost[p]``       :math:`c_p = w_{i_p} d_{i_p t_p}`, workload-weighted distance (km)
    ``lower[t]``      :math:`L_t`, lower end of the band, e.g. :math:`0.95`
    ``upper[t]``      :math:`U_t`, upper end of the band, e.g. :math:`1.05`
    ``penalty``       :math:`\pi`, cost (km) per average territory of workload outside the
                      band; only in the soft variant
    ================  ================================================================

Variables
    ==========================  ======================================================
    ``Assign[p]``               :math:`x_p \in \{0,1\}`; for shared units
                                :math:`x_p \in [0,1]` is the unit's share
    ``Under[t]``, ``Over[t]``   :math:`u_t, o_t \ge 0`, workload below / above the band
                                (soft variant only)
    ==========================  ======================================================

Model
    .. math::

        \min\ & \sum_p c_p x_p + \pi \sum_t (u_t + o_t) \\
        \text{s.t.}\ & \sum_{p: i_p = i} x_p = 1 && \forall i
                     && \text{(one\_territory)} \\
        & L_t \le \sum_{p: t_p = t} w_{i_p} x_p + u_t - o_t \le U_t && \forall t
                     && \text{(workload\_in\_band)}

In the hard variant :math:`u_t, o_t` do not exist. Side rules (further balanced measures, locks, groups,
contiguity cuts, move budget and penalty) are added by ``models.alignment_rules``. The LP relaxation is a transportation problem with
side constraints: at most :math:`|T| - 1` units are split, which is why its bound is tight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from models.alignment_rules import AlignmentRules, add_rules


@dataclass(frozen=True)
class AlignmentData:
    """Plain arrays the model is built from (geometry has already been turned into numbers)."""

    load: np.ndarray  # (units,) workload in average-territory units
    shared: np.ndarray  # (units,) bool: may be split among territories
    pair_unit: np.ndarray  # (pairs,) int unit index
    pair_territory: np.ndarray  # (pairs,) int territory index
    pair_cost: np.ndarray  # (pairs,) workload-weighted distance
    lower: np.ndarray  # (territories,)
    upper: np.ndarray  # (territories,)
    penalty: float | None = None  # soft band when set
    rules: AlignmentRules | None = None  # side rules (models.alignment_rules)

    @property
    def n_units(self) -> int:
        return len(self.load)

    @property
    def n_territories(self) -> int:
        return len(self.lower)


def _grouped(keys: np.ndarray, size: int) -> list[np.ndarray]:
    """Pair indices grouped by ``keys`` (unit or territory), in ascending pair order."""
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(size + 1))
    return [order[bounds[k]: bounds[k + 1]] for k in range(size)]


def build(data: AlignmentData) -> pyo.ConcreteModel:
    """Build the declarative Pyomo model over the eligible pairs in ``data``."""
    m = pyo.ConcreteModel(name="territory_alignment")
    m.UNITS = pyo.RangeSet(0, data.n_units - 1)
    m.TERRITORIES = pyo.RangeSet(0, data.n_territories - 1)
    m.PAIRS = pyo.RangeSet(0, len(data.pair_unit) - 1)
    whole = ~data.shared[data.pair_unit]
    m.Assign = pyo.Var(m.PAIRS, bounds=(0, 1),
                       domain=lambda _, p: pyo.Binary if whole[p] else pyo.NonNegativeReals)
    by_unit = _grouped(data.pair_unit, data.n_units)
    by_territory = _grouped(data.pair_territory, data.n_territories)
    assign = [m.Assign[p] for p in range(len(data.pair_unit))]

    @m.Constraint(m.UNITS, doc="each unit in exactly one territory (shares add up to one)")
    def one_territory(m, i):
        pairs = by_unit[i]
        return LinearExpression(constant=0, linear_coefs=[1.0] * len(pairs),
                                linear_vars=[assign[p] for p in pairs]) == 1

    soft = data.penalty is not None
    if soft:
        m.Under = pyo.Var(m.TERRITORIES, domain=pyo.NonNegativeReals, doc="workload below the band")
        m.Over = pyo.Var(m.TERRITORIES, domain=pyo.NonNegativeReals, doc="workload above the band")

    @m.Constraint(m.TERRITORIES, doc="territory workload within its band")
    def workload_in_band(m, t):
        pairs = by_territory[t]
        coefs = [float(c) for c in data.load[data.pair_unit[pairs]]]
        terms = [assign[p] for p in pairs]
        if soft:
            coefs += [1.0, -1.0]
            terms += [m.Under[t], m.Over[t]]
        body = LinearExpression(constant=0, linear_coefs=coefs, linear_vars=terms)
        return (float(data.lower[t]), body, float(data.upper[t]))

    travel = LinearExpression(constant=0, linear_coefs=[float(c) for c in data.pair_cost], linear_vars=assign)
    m.travel = pyo.Expression(expr=travel, doc="workload-weighted distance")
    if soft:
        m.imbalance = pyo.Expression(expr=data.penalty * (pyo.quicksum(m.Under.values()) + pyo.quicksum(m.Over.values())),
                                     doc="penalty for workload outside the band")
    terms = [m.travel] + ([m.imbalance] if soft else [])
    if data.rules is not None:
        terms += add_rules(m, data.rules, assign, data.pair_unit, data.pair_territory)
    m.total_cost = pyo.Objective(expr=sum(terms), sense=pyo.minimize)
    return m


def objective_terms(m: pyo.ConcreteModel) -> dict[str, float]:
    """Each registered objective term's value at the loaded solution."""
    return {name: pyo.value(getattr(m, name)) for name in ("travel", "imbalance", "disruption") if hasattr(m, name)}

r"""Territories grouped into regions: a balanced p-median on the territory graph.

Every territory joins exactly one region; each region is named by its *centre* territory; exactly
``R`` centres open; each region's workload stays in a band around the mean region; the workload-weighted
distance from each territory's base to its centre's base is minimised. Contiguity on the territory
adjacency graph is added lazily by cuts (``optimizer.alignment.regions``), the same way as for units in
``models.alignment_rules``.

Sets
    ===============  ================================================================
    ``TERRITORIES``  territories :math:`t`
    ``PAIRS``        eligible (territory, centre) pairs :math:`p = (t_p, c_p)`; every
                     diagonal pair :math:`(c, c)` is eligible
    ===============  ================================================================

Parameters (workload in average-territory units)
    ===============  ================================================================
    ``load[t]``      :math:`w_t`, the territory's workload
    ``cost[p]``      :math:`w_{t_p} d_{t_p c_p}`, workload-weighted base-to-centre km
    ``lower``        :math:`L = (1 - \tau) W / R`, lower end of the region band
    ``upper``        :math:`U = (1 + \tau) W / R`
    ``count``        :math:`R`, the number of regions
    ===============  ================================================================

Variables
    ``Join[p]``  :math:`y_p \in \{0, 1\}`: territory :math:`t_p` is in the region centred at :math:`c_p`

Model
    .. math::

        \min\ & \sum_p c_p y_p \\
        \text{s.t.}\ & \sum_{p: t_p = t} y_p = 1 && \forall t && \text{(one\_region)} \\
        & y_p \le y_{(c_p, c_p)} && \forall p && \text{(centre\_open)} \\
        & \sum_c y_{(c, c)} = R && && \text{(region\_count)} \\
        & L\, y_{(c,c)} \le \sum_{p: c_p = c} w_{t_p} y_p \le U\, y_{(c,c)} && \forall c
          && \text{(workload\_in\_band)} \\
        & y_p \le \sum_{q \in Q} y_q && \text{each cut } (p, Q) && \text{(contiguity)}

A cut says: territory :math:`t_p` can join centre :math:`c_p` only if some territory on the border of
the piece cut off from the centre (the pairs :math:`Q`, same centre) joins it too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo


@dataclass(frozen=True)
class RegionData:
    """Plain arrays the model is built from."""

    load: np.ndarray  # (territories,) workload in average-territory units
    pair_territory: np.ndarray  # (pairs,) territory index
    pair_centre: np.ndarray  # (pairs,) centre territory index
    pair_cost: np.ndarray  # (pairs,) workload-weighted distance (km)
    lower: float
    upper: float
    count: int
    cuts: tuple[tuple[int, np.ndarray], ...] = ()  # (pair, border pairs)

    @property
    def n_territories(self) -> int:
        return len(self.load)


def build(data: RegionData) -> pyo.ConcreteModel:
    """Build the declarative Pyomo model of the module docstring."""
    m = pyo.ConcreteModel(name="regions")
    k = data.n_territories
    m.TERRITORIES = pyo.RangeSet(0, k - 1)
    m.PAIRS = pyo.RangeSet(0, len(data.pair_territory) - 1)
    m.Join = pyo.Var(m.PAIRS, domain=pyo.Binary, doc="territory joins the region of a centre")
    diagonal = {int(t): p for p, (t, c) in enumerate(zip(data.pair_territory, data.pair_centre)) if t == c}
    by_territory = [np.flatnonzero(data.pair_territory == t) for t in range(k)]
    by_centre = [np.flatnonzero(data.pair_centre == c) for c in range(k)]

    @m.Constraint(m.TERRITORIES, doc="each territory in exactly one region")
    def one_region(m, t):
        return pyo.quicksum(m.Join[int(p)] for p in by_territory[t]) == 1

    @m.Constraint(m.PAIRS, doc="a territory joins only an open centre")
    def centre_open(m, p):
        centre = int(data.pair_centre[p])
        if int(data.pair_territory[p]) == centre:
            return pyo.Constraint.Skip
        return m.Join[p] <= m.Join[diagonal[centre]]

    m.region_count = pyo.Constraint(expr=pyo.quicksum(m.Join[p] for p in diagonal.values()) == data.count,
                                    doc="exactly R regions")

    def region_load(m, c):
        return pyo.quicksum(float(data.load[data.pair_territory[p]]) * m.Join[int(p)] for p in by_centre[c])

    @m.Constraint(m.TERRITORIES, doc="an open region's workload at least the band's lower end")
    def workload_above_lower(m, c):
        return region_load(m, c) >= data.lower * m.Join[diagonal[c]]

    @m.Constraint(m.TERRITORIES, doc="an open region's workload at most the band's upper end")
    def workload_below_upper(m, c):
        return region_load(m, c) <= data.upper * m.Join[diagonal[c]]

    @m.Constraint(range(len(data.cuts)), doc="a territory needs a border territory of its piece in the region")
    def contiguity(m, n):
        pair, border = data.cuts[n]
        return m.Join[pair] <= pyo.quicksum(m.Join[int(q)] for q in border)

    m.travel = pyo.Expression(expr=pyo.quicksum(float(c) * m.Join[p] for p, c in enumerate(data.pair_cost)),
                              doc="workload-weighted distance from territory bases to region centres")
    m.total_cost = pyo.Objective(expr=m.travel, sense=pyo.minimize)
    return m

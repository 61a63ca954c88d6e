r"""Rules a sales team adds to the alignment model (see ``models.alignment`` for the base model).

Every rule is stated on the eligible pairs :math:`p` of the base model, so the caller maps units and
territories to pair indices once.

Parameters and constraints
    ==========================  ==============================================================================
    extra band (measure m)      :math:`L^m_t \le \sum_{p: t_p=t} a^m_{i_p} x_p \le U^m_t` — another balanced
                                measure (population, accounts) with its own tolerance (``extra_band``)
    together (p, q)             :math:`x_p = x_q` for the pairs of two grouped units in one territory
                                (``together``)
    apart (set P)               :math:`\sum_{p \in P} x_p \le 1` over the pairs of a group in one territory
                                (``apart``)
    minimum share (p, s)        :math:`x_p \ge s`: a territory's base unit stays in it (``root_kept``)
    contiguity cut (p, Q)       :math:`x_p \le \sum_{q \in Q} x_q`: unit :math:`i_p` belongs to :math:`t_p`
                                only if a unit on the border :math:`Q` of its component does (``contiguity``)
    move budget                 :math:`\sum_i m_i (1 - x_{c(i)}) \le B` where :math:`c(i)` is the pair of the
                                unit's current territory and :math:`m_i` the moved measure (``move_budget``)
    move penalty                objective term :math:`\rho \sum_i m_i (1 - x_{c(i)})` (``disruption``)
    ==========================  ==============================================================================

Units currently in a territory that no longer exists have no :math:`c(i)`: they always count as moved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression


@dataclass(frozen=True)
class AlignmentRules:
    """Side rules, all in pair indices of the model they are added to."""

    extra_bands: tuple[tuple[str, np.ndarray, np.ndarray, np.ndarray], ...] = ()  # name, per-unit load, lo, up
    together: tuple[tuple[int, int], ...] = ()
    apart: tuple[np.ndarray, ...] = ()
    root_shares: tuple[tuple[int, float], ...] = ()
    cuts: tuple[tuple[int, np.ndarray], ...] = ()
    current_pair: np.ndarray | None = None  # (units,) pair index of the current territory, -1 if none
    moved_weight: np.ndarray | None = None  # (units,) moved measure per unit
    max_moved: float | None = None
    move_penalty: float | None = None


def _sum(terms: list, coefs: list[float] | None = None) -> LinearExpression:
    return LinearExpression(constant=0, linear_coefs=coefs or [1.0] * len(terms), linear_vars=terms)


def add_rules(m: pyo.ConcreteModel, rules: AlignmentRules, assign: list, pair_unit: np.ndarray,
              pair_territory: np.ndarray) -> list:
    """Add every rule to ``m``; returns the objective terms the rules register (possibly none)."""
    _extra_bands(m, rules, assign, pair_unit, pair_territory)
    m.together = pyo.Constraint(range(len(rules.together)), rule=lambda m, k: assign[rules.together[k][0]]
                                == assign[rules.together[k][1]], doc="grouped units in one territory")
    m.apart = pyo.Constraint(range(len(rules.apart)), rule=lambda m, k: _sum([assign[p] for p in rules.apart[k]])
                             <= 1, doc="at most one unit of a group per territory")
    m.root_kept = pyo.Constraint(range(len(rules.root_shares)), doc="each base unit stays in its territory",
                                 rule=lambda m, k: assign[rules.root_shares[k][0]] >= rules.root_shares[k][1])
    m.contiguity = pyo.Constraint(range(len(rules.cuts)), doc="a unit needs a neighbour of its component",
                                  rule=lambda m, k: _cut(assign, rules.cuts[k]))
    return _disruption(m, rules, assign)


def _extra_bands(m, rules: AlignmentRules, assign, pair_unit, pair_territory) -> None:
    index = [(b, t) for b, band in enumerate(rules.extra_bands) for t in range(len(band[2]))]
    by_territory = {}
    for p, t in enumerate(pair_territory):
        by_territory.setdefault(int(t), []).append(p)

    def band(m, b, t):
        _, per_unit, lower, upper = rules.extra_bands[b]
        pairs = by_territory.get(t, [])
        body = _sum([assign[p] for p in pairs], [float(per_unit[pair_unit[p]]) for p in pairs])
        return (float(lower[t]), body, float(upper[t]))

    m.extra_band = pyo.Constraint(index, rule=band, doc="each further measure within its band")


def _cut(assign: list, cut: tuple[int, np.ndarray]):
    pair, border = cut
    if len(border) == 0:
        return assign[pair] <= 0
    return _sum([assign[pair]] + [assign[q] for q in border], [1.0] + [-1.0] * len(border)) <= 0


def _disruption(m, rules: AlignmentRules, assign) -> list:
    if rules.current_pair is None:
        return []
    kept = [(int(p), float(w)) for p, w in zip(rules.current_pair, rules.moved_weight) if p >= 0]
    total = float(np.sum(rules.moved_weight))
    moved = LinearExpression(constant=total, linear_coefs=[-w for _, w in kept],
                             linear_vars=[assign[p] for p, _ in kept])
    m.moved = pyo.Expression(expr=moved, doc="moved measure: units (or workload) that change territory")
    if rules.max_moved is not None:
        m.move_budget = pyo.Constraint(expr=m.moved <= rules.max_moved, doc="at most the move budget changes")
    if rules.move_penalty:
        m.disruption = pyo.Expression(expr=rules.move_penalty * m.moved, doc="cost of moved units")
        return [m.disruption]
    return []

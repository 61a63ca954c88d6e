r"""The response-curve block shared by the sizing models: sales of each item under its linear envelope.

An *item* is a segment (``models.sizing``) or a unit (``models.sizing_joint``) with an effort
variable :math:`E_i \in [l_i, u_i]` and an envelope from :mod:`models.sizing_envelope`.

Sets
    ==============  ===============================================================================
    ``ITEMS``       items :math:`i`
    ``PIECES``      pieces :math:`k` of items whose envelope has several (S-shaped or kinked curves)
    ``CUTS``        cuts :math:`j` (flat), each of one item and, for several-piece items, one piece
    ==============  ===============================================================================

Variables
    ======================  ===================================================================
    ``Response[i]``          :math:`R_i`, sales the model credits to item :math:`i`
    ``PieceOn[k]``           :math:`z_k \in \{0,1\}`, the piece the effort lies in
    ``PieceEffort[k]``       :math:`e_k \ge 0`, the effort when piece :math:`k` is on (else 0)
    ``PieceResponse[k]``     :math:`R_k`, the sales of piece :math:`k` (0 when off)
    ======================  ===================================================================

Constraints
    .. math::

        R_i &\le a_j + b_j E_i && \text{one-piece items (concave: tangent cuts, no binaries)} \\
        R_k &\le a_j z_k + b_j e_k && \text{cuts of piece } k \\
        l_k z_k \le e_k &\le u_k z_k, \quad \textstyle\sum_{k \in i} z_k = 1, \quad
        E_i = \sum_{k \in i} e_k, \quad R_i = \sum_{k \in i} R_k && \text{several-piece items}

Every cut lies on or above the curve over its piece, so :math:`R_i` never falls below the true sales
and exceeds them by at most the envelope's ``error``: the model is a relaxation of the true curves.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from models.sizing_envelope import Envelope


def _flat_pieces(envelopes: list[Envelope]) -> tuple[list[int], list]:
    """Item and piece of every piece of the several-piece items."""
    items, pieces = [], []
    for i, env in enumerate(envelopes):
        if env.needs_binaries:
            items += [i] * len(env.pieces)
            pieces += list(env.pieces)
    return items, pieces


def add_response(m: pyo.ConcreteModel, effort: list, envelopes: list[Envelope]) -> None:
    """Add ``Response[i]`` bounded by each item's envelope of ``effort[i]`` (see the module docstring)."""
    m.ITEMS = pyo.RangeSet(0, len(envelopes) - 1)
    m.Response = pyo.Var(m.ITEMS, doc="sales credited to the item (upper envelope of its curve)")
    piece_item, pieces = _flat_pieces(envelopes)
    single = [i for i, env in enumerate(envelopes) if not env.needs_binaries]
    single_cuts = [(i, float(a), float(b)) for i in single
                   for a, b in zip(envelopes[i].pieces[0].intercepts, envelopes[i].pieces[0].slopes)]
    m.SINGLE_CUTS = pyo.RangeSet(0, len(single_cuts) - 1)

    @m.Constraint(m.SINGLE_CUTS, doc="sales on or below each tangent of a concave curve")
    def under_tangent(m, j):
        i, a, b = single_cuts[j]
        return LinearExpression(constant=-a, linear_coefs=[1.0, -b], linear_vars=[m.Response[i], effort[i]]) <= 0

    if pieces:
        _add_pieces(m, effort, piece_item, pieces, len(envelopes))


def _add_pieces(m: pyo.ConcreteModel, effort: list, piece_item: list[int], pieces: list, n_items: int) -> None:
    m.PIECES = pyo.RangeSet(0, len(pieces) - 1)
    m.PieceOn = pyo.Var(m.PIECES, domain=pyo.Binary, doc="the piece holding the item's effort")
    m.PieceEffort = pyo.Var(m.PIECES, domain=pyo.NonNegativeReals, doc="effort when the piece is on")
    m.PieceResponse = pyo.Var(m.PIECES, doc="sales of the piece when on, else 0")
    cuts = [(k, float(a), float(b)) for k, p in enumerate(pieces) for a, b in zip(p.intercepts, p.slopes)]
    m.PIECE_CUTS = pyo.RangeSet(0, len(cuts) - 1)

    @m.Constraint(m.PIECE_CUTS, doc="piece sales on or below each of its cuts")
    def under_piece_cut(m, j):
        k, a, b = cuts[j]
        return LinearExpression(constant=0, linear_coefs=[1.0, -a, -b],
                                linear_vars=[m.PieceResponse[k], m.PieceOn[k], m.PieceEffort[k]]) <= 0

    @m.Constraint(m.PIECES, [0, 1], doc="piece effort within the piece when on, 0 when off")
    def piece_range(m, k, upper):
        bound = pieces[k].hi if upper else pieces[k].lo
        body = LinearExpression(constant=0, linear_coefs=[1.0, -float(bound)],
                                linear_vars=[m.PieceEffort[k], m.PieceOn[k]])
        return body <= 0 if upper else body >= 0

    grouped = [np.flatnonzero(np.asarray(piece_item) == i) for i in range(n_items)]
    multi = [i for i in range(n_items) if grouped[i].size]
    m.MULTI_ITEMS = pyo.Set(initialize=multi, ordered=True)

    @m.Constraint(m.MULTI_ITEMS, doc="exactly one piece per item")
    def one_piece(m, i):
        return sum(m.PieceOn[k] for k in grouped[i]) == 1

    @m.Constraint(m.MULTI_ITEMS, doc="the item's effort is its piece's effort")
    def effort_in_pieces(m, i):
        return effort[i] == sum(m.PieceEffort[k] for k in grouped[i])

    @m.Constraint(m.MULTI_ITEMS, doc="the item's sales are its piece's sales")
    def response_of_pieces(m, i):
        return m.Response[i] == sum(m.PieceResponse[k] for k in grouped[i])

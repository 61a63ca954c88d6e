r"""Account-to-rep assignment: a generalized assignment with capacity, a utilisation band and continuity.

Every named account goes to one eligible rep (or, where allowed, stays uncovered at a cost); each rep's
yearly hours (calls x (call length + travel)) stay within the rep's capacity and within a band around the
average utilisation; accounts that change rep cost a disruption charge and may be limited by a budget;
accounts of one family (same parent) share a rep.

The model is built over a list of eligible (account, rep) *pairs*, never a dense grid; the caller
decides which pairs exist (skills, reach, locks) and what a restriction means for the bound (see
``optimizer.accounts.solve``). A locked account is one with a single pair (its current rep).

Maximising *covered value - travel cost - disruption cost* is the same as minimising *value left
uncovered + travel cost + disruption cost* (they add up to the constant total value). The model
minimises the latter, so the reported gap is relative to the cost that the plan controls rather than
being diluted by the total value of all accounts.

Sets
    ==============  ===================================================================
    ``ACCOUNTS``    accounts :math:`i`
    ``REPS``        reps :math:`r`, each with a fixed home base
    ``PAIRS``       eligible pairs :math:`p = (i_p, r_p)`
    ``LINKS``       family links :math:`q = (p, p')`: pair :math:`p` of a member and pair
                    :math:`p'` of its family lead with the same rep
    ``LOCKED``      accounts that keep their current rep (their only pair)
    ==============  ===================================================================

Parameters
    ======================  ==========================================================
    ``hours[p]``            :math:`h_p`, yearly hours of account :math:`i_p` served by rep
                            :math:`r_p`: calls x (call length + travel per call)
    ``travel_cost[p]``      :math:`c_p`, yearly travel cost (currency) of pair :math:`p`
    ``move_cost[i]``        :math:`d_i`, cost if account :math:`i` leaves its current rep
    ``current[p]``          :math:`k_p \in \{0,1\}`, 1 if :math:`r_p` is the current rep of
                            :math:`i_p`; an account with a current rep (:math:`m_i = 1`) moves unless
                            its current pair is chosen: :math:`\text{moved}_i = m_i - \sum_{p: i_p=i} k_p x_p`
    ``move_weight[i]``      :math:`w_i`, what a move of :math:`i` uses of the budget
    ``move_budget``         :math:`B`, the most moves allowed (optional)
    ``uncovered_cost[i]``   :math:`u_i`, value lost plus penalty if :math:`i` stays uncovered;
                            absent when every account must be covered
    ``capacity[r]``         :math:`C_r`, yearly hours of rep :math:`r`
    ``tolerance``           :math:`\tau`, allowed deviation of a rep's utilisation from the
                            average (optional)
    ``band_penalty``        :math:`\pi`, cost per hour outside the band (soft band only)
    ======================  ==========================================================

Variables
    ===========================  ======================================================
    ``Assign[p]``                :math:`x_p \in \{0,1\}`
    ``Uncovered[i]``             :math:`y_i \in [0,1]` (integral through one_rep)
    ``Hours[r]``                 :math:`H_r \ge 0`, yearly hours of rep :math:`r`
    ``Utilization``              :math:`U \ge 0`, average share of capacity used
    ``Under[r]``, ``Over[r]``    :math:`s^-_r, s^+_r \ge 0`, hours outside the band (soft)
    ===========================  ======================================================

Model
    .. math::

        \min\ & \sum_i u_i y_i + \sum_p c_p x_p + \sum_i d_i \big(m_i - \sum_{p: i_p = i} k_p x_p\big)
                + \pi \sum_r (s^-_r + s^+_r) \\
        \text{s.t.}\ & \sum_{p: i_p = i} x_p + y_i = 1 && \forall i && \text{(one\_rep)} \\
        & H_r = \textstyle\sum_{p: r_p = r} h_p x_p && \forall r && \text{(hours\_definition)} \\
        & H_r \le C_r && \forall r && \text{(within\_capacity)} \\
        & \textstyle\sum_r C_r\, U = \sum_r H_r && && \text{(average\_utilization)} \\
        & H_r + s^-_r \ge (1 - \tau) C_r U && \forall r && \text{(band\_low)} \\
        & H_r - s^+_r \le (1 + \tau) C_r U && \forall r && \text{(band\_high)} \\
        & \textstyle\sum_i w_i \big(m_i - \sum_{p: i_p = i} k_p x_p\big) \le B && && \text{(move\_budget)} \\
        & x_p = x_{p'} && \forall (p, p') \in \text{LINKS} && \text{(same\_rep\_as\_family)} \\
        & \textstyle\sum_{p: i_p = i} x_p = 1 && \forall i \in \text{LOCKED} && \text{(keep\_locked)}

``Hours`` and ``Utilization`` are variables rather than expressions so that every pair has two
nonzeros (``one_rep``, ``hours_definition``): the band rows then do not repeat every pair, and the LP
stays sparse. Terms that are switched off (no uncovered option, no band, hard band, no budget) have neither their
variables nor their rows. The registered objective terms are ``uncovered_value``, ``travel``,
``disruption`` and ``imbalance``; ``objective_terms`` reports each one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression


@dataclass(frozen=True)
class AccountData:
    """Plain arrays the model is built from (locations have already become hours and costs)."""

    pair_account: np.ndarray  # (P,) int account index
    pair_rep: np.ndarray  # (P,) int rep index
    hours: np.ndarray  # (P,) yearly hours incl. travel
    travel_cost: np.ndarray  # (P,) yearly travel cost
    current: np.ndarray  # (P,) bool: this rep is the account's current rep
    move_cost: np.ndarray  # (A,) disruption cost of a move
    has_current: np.ndarray  # (A,) bool: the account has a current rep
    capacity: np.ndarray  # (R,) yearly hours
    lead: np.ndarray  # (A,) int index of the family lead (itself when alone)
    locked: np.ndarray | None = None  # (A,) bool: keeps its only pair, never uncovered
    uncovered_cost: np.ndarray | None = None  # (A,) or None: every account must be covered
    move_weight: np.ndarray | None = None  # (A,) budget use of a move; None: no budget
    move_budget: float | None = None
    tolerance: float | None = None  # None: no band
    band_penalty: float | None = None  # None: hard band

    @property
    def n_accounts(self) -> int:
        return len(self.move_cost)

    @property
    def n_reps(self) -> int:
        return len(self.capacity)


def grouped(keys: np.ndarray, size: int) -> list[np.ndarray]:
    """Pair indices grouped by ``keys`` (account or rep index), in ascending pair order."""
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(size + 1))
    return [order[bounds[k]: bounds[k + 1]] for k in range(size)]


def family_links(data: AccountData) -> np.ndarray:
    """``(L, 2)`` pairs (member pair, lead pair) with the same rep; members must have the lead's reps."""
    by_account = grouped(data.pair_account, data.n_accounts)
    links = []
    for member in np.flatnonzero(data.lead != np.arange(data.n_accounts)):
        mine, theirs = by_account[member], by_account[data.lead[member]]
        if not np.array_equal(data.pair_rep[mine], data.pair_rep[theirs]):
            raise ValueError(f"account {member} is eligible for other reps than its family lead {data.lead[member]}")
        links.extend(zip(mine, theirs))
    return np.asarray(links, dtype=int).reshape(-1, 2)


def _linear(coefs, variables) -> LinearExpression:
    return LinearExpression(constant=0, linear_coefs=[float(c) for c in coefs], linear_vars=list(variables))


def build(data: AccountData) -> pyo.ConcreteModel:
    """Build the declarative Pyomo model over the eligible pairs in ``data``."""
    m = pyo.ConcreteModel(name="account_assignment")
    m.ACCOUNTS = pyo.RangeSet(0, data.n_accounts - 1)
    m.REPS = pyo.RangeSet(0, data.n_reps - 1)
    m.PAIRS = pyo.RangeSet(0, len(data.pair_account) - 1)
    m.Assign = pyo.Var(m.PAIRS, domain=pyo.Binary, doc="account i_p is served by rep r_p")
    if data.uncovered_cost is not None:
        m.Uncovered = pyo.Var(m.ACCOUNTS, bounds=(0, 1), doc="account i is left uncovered")
    assign = [m.Assign[p] for p in range(len(data.pair_account))]
    _one_rep(m, data, assign)
    _capacity_and_band(m, data, assign)
    _move_budget(m, data, assign)
    _families(m, data, assign)
    _locks(m, data, assign)
    _objective(m, data, assign)
    return m


def _one_rep(m: pyo.ConcreteModel, data: AccountData, assign: list) -> None:
    by_account = grouped(data.pair_account, data.n_accounts)
    covered = data.uncovered_cost is not None

    @m.Constraint(m.ACCOUNTS, doc="each account served by exactly one rep (or uncovered, if allowed)")
    def one_rep(m, i):
        pairs = by_account[i]
        coefs, terms = [1.0] * len(pairs), [assign[p] for p in pairs]
        if covered:
            coefs, terms = coefs + [1.0], terms + [m.Uncovered[i]]
        return _linear(coefs, terms) == 1


def _capacity_and_band(m: pyo.ConcreteModel, data: AccountData, assign: list) -> None:
    by_rep = grouped(data.pair_rep, data.n_reps)
    m.Hours = pyo.Var(m.REPS, domain=pyo.NonNegativeReals, doc="yearly hours of rep r")

    @m.Constraint(m.REPS, doc="H_r adds up the hours of rep r's accounts")
    def hours_definition(m, r):
        pairs = by_rep[r]
        return _linear([1.0, *(-data.hours[pairs])], [m.Hours[r], *(assign[p] for p in pairs)]) == 0

    @m.Constraint(m.REPS, doc="a rep's hours within capacity")
    def within_capacity(m, r):
        return m.Hours[r] <= float(data.capacity[r])

    if data.tolerance is None:
        return
    m.Utilization = pyo.Var(domain=pyo.NonNegativeReals, doc="average share of capacity used")
    m.average_utilization = pyo.Constraint(
        expr=float(data.capacity.sum()) * m.Utilization == pyo.quicksum(m.Hours[r] for r in m.REPS),
        doc="U is total hours over total capacity")
    soft = data.band_penalty is not None
    if soft:
        m.Under = pyo.Var(m.REPS, domain=pyo.NonNegativeReals, doc="hours below the band")
        m.Over = pyo.Var(m.REPS, domain=pyo.NonNegativeReals, doc="hours above the band")
    low, high = 1.0 - data.tolerance, 1.0 + data.tolerance

    @m.Constraint(m.REPS, doc="a rep's utilisation at least (1 - tolerance) x the average")
    def band_low(m, r):
        return m.Hours[r] + (m.Under[r] if soft else 0) - low * float(data.capacity[r]) * m.Utilization >= 0

    @m.Constraint(m.REPS, doc="a rep's utilisation at most (1 + tolerance) x the average")
    def band_high(m, r):
        return m.Hours[r] - (m.Over[r] if soft else 0) - high * float(data.capacity[r]) * m.Utilization <= 0


def _kept(data: AccountData, assign: list, weight: np.ndarray) -> LinearExpression:
    """``sum_i weight_i (m_i - sum_p k_p x_p)``: the weighted count of accounts that change rep."""
    kept = np.flatnonzero(data.current)
    return LinearExpression(constant=float(weight[data.has_current].sum()),
                            linear_coefs=[-float(c) for c in weight[data.pair_account[kept]]],
                            linear_vars=[assign[p] for p in kept])


def _move_budget(m: pyo.ConcreteModel, data: AccountData, assign: list) -> None:
    if data.move_budget is None:
        return
    m.move_budget = pyo.Constraint(expr=_kept(data, assign, data.move_weight) <= float(data.move_budget),
                                   doc="accounts that change rep within the budget")


def _families(m: pyo.ConcreteModel, data: AccountData, assign: list) -> None:
    links = family_links(data)
    m.LINKS = pyo.RangeSet(0, len(links) - 1)

    @m.Constraint(m.LINKS, doc="a family member goes where its family lead goes")
    def same_rep_as_family(m, q):
        return _linear([1.0, -1.0], [assign[links[q, 0]], assign[links[q, 1]]]) == 0


def _locks(m: pyo.ConcreteModel, data: AccountData, assign: list) -> None:
    locked = np.flatnonzero(data.locked) if data.locked is not None else np.zeros(0, int)
    by_account = grouped(data.pair_account, data.n_accounts)
    if any(by_account[i].size != 1 for i in locked):
        raise ValueError("a locked account must have exactly one pair (its current rep)")
    m.LOCKED = pyo.Set(initialize=[int(i) for i in locked], ordered=True)

    @m.Constraint(m.LOCKED, doc="a locked account keeps its current rep (and is never left uncovered)")
    def keep_locked(m, i):
        return _linear([1.0], [assign[by_account[i][0]]]) == 1


def _objective(m: pyo.ConcreteModel, data: AccountData, assign: list) -> None:
    m.travel = pyo.Expression(expr=_linear(data.travel_cost, assign), doc="yearly travel cost")
    m.disruption = pyo.Expression(expr=_kept(data, assign, data.move_cost), doc="cost of accounts that change rep")
    if data.uncovered_cost is not None:
        m.uncovered_value = pyo.Expression(expr=_linear(data.uncovered_cost, m.Uncovered.values()),
                                           doc="value (and penalty) of accounts left uncovered")
    if hasattr(m, "Under"):
        slack = [*m.Under.values(), *m.Over.values()]
        m.imbalance = pyo.Expression(expr=_linear([data.band_penalty] * len(slack), slack),
                                     doc="cost of hours outside the band")
    terms = [getattr(m, name) for name in TERMS if hasattr(m, name)]
    m.total_cost = pyo.Objective(expr=sum(terms), sense=pyo.minimize)


TERMS = ("uncovered_value", "travel", "disruption", "imbalance")


def objective_terms(m: pyo.ConcreteModel) -> dict[str, float]:
    """Each registered objective term's value at the loaded solution (absent terms are 0)."""
    return {name: float(pyo.value(getattr(m, name))) if hasattr(m, name) else 0.0 for name in TERMS}

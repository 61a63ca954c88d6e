"""From tables to the full problem: eligible pairs, hours, costs, locks, families and the move budget.

A pair (account, rep) is eligible when the rep serves the account's segment and is within reach (the
current rep stays eligible whatever the distance, so "change nothing" is never excluded by reach). A
family is eligible for the reps every member is eligible for; a locked account (and its family) only for
its current rep. What makes a request impossible before solving is refused here with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.accounts import AccountData
from optimizer.accounts.data import ALL_SEGMENTS, AccountTable, RepTable
from optimizer.accounts.schema import AccountsScenario
from optimizer.core.errors import InfeasibleError, InputError


@dataclass(frozen=True)
class AccountProblem:
    """The full model's data as (accounts x reps) grids; ``eligible`` marks the pairs that exist."""

    eligible: np.ndarray  # (A, R) bool
    hours: np.ndarray  # (A, R) yearly hours incl. travel
    travel_hours: np.ndarray  # (A, R) yearly travel hours
    travel_cost: np.ndarray  # (A, R)
    current: np.ndarray  # (A,) index of the current rep among the active reps, -1 if none or excluded
    has_current: np.ndarray  # (A,) bool: a current rep is named (perhaps an excluded one)
    move_cost: np.ndarray  # (A,)
    lead: np.ndarray  # (A,) family lead index
    locked: np.ndarray  # (A,) bool
    capacity: np.ndarray  # (R,)
    uncovered_cost: np.ndarray | None
    move_weight: np.ndarray | None
    move_budget: float | None
    tolerance: float | None
    band_penalty: float | None

    def moved(self, rep_of: np.ndarray) -> np.ndarray:
        """(A,) bool: the plan ``rep_of`` (-1: uncovered) takes the account from its current rep."""
        return self.has_current & ((rep_of < 0) | (rep_of != self.current))

    @property
    def moves(self) -> np.ndarray:
        """(A, R) bool: serving the account by this rep counts as a move."""
        reps = np.arange(self.capacity.size)[None, :]
        return self.has_current[:, None] & (reps != self.current[:, None])

    def data(self, mask: np.ndarray | None = None, uncovered_cost: np.ndarray | None = None,
             band_penalty: float | None = None, elastic: bool = False) -> tuple[AccountData, tuple]:
        """Model data over the eligible pairs in ``mask`` (all when None); ``elastic`` swaps in the given
        uncovered cost and band penalty (used to keep a restricted LP feasible)."""
        chosen = self.eligible if mask is None else (mask & self.eligible)
        account, rep = np.nonzero(chosen)
        data = AccountData(
            pair_account=account, pair_rep=rep, hours=self.hours[account, rep],
            travel_cost=self.travel_cost[account, rep], current=self.current[account] == rep, move_cost=self.move_cost,
            has_current=self.has_current, capacity=self.capacity, lead=self.lead, locked=self.locked,
            uncovered_cost=uncovered_cost if elastic else self.uncovered_cost, move_weight=self.move_weight,
            move_budget=self.move_budget, tolerance=self.tolerance,
            band_penalty=band_penalty if elastic else self.band_penalty)
        return data, (account, rep)


def build_problem(scenario: AccountsScenario, accounts: AccountTable, reps: RepTable, minutes: np.ndarray
                  ) -> tuple[AccountProblem, list[str]]:
    """The full problem and notes for the summary; raises when a request cannot be met."""
    a, r = accounts.frame, reps.frame
    rep_pos = {rep: k for k, rep in enumerate(reps.ids)}
    current = np.array([rep_pos.get(c, -1) for c in a["current_rep"]], dtype=int)
    has_current = (a["current_rep"] != "").to_numpy()
    lead = _lead_index(accounts)
    serves = serves_segments(accounts, reps, scenario.eligibility.match_segments)
    eligible = _reachable(serves, minutes, current, scenario.eligibility.max_travel_minutes)
    _refuse_orphans(accounts, reps, serves, eligible, scenario)
    locked = _locked(scenario, a["value"].to_numpy(float), current)
    eligible = _restrict_families_and_locks(accounts, eligible, lead, locked, current, serves)
    calls = a["calls_per_year"].to_numpy(float)[:, None]
    trips = minutes / 60.0 * (2.0 if scenario.travel.round_trip else 1.0)
    hours = calls * (a["call_hours"].to_numpy(float)[:, None] + trips)
    value = a["value"].to_numpy(float)
    moves = scenario.continuity
    move_cost = np.where(has_current, moves.move_cost + moves.move_cost_value_share * value, 0.0)
    weight, budget, notes = _budget(scenario, value, has_current, current)
    cover = scenario.coverage
    problem = AccountProblem(
        eligible=eligible, hours=hours, travel_hours=calls * trips,
        travel_cost=calls * trips * scenario.objective.travel_cost_per_hour, current=current,
        has_current=has_current, move_cost=move_cost, lead=lead, locked=locked,
        capacity=r["capacity_hours"].to_numpy(float),
        uncovered_cost=(scenario.objective.value_weight * value + cover.uncovered_penalty) if cover.allow_uncovered else None,
        move_weight=weight, move_budget=budget, tolerance=scenario.balance.tolerance,
        band_penalty=scenario.balance.soft_penalty)
    _refuse_impossible(problem, accounts, reps)
    return problem, notes + _excluded_note(current, has_current, reps)


def _lead_index(accounts: AccountTable) -> np.ndarray:
    position = {account: k for k, account in enumerate(accounts.ids)}
    return np.array([position[root] for root in accounts.frame["family"]], dtype=int)


def serves_segments(accounts: AccountTable, reps: RepTable, match: bool) -> np.ndarray:
    """(accounts x reps) bool: the rep serves the account's segment (all True when segments are not matched)."""
    segments = accounts.frame["segment"].to_numpy()
    if not match:
        return np.ones((len(accounts), len(reps)), bool)
    columns = [np.isin(segments, list(s)) | (ALL_SEGMENTS in s) for s in reps.frame["segments"]]
    return np.stack(columns, axis=1)


def _reachable(serves: np.ndarray, minutes: np.ndarray, current: np.ndarray, limit: float | None) -> np.ndarray:
    near = np.ones_like(serves) if limit is None else minutes <= limit
    keep_current = np.zeros_like(serves)
    has = current >= 0
    keep_current[np.flatnonzero(has), current[has]] = True
    return serves & (near | keep_current)


def _refuse_orphans(accounts: AccountTable, reps: RepTable, serves, eligible, scenario) -> None:
    orphan = np.flatnonzero(~eligible.any(axis=1))
    if orphan.size == 0:
        return
    k = int(orphan[0])
    row = accounts.frame.iloc[k]
    where = f"{accounts.source} row {k + 2} (account_id {row['account_id']})"
    more = f" ({orphan.size} accounts in all)" if orphan.size > 1 else ""
    if not serves[k].any():
        raise InputError(where, f"no rep serves segment `{row['segment']}`{more}",
                         "add the segment to a rep's `segments` in the roster, or fix the account's segment")
    limit = scenario.eligibility.max_travel_minutes
    raise InputError(where, f"no rep serving `{row['segment']}` is within {limit:g} travel minutes{more}",
                     "raise eligibility.max_travel_minutes or add a rep nearby")


def _locked(scenario: AccountsScenario, value: np.ndarray, current: np.ndarray) -> np.ndarray:
    locked = np.zeros(value.size, bool)
    candidates = np.flatnonzero(current >= 0)
    top = candidates[np.argsort(-value[candidates], kind="stable")[: scenario.continuity.lock_top]]
    locked[top] = True
    return locked


def _restrict_families_and_locks(accounts, eligible, lead, locked, current, serves) -> np.ndarray:
    eligible = eligible.copy()
    ids = accounts.ids
    for root in np.unique(lead):
        members = np.flatnonzero(lead == root)
        common = eligible[members].all(axis=0)
        pinned = {int(current[m]) for m in members[locked[members]]}
        if len(pinned) > 1:
            raise InfeasibleError(f"family {ids[root]}", "two locked members have different current reps",
                                  "lower continuity.lock_top or give the family one current rep")
        if pinned:
            rep = pinned.pop()
            if not serves[members, rep].all():
                raise InfeasibleError(f"family {ids[root]}", "it is locked to its current rep, who does not serve "
                                      "every member's segment", "lower continuity.lock_top or fix the roster")
            common = np.zeros_like(common)
            common[rep] = True
        if not common.any():
            raise InputError(f"family {ids[root]}", f"no rep is eligible for all {members.size} members",
                             "give a rep every segment of the family, widen the reach, or split the family")
        eligible[members] = common
    return eligible


def _budget(scenario, value, has_current, current) -> tuple[np.ndarray | None, float | None, list[str]]:
    share = scenario.continuity.max_moved_share
    if share is None:
        return None, None, []
    weight = value if scenario.continuity.budget_measure == "value" else np.ones(value.size)
    weight = np.where(has_current, weight, 0.0)
    budget = share * float(weight.sum())
    forced = float(weight[has_current & (current < 0)].sum())
    if forced > budget + 1e-9:
        raise InfeasibleError("continuity.max_moved_share", f"accounts of excluded reps must move ({forced:,.0f}) "
                              f"but the budget allows {budget:,.0f}", "raise continuity.max_moved_share")
    return weight, budget, []


def _refuse_impossible(problem: AccountProblem, accounts: AccountTable, reps: RepTable) -> None:
    locked_hours = np.zeros(problem.capacity.size)
    rows = np.flatnonzero(problem.locked)
    np.add.at(locked_hours, problem.current[rows], problem.hours[rows, problem.current[rows]])
    over = np.flatnonzero(locked_hours > problem.capacity + 1e-9)
    if over.size:
        k = int(over[0])
        raise InfeasibleError(f"rep {reps.ids[k]}", f"locked accounts need {locked_hours[k]:,.0f} h but capacity is "
                              f"{problem.capacity[k]:,.0f} h", "lower continuity.lock_top or raise the capacity")
    if problem.uncovered_cost is not None:
        return
    least = np.where(problem.eligible, problem.hours, np.inf).min(axis=1).sum()
    if least > problem.capacity.sum() + 1e-9:
        raise InfeasibleError("reps", f"the accounts need at least {least:,.0f} h a year but the reps have "
                              f"{problem.capacity.sum():,.0f} h", "add reps or capacity, or set coverage.allow_uncovered")


def _excluded_note(current: np.ndarray, has_current: np.ndarray, reps: RepTable) -> list[str]:
    orphaned = int((has_current & (current < 0)).sum())
    if not reps.excluded:
        return []
    return [f"reps excluded: {', '.join(reps.excluded)}; their {orphaned} accounts must move"]

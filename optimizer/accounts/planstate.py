"""A plan under construction, at the level of families (an account alone is a family of one).

Shared by the repair (``optimizer.accounts.repair``), the move search (``optimizer.accounts.moves``) and
the local search (``optimizer.accounts.improve``): per family, its hours, cost and budget use with every
rep; the hours window of every rep (capacity, and the band around the average utilisation); a plan's
cost as the model counts it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.accounts.problem import AccountProblem

EPS = 1e-9


@dataclass
class Families:
    """Per family lead: hours, cost and move weight for every rep (inf where ineligible) and uncovered."""

    leads: np.ndarray
    hours: np.ndarray  # (G, R)
    cost: np.ndarray  # (G, R)
    weight: np.ndarray  # (G, R)
    uncovered_cost: np.ndarray  # (G,), inf when coverage is required
    uncovered_weight: np.ndarray  # (G,)
    locked: np.ndarray  # (G,) bool: a member is locked


def families(problem: AccountProblem) -> Families:
    """Each family's figures, summed over its members."""
    leads = np.unique(problem.lead)
    slot = np.searchsorted(leads, problem.lead)
    weight = problem.move_weight if problem.move_weight is not None else np.zeros(problem.lead.size)
    cost = problem.travel_cost + problem.move_cost[:, None] * problem.moves

    def summed(grid: np.ndarray) -> np.ndarray:
        out = np.zeros((leads.size,) + grid.shape[1:])
        np.add.at(out, slot, grid)
        return out
    ok = problem.eligible[leads]
    uncovered = (problem.uncovered_cost + problem.move_cost * problem.has_current
                 if problem.uncovered_cost is not None else np.full(problem.lead.size, np.inf))
    return Families(leads, np.where(ok, summed(problem.hours), np.inf), np.where(ok, summed(cost), np.inf),
                     summed(weight[:, None] * problem.moves), summed(uncovered),
                     summed(weight * problem.has_current), summed(problem.locked.astype(float)) > 0)


def plan_hours(problem: AccountProblem, rep_of: np.ndarray) -> np.ndarray:
    covered = np.flatnonzero(rep_of >= 0)
    return np.bincount(rep_of[covered], weights=problem.hours[covered, rep_of[covered]],
                       minlength=problem.capacity.size)


def plan_violation(problem: AccountProblem, rep_of: np.ndarray) -> np.ndarray:
    """Hours each rep is over capacity or outside a hard band."""
    hours = plan_hours(problem, rep_of)
    low, high = limits(problem, hours)
    return violation(hours, low, high)


def plan_cost(problem: AccountProblem, rep_of: np.ndarray) -> float:
    """The model's objective for a plan that respects its rules."""
    a = np.flatnonzero(rep_of >= 0)
    moved = problem.moved(rep_of)
    cost = float(problem.travel_cost[a, rep_of[a]].sum() + problem.move_cost[moved].sum())
    if problem.uncovered_cost is not None:
        cost += float(problem.uncovered_cost[rep_of < 0].sum())
    if problem.band_penalty is not None and problem.tolerance is not None:
        hours = plan_hours(problem, rep_of)
        target = problem.capacity * hours.sum() / problem.capacity.sum()
        outside = (np.maximum((1 - problem.tolerance) * target - hours, 0)
                   + np.maximum(hours - (1 + problem.tolerance) * target, 0))
        cost += problem.band_penalty * float(outside.sum())
    return cost


def limits(problem: AccountProblem, hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if problem.tolerance is None:
        return np.zeros_like(hours), problem.capacity
    average = hours.sum() / problem.capacity.sum()
    low = (1 - problem.tolerance) * problem.capacity * average
    high = np.minimum((1 + problem.tolerance) * problem.capacity * average, problem.capacity)
    if problem.band_penalty is not None:  # a soft band only has to respect capacity
        return np.zeros_like(hours), problem.capacity
    return low, high


def violation(hours: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.maximum(low - hours, 0) + np.maximum(hours - high, 0)


@dataclass
class State:
    """A plan under repair: each family's rep (-1: uncovered), hours per rep, budget used."""

    owner: np.ndarray
    hours: np.ndarray
    used: float

    def copy(self) -> State:
        return State(self.owner.copy(), self.hours.copy(), self.used)

    def apply(self, fam: Families, group: int, target: int) -> None:
        source = self.owner[group]
        if source >= 0:
            self.hours[source] -= fam.hours[group, source]
        if target >= 0:
            self.hours[target] += fam.hours[group, target]
        self.used += weight_of(fam, group, target) - weight_of(fam, group, source)
        self.owner[group] = target

    def cost(self, fam: Families, group: int) -> float:
        rep = self.owner[group]
        return float(fam.uncovered_cost[group] if rep < 0 else fam.cost[group, rep])


def total_violation(problem: AccountProblem, state: State) -> float:
    low, high = limits(problem, state.hours)
    return float(violation(state.hours, low, high).sum())


def weight_of(fam: Families, group: int, rep: int) -> float:
    return float(fam.uncovered_weight[group] if rep < 0 else fam.weight[group, rep])




def state_of(fam: Families, owner: np.ndarray) -> State:
    """The state of a plan given as each family's rep (-1: uncovered)."""
    g_index = np.arange(owner.size)
    covered = owner >= 0
    hours = np.bincount(owner[covered], weights=fam.hours[g_index[covered], owner[covered]],
                        minlength=fam.hours.shape[1])
    used = float(np.where(covered, fam.weight[g_index, np.maximum(owner, 0)], fam.uncovered_weight).sum())
    return State(owner, hours, used)

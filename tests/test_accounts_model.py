"""The account model and its certified solve against brute-force enumeration on small instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optimizer.accounts.pricing import nearest, price_full_lp
from optimizer.accounts.problem import AccountProblem
from optimizer.accounts.solve import solve_accounts
from optimizer.accounts.workspace import Clock, Workspace, family_closed
from optimizer.core.errors import InfeasibleError
from optimizer.solver.highs import SolverOptions, SolveStatus

EXACT = SolverOptions(time_limit=30, target_gap=0.0)


def random_problem(seed: int, accounts: int = 7, reps: int = 3, *, tolerance: float | None = 0.3,
                   uncovered: bool = False, budget: float | None = None, families: bool = False,
                   lock: bool = False, band_penalty: float | None = None, tight: float = 1.0,
                   departed: bool = False) -> AccountProblem:
    """A small generalized assignment instance with travel, current reps and optional features."""
    rng = np.random.default_rng(seed)
    points, bases = rng.uniform(0, 300, (accounts, 2)), rng.uniform(0, 300, (reps, 2))
    minutes = np.hypot(*(points[:, None, :] - bases[None, :, :]).transpose(2, 0, 1))
    calls = rng.integers(2, 12, accounts)[:, None].astype(float)
    travel_hours = calls * minutes / 120.0
    hours = calls * rng.uniform(0.5, 2.0, accounts)[:, None] + travel_hours
    current = rng.integers(-1, reps, accounts)
    eligible = rng.random((accounts, reps)) < 0.8
    eligible[np.arange(accounts), rng.integers(0, reps, accounts)] = True
    eligible[current >= 0, current[current >= 0]] = True
    lead = np.arange(accounts)
    if families:
        lead[1], lead[2], lead[4] = 0, 0, 3
        for root in (0, 3):
            members = lead == root
            eligible[members] = eligible[members].all(axis=0) | (np.arange(reps) == 0)
    locked = np.zeros(accounts, bool)
    if lock:
        k = int(np.flatnonzero((current >= 0) & (lead == np.arange(accounts)) & (np.bincount(lead, minlength=accounts) == 1))[0])
        locked[k] = True
        eligible[k] = np.arange(reps) == current[k]
    has_current = current >= 0
    if departed:  # the current rep of the last account has left: it has a current rep but must move
        has_current[-1], current[-1] = True, -1
    value = rng.lognormal(7, 0.5, accounts)
    capacity = np.full(reps, tight * hours.mean(axis=1).sum() * 1.5 / reps)
    move_weight = np.ones(accounts) * has_current if budget is not None else None
    return AccountProblem(
        eligible=eligible, hours=hours, travel_hours=travel_hours, travel_cost=travel_hours * 50.0,
        current=current, has_current=has_current, move_cost=np.where(has_current, rng.uniform(50, 500, accounts), 0.0),
        lead=lead, locked=locked, capacity=capacity, uncovered_cost=value if uncovered else None,
        move_weight=move_weight, move_budget=budget, tolerance=tolerance, band_penalty=band_penalty)


def plan_cost(problem: AccountProblem, rep_of: np.ndarray) -> float:
    """Cost of a plan, or inf if it breaks a rule (the rules restated without the model)."""
    a = np.arange(rep_of.size)
    covered = rep_of >= 0
    if not problem.eligible[a[covered], rep_of[covered]].all():
        return np.inf
    if problem.uncovered_cost is None and not covered.all():
        return np.inf
    if np.any(rep_of != rep_of[problem.lead]) or np.any(problem.locked & (rep_of != problem.current)):
        return np.inf
    hours = np.bincount(rep_of[covered], weights=problem.hours[a[covered], rep_of[covered]],
                        minlength=problem.capacity.size)
    if np.any(hours > problem.capacity + 1e-9):
        return np.inf
    moved = problem.has_current & ((rep_of == -1) | (rep_of != problem.current))
    if problem.move_budget is not None and (problem.move_weight * moved).sum() > problem.move_budget + 1e-9:
        return np.inf
    cost = problem.travel_cost[a[covered], rep_of[covered]].sum() + (problem.move_cost * moved).sum()
    if problem.uncovered_cost is not None:
        cost += problem.uncovered_cost[~covered].sum()
    if problem.tolerance is not None:
        target = problem.capacity * hours.sum() / problem.capacity.sum()
        outside = (np.maximum((1 - problem.tolerance) * target - hours, 0)
                   + np.maximum(hours - (1 + problem.tolerance) * target, 0)).sum()
        if problem.band_penalty is None and outside > 1e-7:
            return np.inf
        cost += (problem.band_penalty or 0.0) * outside
    return float(cost)


def brute_force(problem: AccountProblem) -> float:
    """Least cost over every assignment (inf if none is feasible)."""
    options = [list(np.flatnonzero(row)) + ([-1] if problem.uncovered_cost is not None else [])
               for row in problem.eligible]
    return min(plan_cost(problem, np.array(plan)) for plan in itertools.product(*options))


CASES = {
    "band": {},
    "tight band": {"tolerance": 0.08},
    "no band": {"tolerance": None},
    "soft band": {"tolerance": 0.05, "band_penalty": 40.0},
    "uncovered allowed, short capacity": {"uncovered": True, "tight": 0.5},
    "move budget": {"budget": 1.0},
    "families": {"families": True},
    "lock": {"lock": True},
    "departed rep, uncovered allowed": {"uncovered": True, "departed": True, "tight": 0.5},
    "everything": {"uncovered": True, "budget": 3.0, "families": True, "lock": True, "tight": 0.8, "tolerance": 0.5,
                   "departed": True},
}


@pytest.mark.parametrize("direct", [True, False], ids=["whole", "priced"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("seed", range(3))
def test_optimum_equals_brute_force(case, seed, direct):
    problem = random_problem(seed, **CASES[case])
    expected = brute_force(problem)
    if not np.isfinite(expected):
        with pytest.raises(InfeasibleError):
            solve_accounts(problem, EXACT, direct_pairs=10**9 if direct else 0)
        return
    solution = solve_accounts(problem, EXACT, direct_pairs=10**9 if direct else 0)
    assert solution.status is SolveStatus.OPTIMAL
    assert solution.objective == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert plan_cost(problem, solution.rep_of) == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert solution.bound <= expected + 1e-6, "the certified bound may never exceed the true optimum"
    assert sum(solution.terms.values()) == pytest.approx(solution.objective, rel=1e-6, abs=1e-6)


def test_at_least_one_case_is_infeasible_and_most_are_not():
    """The parametrised cases exercise both outcomes (so the infeasible branch is not dead)."""
    outcomes = [np.isfinite(brute_force(random_problem(s, **CASES[c]))) for c in CASES for s in range(3)]
    assert 0 < sum(outcomes) < len(outcomes) or all(outcomes)
    assert sum(outcomes) >= len(outcomes) * 0.6


@pytest.mark.parametrize("start", ["all pairs", "one pair per account"])
def test_every_lagrangian_bound_is_below_the_optimum(start):
    """Valid for every eligible pair at every pricing round, even from a one-pair-per-account start."""
    problem = random_problem(4, accounts=8, reps=4, families=True, budget=3.0, tolerance=0.5)
    optimum = brute_force(problem)
    assert np.isfinite(optimum)
    included = problem.eligible.copy()
    if start != "all pairs":
        included = family_closed(problem, nearest(np.where(problem.eligible, problem.travel_cost, np.inf), 1))
    lp = price_full_lp(Workspace(problem, included, Clock(30)), EXACT, included)
    bounds = [stage["bound"] for stage in lp.stages if "bound" in stage]
    assert bounds and all(bound <= optimum + 1e-6 for bound in bounds)
    assert len(bounds) > 1 or start == "all pairs", "a one-pair start needs pricing rounds"
    assert lp.bound <= lp.lp_value + 1e-6
    assert lp.bound == pytest.approx(lp.lp_value, rel=1e-6), "pricing ends at the full LP optimum"
    assert np.all(lp.reduced[problem.eligible] >= -1e-9) and np.all(np.isinf(lp.reduced[~problem.eligible]))


def test_bound_holds_for_the_full_model_when_the_gap_is_loose():
    problem = random_problem(11, accounts=8, reps=3, tolerance=0.2)
    expected = brute_force(problem)
    solution = solve_accounts(problem, SolverOptions(time_limit=30, target_gap=0.3), direct_pairs=0)
    assert solution.bound <= expected + 1e-6 <= solution.objective + 1e-6
    assert solution.gap <= 0.3

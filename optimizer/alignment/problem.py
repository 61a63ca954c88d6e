"""From a prepared scenario to the solver's problem, and the certified solve of it (with or without rules).

Used by the pipeline and by what re-solves a scenario with a limit loosened (``limits``, ``explain``)."""

from __future__ import annotations

import numpy as np

from optimizer.alignment.data import Prepared
from optimizer.alignment.rule_set import RuleSet, build_rule_set
from optimizer.alignment.schema import Scenario
from optimizer.alignment.solve.align import AlignmentProblem, AlignmentSolution, solve_alignment
from optimizer.alignment.solve.rules import solve_with_rules
from optimizer.areas.distance import distance_matrix_km
from optimizer.core.errors import InputError
from optimizer.solver.highs import SolverOptions


def alignment_problem(scenario: Scenario, ready: Prepared) -> tuple[AlignmentProblem, np.ndarray]:
    """The solver's problem for a prepared scenario (loads in average territories, band, pairs to start from)
    and the units x territories distance in km."""
    distance = distance_to_bases(scenario, ready)
    k = len(ready.bases)
    tol = scenario.balance.tolerance
    target = territory_targets(scenario, ready)
    problem = AlignmentProblem(load=ready.units.workload / (ready.units.workload.sum() / k), distance_km=distance,
                               shared=ready.shared, lower=(1 - tol) * target, upper=(1 + tol) * target,
                               penalty=scenario.balance.soft_penalty, start_pairs=ready.bases.allocation)
    return problem, distance


def territory_targets(scenario: Scenario, ready: Prepared) -> np.ndarray:
    """Each territory's target in average territories: ``balance.targets`` scaled so they add up to K."""
    ids = list(ready.bases.ids)
    unknown = sorted(set(scenario.balance.targets) - set(ids))
    if unknown:
        raise InputError(f"balance.targets.{unknown[0]}", "is not a territory", f"territories are {', '.join(ids[:6])}, ...")
    factor = np.array([scenario.balance.targets.get(tid, 1.0) for tid in ids])
    return factor * len(ids) / factor.sum()


def distance_to_bases(scenario: Scenario, ready: Prepared) -> np.ndarray:
    """Units x territories distance in km, as the model measures it (``objective.distance``)."""
    units, b = ready.units, ready.bases.frame
    return distance_matrix_km(units.lat, units.lon, units.xy, b["base_lat"].to_numpy(float),
                              b["base_lon"].to_numpy(float), b[["x_m", "y_m"]].to_numpy(float),
                              scenario.objective.distance)


def solve_plan(problem: AlignmentProblem, rules: RuleSet, options: SolverOptions) -> AlignmentSolution:
    """The certified pipeline, or the rules MIP when any adoption rule is set."""
    return solve_with_rules(problem, rules, options) if rules.any else solve_alignment(problem, options)


def solve_prepared(scenario: Scenario, ready: Prepared, options: SolverOptions) -> AlignmentSolution:
    """Solve a prepared scenario and return the solution, writing nothing (``optimizer.api.solve``).

    Bases chosen among candidates (``territories.candidates``) are chosen together with the plan by a run
    (``optimizer.api.run``); here they are refused.
    """
    if scenario.territories.candidates is not None:
        raise InputError("territories.candidates", "bases chosen among candidates are chosen by a run",
                         "call optimizer.api.run, or list the bases")
    problem, _ = alignment_problem(scenario, ready)
    return solve_plan(problem, build_rule_set(scenario, ready, problem), options)

"""From a prepared scenario to the solver's problem, and the certified solve of it (with or without rules).

Used by the pipeline and by what re-solves a scenario with a limit loosened (``limits``, ``explain``)."""

from __future__ import annotations

import numpy as np

from optimizer.alignment.data import Prepared
from optimizer.alignment.model_input import distance_to, problem_over, targets_of
from optimizer.alignment.rule_set import RuleSet, build_rule_set
from optimizer.alignment.schema import Scenario
from optimizer.alignment.solve.align import AlignmentProblem, AlignmentSolution, solve_alignment
from optimizer.alignment.solve.rules import solve_with_rules
from optimizer.core.errors import InputError
from optimizer.solver.highs import SolverOptions


def alignment_problem(scenario: Scenario, ready: Prepared) -> tuple[AlignmentProblem, np.ndarray]:
    """The solver's problem for a prepared scenario (loads in average territories, band, pairs to start from)
    and the units x territories distance in km."""
    return problem_over(scenario, ready.units, ready.shared, ready.bases)


def territory_targets(scenario: Scenario, ready: Prepared) -> np.ndarray:
    """Each territory's target in average territories: ``balance.targets`` scaled so they add up to K."""
    return targets_of(scenario, ready.bases)


def distance_to_bases(scenario: Scenario, ready: Prepared) -> np.ndarray:
    """Units x territories distance in km, as the model measures it (``objective.distance``)."""
    return distance_to(scenario, ready.units, ready.bases)


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

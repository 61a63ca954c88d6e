"""The solver's problem for a scenario over given units and bases: loads in average territories, each
territory's band, the units x bases distances. ``optimizer.alignment.problem`` applies it to a prepared
scenario; the base search (``optimizer.alignment.base_search``) to each set of bases it tries."""

from __future__ import annotations

import numpy as np

from optimizer.alignment.schema import Scenario
from optimizer.alignment.solve.align import AlignmentProblem
from optimizer.areas.bases import BaseTable
from optimizer.areas.distance import distance_matrix_km
from optimizer.areas.units import UnitTable
from optimizer.core.errors import InputError


def problem_over(scenario: Scenario, units: UnitTable, shared: np.ndarray,
                 bases: BaseTable) -> tuple[AlignmentProblem, np.ndarray]:
    """The problem and the units x territories distance in km."""
    distance = distance_to(scenario, units, bases)
    k = len(bases)
    tol = scenario.balance.tolerance
    target = targets_of(scenario, bases)
    problem = AlignmentProblem(load=units.workload / (units.workload.sum() / k), distance_km=distance,
                               shared=shared, lower=(1 - tol) * target, upper=(1 + tol) * target,
                               penalty=scenario.balance.soft_penalty, start_pairs=bases.allocation)
    return problem, distance


def targets_of(scenario: Scenario, bases: BaseTable) -> np.ndarray:
    """Each territory's target in average territories: ``balance.targets`` scaled so they add up to K."""
    ids = list(bases.ids)
    unknown = sorted(set(scenario.balance.targets) - set(ids))
    if unknown:
        raise InputError(f"balance.targets.{unknown[0]}", "is not a territory", f"territories are {', '.join(ids[:6])}, ...")
    factor = np.array([scenario.balance.targets.get(tid, 1.0) for tid in ids])
    return factor * len(ids) / factor.sum()


def distance_to(scenario: Scenario, units: UnitTable, bases: BaseTable) -> np.ndarray:
    """Units x territories distance in km, as the model measures it (``objective.distance``)."""
    b = bases.frame
    return distance_matrix_km(units.lat, units.lon, units.xy, b["base_lat"].to_numpy(float),
                              b["base_lon"].to_numpy(float), b[["x_m", "y_m"]].to_numpy(float),
                              scenario.objective.distance)

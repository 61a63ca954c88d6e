"""Checks before the solve: find what makes the requested band impossible and say it in the user's terms."""

from __future__ import annotations

import numpy as np

from optimizer.core.errors import InfeasibleError
from optimizer.alignment.schema import Scenario
from optimizer.areas.units import UnitTable

MAX_LISTED = 5


def shareable_units(units: UnitTable, scenario: Scenario, territories: int) -> np.ndarray:
    """Bool per unit: may be split among territories (sharing allowed and heavy enough)."""
    sharing = scenario.units.sharing
    if not sharing.allow:
        return np.zeros(len(units), bool)
    load = units.workload / (units.workload.sum() / territories)
    return load > sharing.min_territory_share


def check_band_reachable(units: UnitTable, scenario: Scenario, territories: int, shared: np.ndarray) -> list[str]:
    """Raise :class:`InfeasibleError` for a hard band no plan can meet; return notes for a soft band."""
    load = units.workload / (units.workload.sum() / territories)
    upper = 1.0 + scenario.balance.tolerance
    too_heavy = np.flatnonzero((load > upper + 1e-9) & ~shared)
    problems = []
    if too_heavy.size:
        problems.append(_heavy_message(units, load, too_heavy, upper, scenario))
    nonzero = int((load > 0).sum()) + int(np.ceil(load[shared]).sum() - shared.sum())
    if territories > nonzero:
        problems.append(f"{territories} territories but only {nonzero} units carry workload, so some territory "
                        "would be empty (lower the territory count or allow units.sharing)")
    if problems and scenario.balance.soft_penalty is None:
        raise InfeasibleError("balance", "; ".join(problems),
                              "or set balance.soft_penalty to get the closest plan with each deviation reported")
    return problems


def _heavy_message(units: UnitTable, load: np.ndarray, heavy: np.ndarray, upper: float, scenario: Scenario) -> str:
    order = heavy[np.argsort(-load[heavy])]
    listed = ", ".join(f"{units.frame['name'].iat[i]} ({units.ids[i]}) {load[i]:.2f}x" for i in order[:MAX_LISTED])
    more = f" and {len(order) - MAX_LISTED} more" if len(order) > MAX_LISTED else ""
    sharing = scenario.units.sharing
    if sharing.allow:
        fix = (f"lower units.sharing.min_territory_share (now {sharing.min_territory_share}) below {upper:.2f} "
               "so they can be shared")
    else:
        fix = "let several reps share them with `units.sharing.allow: true`, or align at a finer level (e.g. ZIP codes)"
    return (f"{len(order)} units each carry more workload than one territory may hold (band upper end "
            f"{upper:.2f}x an average territory): {listed}{more}; {fix}")

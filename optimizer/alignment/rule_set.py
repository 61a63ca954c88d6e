"""The scenario's adoption rules in unit and territory indices: what ``optimizer.alignment.solve.rules`` solves with.

Everything the user names (unit ids, territory ids, columns) is checked here, so a wrong name is an
:class:`InputError` naming the key before any model is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.core.errors import InputError
from optimizer.areas.unit_ids import unknown_unit


@dataclass(frozen=True)
class RuleSet:
    """Rules in indices: ``allowed`` pairs (locks), groups, extra bands, contiguity, disruption."""

    allowed: np.ndarray  # (N, K) bool
    locks: dict[int, int]  # unit -> territory
    extra_bands: tuple[tuple[str, np.ndarray, np.ndarray, np.ndarray], ...]  # name, per-unit, lower, upper
    together: tuple[np.ndarray, ...]
    apart: tuple[np.ndarray, ...]
    roots: np.ndarray  # (K,) base unit per territory, -1 when the base is a point outside any unit
    neighbours: list[np.ndarray] | None  # contiguity required when set
    current: np.ndarray | None  # (N,) current territory index, -1 for none
    moved_weight: np.ndarray | None  # (N,) moved measure, in average-territory units
    max_moved: float | None
    move_penalty: float | None

    @property
    def any(self) -> bool:
        """True when the plain certified pipeline cannot solve this request alone."""
        return bool(self.locks or self.extra_bands or self.together or self.apart
                    or self.neighbours is not None or self.current is not None)


def build_rule_set(scenario, ready, problem) -> RuleSet:
    """Translate the scenario's rules; ``problem`` gives the workload normalisation and bands."""
    units, bases = ready.units, ready.bases
    unit_index = {uid: i for i, uid in enumerate(units.ids)}
    territory_index = {tid: k for k, tid in enumerate(bases.ids)}
    n, k = len(units), len(bases)
    locks = _locks(scenario.rules.locks, unit_index, territory_index)
    allowed = np.ones((n, k), bool)
    for unit, territory in locks.items():
        if not ready.shared[unit]:  # a shared unit's lock keeps a share in the territory (see align_rules)
            allowed[unit] = False
            allowed[unit, territory] = True
    together = tuple(_group(g, unit_index, f"rules.together.{i}") for i, g in enumerate(scenario.rules.together))
    apart = tuple(_group(g, unit_index, f"rules.apart.{i}") for i, g in enumerate(scenario.rules.apart))
    roots = np.array([unit_index.get(uid, -1) for uid in bases.frame["base_unit_id"]])
    neighbours = None
    if scenario.contiguity.required:
        from optimizer.areas.adjacency import queen_adjacency

        neighbours = queen_adjacency(units.frame, scenario.contiguity.links)
    current, weight, max_moved, penalty = _disruption(scenario, ready, problem)
    return RuleSet(allowed=allowed, locks=locks, extra_bands=_extra_bands(scenario, ready, problem),
                   together=together, apart=apart, roots=roots, neighbours=neighbours, current=current,
                   moved_weight=weight, max_moved=max_moved, move_penalty=penalty)


def _locks(locks, unit_index: dict, territory_index: dict) -> dict[int, int]:
    found = {}
    for i, lock in enumerate(locks):
        if lock.unit not in unit_index:
            raise unknown_unit(f"rules.locks.{i}.unit", lock.unit, unit_index, "lock a unit id of the data set")
        if lock.territory not in territory_index:
            names = ", ".join(list(territory_index)[:5])
            raise InputError(f"rules.locks.{i}.territory", f"'{lock.territory}' is not a territory",
                             f"territories are {names}, ...")
        unit = unit_index[lock.unit]
        if unit in found and found[unit] != territory_index[lock.territory]:
            raise InputError(f"rules.locks.{i}", f"unit '{lock.unit}' is locked to two territories", "keep one lock")
        found[unit] = territory_index[lock.territory]
    return found


def _group(group: list[str], unit_index: dict, key: str) -> np.ndarray:
    unknown = [u for u in group if u not in unit_index]
    if unknown:
        raise unknown_unit(key, unknown[0], unit_index, "use unit ids of the data")
    return np.array(sorted({unit_index[u] for u in group}))


def _extra_bands(scenario, ready, problem) -> tuple:
    bands = []
    frame = ready.units.frame
    for column, tolerance in scenario.balance.measures.items():
        values = frame[column].to_numpy(dtype=float)
        per_unit = values / (values.sum() / len(ready.bases))
        target = problem.upper / (1 + scenario.balance.tolerance)  # per-territory target share
        bands.append((column, per_unit, (1 - tolerance) * target, (1 + tolerance) * target))
    return tuple(bands)


def _disruption(scenario, ready, problem):
    spec = scenario.realignment
    if spec is None:
        return None, None, None, None
    from optimizer.areas.current_plan import current_owner

    current = current_owner(ready.current, ready.units, ready.bases.ids)
    if spec.measure is None:
        weight = problem.load.copy()
    else:  # loaded and checked by load_units
        values = ready.units.frame[spec.measure].to_numpy(dtype=float)
        weight = values / (values.sum() / len(ready.bases))
    max_moved = None
    if spec.max_moved_units is not None:
        weight, max_moved = np.ones(len(ready.units)), float(spec.max_moved_units)
    elif spec.max_moved_share is not None:
        max_moved = spec.max_moved_share * float(weight.sum())
    return current, weight, max_moved, spec.move_penalty

"""Independent checks of the adoption rules: connected territories, locks, groups, further bands, moves.

Like ``optimizer.alignment.checks.plan`` they read only the written tables, the unit data and the scenario's rules; the
adjacency here comes from a geopandas spatial join, not from the model's adjacency code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from optimizer.core.safe_csv import read_table

BAND_TOLERANCE = 1e-6


@dataclass(frozen=True)
class AdoptionRules:
    """The scenario's adoption rules, in ids."""

    contiguity: bool = False
    links: tuple[tuple[str, str], ...] = ()
    locks: tuple[tuple[str, str], ...] = ()
    together: tuple[tuple[str, ...], ...] = ()
    apart: tuple[tuple[str, ...], ...] = ()
    extra_bands: dict[str, float] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)
    current: dict[str, str] | None = None
    moved_measure: str | None = None  # column, or None for the workload index
    max_moved_units: int | None = None
    max_moved_share: float | None = None
    move_penalty: float | None = None


def check_rules(report, folder: Path, assignments: pd.DataFrame, units: gpd.GeoDataFrame,
                territory_ids: tuple[str, ...], rules: AdoptionRules, shared: frozenset[str]) -> None:
    """Record one check per rule the scenario sets."""
    if rules.contiguity:
        report.record("territories connected", _connected(assignments, units, rules.links))
    if rules.locks:
        report.record("locks kept", _locks(assignments, rules.locks, shared))
    if rules.together:
        report.record("groups kept together", _together(assignments, rules.together))
    if rules.apart:
        report.record("groups kept apart", _apart(assignments, rules.apart))
    for column, tolerance in rules.extra_bands.items():
        report.record(f"{column} inside its band", _extra_band(assignments, units, territory_ids, column, tolerance,
                                                               rules.targets))
    if rules.current is not None:
        moves = moved(assignments, units, rules)
        report.record("moves.csv is the difference of the plans", _moves_file(folder, moves))
        report.record("move budget held", _budget(moves, units, rules))


def territory_targets(units: pd.DataFrame, column: str, territory_ids, targets: dict[str, float]) -> pd.Series:
    """Each territory's target of ``column``: its total spread by the per-territory factors."""
    factor = pd.Series([targets.get(t, 1.0) for t in territory_ids], index=list(territory_ids))
    return float(units[column].sum()) * factor / factor.sum()


def touching_units(units: gpd.GeoDataFrame) -> list[tuple[str, str]]:
    """Pairs of unit ids whose polygons touch (Queen contact), found by the checks' own spatial join."""
    cells = units[["unit_id", "geometry"]]
    pairs = gpd.sjoin(cells, cells, predicate="intersects")
    return list(zip(pairs["unit_id_left"], pairs["unit_id_right"]))


def _connected(assignments, units, links) -> list[str]:
    graph = nx.Graph()
    graph.add_edges_from(touching_units(units))
    graph.add_edges_from(links)
    problems = []
    for territory, group in assignments.groupby("territory_id"):
        pieces = nx.number_connected_components(graph.subgraph(group["unit_id"]))
        if pieces > 1:
            problems.append(f"{territory} is in {pieces} pieces")
    return problems


def _locks(assignments, locks, shared: frozenset[str]) -> list[str]:
    problems = []
    for unit, territory in locks:
        held = assignments.loc[assignments["unit_id"] == unit, "territory_id"].tolist()
        # a whole unit must sit in its territory alone; a shared one must keep a share there
        if territory not in held or (len(held) > 1 and unit not in shared):
            problems.append(f"unit {unit} is locked to {territory} but is in {', '.join(held) or 'no territory'}")
    return problems


def _territories_of(assignments, unit) -> set[str]:
    return set(assignments.loc[assignments["unit_id"] == unit, "territory_id"])


def _together(assignments, groups) -> list[str]:
    return [f"group {', '.join(g)} is split over several territories" for g in groups
            if len({frozenset(_territories_of(assignments, u)) for u in g}) > 1]


def _apart(assignments, groups) -> list[str]:
    problems = []
    for group in groups:
        seen = [t for u in group for t in _territories_of(assignments, u)]
        if len(seen) != len(set(seen)):
            problems.append(f"group {', '.join(group)} has two units in one territory")
    return problems


def _extra_band(assignments, units, territory_ids, column, tolerance, targets) -> list[str]:
    values = units.set_index("unit_id")[column].reindex(assignments["unit_id"]).to_numpy()
    totals = pd.Series(values * assignments["share"].to_numpy()).groupby(assignments["territory_id"].to_numpy()).sum()
    target = territory_targets(units, column, territory_ids, targets)
    ratio = totals.reindex(target.index, fill_value=0.0) / target
    return [f"{t} holds {r:.4f}x its {column} target (band ±{tolerance:.0%})"
            for t, r in ratio.items() if abs(r - 1) > tolerance + BAND_TOLERANCE]


def moved(assignments: pd.DataFrame, units: pd.DataFrame, rules: AdoptionRules) -> pd.DataFrame:
    """Every unit whose territory changed: ``unit_id, from_territory, to_territory, moved_share, moved``."""
    column = rules.moved_measure or "workload"
    measure = units.set_index("unit_id")[column]
    rows = []
    for unit, group in assignments.groupby("unit_id", sort=True):
        before = rules.current.get(unit, "")
        kept = float(group.loc[group["territory_id"] == before, "share"].sum())
        if kept < 1 - 1e-6:
            after = ";".join(group.loc[group["territory_id"] != before, "territory_id"])
            rows.append((unit, before, after, 1 - kept, (1 - kept) * float(measure[unit])))
    return pd.DataFrame(rows, columns=["unit_id", "from_territory", "to_territory", "moved_share", "moved"])


def _moves_file(folder: Path, expected: pd.DataFrame) -> list[str]:
    written = read_table(folder / "moves.csv", dtype={"unit_id": str, "from_territory": str, "to_territory": str},
                          keep_default_na=False)
    if sorted(written["unit_id"]) != sorted(expected["unit_id"]):
        return [f"moves.csv lists {len(written)} units, the plans differ in {len(expected)}"]
    merged = written.merge(expected, on="unit_id", suffixes=("", "_expected"))
    wrong = merged[(merged["to_territory"] != merged["to_territory_expected"])
                   | (merged["from_territory"] != merged["from_territory_expected"])
                   | ~np.isclose(merged["moved_share"], merged["moved_share_expected"], rtol=1e-6, atol=1e-6)
                   | ~np.isclose(merged["moved"], merged["moved_expected"], rtol=1e-6, atol=1e-6)]
    return [f"moves.csv is wrong for unit {u}" for u in wrong["unit_id"].head(5)]


def _budget(moves: pd.DataFrame, units: pd.DataFrame, rules: AdoptionRules) -> list[str]:
    if rules.max_moved_units is not None and moves["moved_share"].sum() > rules.max_moved_units + 1e-6:
        return [f"{moves['moved_share'].sum():.2f} units moved, budget {rules.max_moved_units}"]
    if rules.max_moved_share is not None:
        total = float(units[rules.moved_measure or "workload"].sum())
        share = moves["moved"].sum() / total
        if share > rules.max_moved_share + 1e-6:
            return [f"{share:.2%} moved, budget {rules.max_moved_share:.2%}"]
    return []

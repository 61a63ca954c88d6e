"""Independent checks of the regions: every territory in exactly one region, regions connected and balanced.

Like ``optimizer.alignment.checks.rules`` they read only the written tables (``assignments.csv``, ``territories.csv``,
``regions.csv``) and the unit polygons; the territory adjacency comes from a geopandas spatial join, not
from ``optimizer.areas.adjacency`` or ``optimizer.alignment.regions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd

from optimizer.alignment.checks.rules import touching_units
from optimizer.core.safe_csv import read_table

BAND_TOLERANCE = 1e-6


@dataclass(frozen=True)
class RegionRules:
    """What the regions must satisfy, from the scenario."""

    count: int
    tolerance: float
    links: tuple[tuple[str, str], ...] = ()


def check_regions(report, folder: Path, units: gpd.GeoDataFrame, rules: RegionRules) -> None:
    """Record the three region checks on ``report`` (a :class:`optimizer.alignment.checks.plan.CheckReport`)."""
    territories = read_table(folder / "territories.csv", dtype={"territory_id": str, "region_id": str},
                              keep_default_na=False)
    regions = read_table(folder / "regions.csv", dtype=str, keep_default_na=False)
    report.record("every territory in exactly one region", _partition(territories, regions, rules))
    assignments = read_table(folder / "assignments.csv", dtype={"unit_id": str, "territory_id": str})
    report.record("regions connected", _connected(territories, assignments, units, rules.links))
    report.record("regions inside their band", _balanced(territories, regions, rules))


def _partition(territories: pd.DataFrame, regions: pd.DataFrame, rules: RegionRules) -> list[str]:
    problems = [f"territory {t} has no region" for t in territories.loc[territories["region_id"] == "", "territory_id"]]
    listed = [t for text in regions["territories"] for t in text.split(";") if t]
    twice = sorted({t for t in listed if listed.count(t) > 1})
    problems += [f"territory {t} is listed in several regions of regions.csv" for t in twice]
    missing = sorted(set(territories["territory_id"]) - set(listed))
    problems += [f"territory {t} is in no region of regions.csv" for t in missing]
    unknown = sorted(set(listed) - set(territories["territory_id"]))
    problems += [f"regions.csv lists {t}, which is not a territory" for t in unknown]
    member = {t: r for r, text in zip(regions["region_id"], regions["territories"]) for t in text.split(";") if t}
    problems += [f"territory {t} is in {r} in territories.csv but {member.get(t)} in regions.csv"
                 for t, r in zip(territories["territory_id"], territories["region_id"]) if member.get(t, r) != r]
    if len(regions) != rules.count or territories["region_id"].nunique() != rules.count:
        problems.append(f"{len(regions)} regions in regions.csv, {territories['region_id'].nunique()} in "
                        f"territories.csv; regions.count is {rules.count}")
    return problems


def _connected(territories, assignments, units, links) -> list[str]:
    owners = assignments.groupby("unit_id")["territory_id"].agg(list)
    graph = nx.Graph()
    graph.add_nodes_from(territories["territory_id"])
    for a, b in [*touching_units(units), *links]:
        graph.add_edges_from((s, t) for s in owners.get(a, []) for t in owners.get(b, []) if s != t)
    problems = []
    for region, group in territories.groupby("region_id"):
        pieces = nx.number_connected_components(graph.subgraph(group["territory_id"]))
        if pieces > 1:
            problems.append(f"region {region} is in {pieces} pieces")
    return problems


def _balanced(territories: pd.DataFrame, regions: pd.DataFrame, rules: RegionRules) -> list[str]:
    totals = territories.groupby("region_id")["workload"].sum()
    mean = float(territories["workload"].sum()) / rules.count
    problems = [f"{r} carries {w / mean:.4f}x the mean region (band ±{rules.tolerance:.0%})"
                for r, w in totals.items() if abs(w / mean - 1) > rules.tolerance + BAND_TOLERANCE]
    written = regions.set_index("region_id")["workload"].astype(float)
    for region, total in totals.items():
        listed = float(written.get(region, float("nan")))
        if not abs(listed - total) <= 1e-6 * max(1.0, total):
            problems.append(f"workload of {region} is {listed:.6g} in regions.csv but {total:.6g} from the territories")
    return problems

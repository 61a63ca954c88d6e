"""Reading point tables (CSV with lat/lon, or any geopandas format) and checking their columns.

Every problem is an :class:`InputError` naming the file, the row (counting the header as row 1, as a
spreadsheet does) or column, what is wrong and how to fix it. Nothing is filled in.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import CRS

from optimizer.core.errors import InputError
from optimizer.core.input_files import require_file

GEODATA_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".parquet", ".fgb", ".gml", ".kml")


def read_points(path: Path, layer: str | None, crs: str, what: str) -> pd.DataFrame:
    """Rows of ``path`` with float ``lat``/``lon`` columns in EPSG:4326 (text columns stay text)."""
    require_file(path, str(path), f"{what} file not found", "check the path in the scenario",
                 (".csv", *GEODATA_SUFFIXES))
    declared = _crs(crs, path)
    if path.suffix.lower() in GEODATA_SUFFIXES:
        frame = _read_geodata(path, layer, declared)
    else:
        frame = _read_csv(path, declared)
    if frame.empty:
        raise InputError(str(path), f"has no {what} rows", "point the scenario at a file with rows")
    return frame.reset_index(drop=True)


def _crs(text: str, path: Path) -> CRS:
    try:
        return CRS.from_user_input(text)
    except Exception:  # noqa: BLE001 - pyproj raises CRSError and others for unknown text
        raise InputError(str(path), f"unknown CRS `{text}`", "use an EPSG code such as EPSG:4326") from None


def _read_csv(path: Path, declared: CRS) -> pd.DataFrame:
    if not declared.is_geographic:
        raise InputError(str(path), f"a CSV holds lat/lon, but the scenario declares the projected CRS {declared.to_string()}",
                         "declare a geographic CRS (EPSG:4326) or give a geodata file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # noqa: BLE001 - pandas raises ParserError, UnicodeDecodeError, ...
        raise InputError(str(path), f"cannot be read as CSV ({str(exc).splitlines()[0][:150]})",
                         "save it as comma-separated UTF-8 with a header row") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    require_columns(frame, ["lat", "lon"], path)
    frame["lat"] = number_column(frame, "lat", path, low=-90, high=90)
    frame["lon"] = number_column(frame, "lon", path, low=-180, high=180)
    if not declared.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        from pyproj import Transformer

        lon, lat = Transformer.from_crs(declared, 4326, always_xy=True).transform(frame["lon"], frame["lat"])
        frame["lon"], frame["lat"] = lon, lat
    return frame


def _read_geodata(path: Path, layer: str | None, declared: CRS) -> pd.DataFrame:
    import geopandas as gpd

    try:
        frame = gpd.read_parquet(path) if path.suffix.lower() == ".parquet" else gpd.read_file(path, layer=layer)
    except Exception as exc:  # noqa: BLE001 - pyogrio/arrow raise many types: "cannot read this file"
        raise InputError(str(path), f"cannot be read ({str(exc).splitlines()[0][:150]})",
                         "check the layer name, or use GeoPackage, GeoJSON, Shapefile or GeoParquet") from None
    if frame.crs is None:
        raise InputError(str(path), "has no coordinate reference system", "set one, e.g. gdf.set_crs('EPSG:4326')")
    if not CRS.from_user_input(frame.crs).equals(declared, ignore_axis_order=True):
        raise InputError(str(path), f"is in {frame.crs.to_string()} but the scenario declares {declared.to_string()}",
                         "reproject the file, or set units.crs to the file's CRS")
    kinds = set(frame.geometry.geom_type.dropna())
    if kinds - {"Point"} or frame.geometry.isna().any():
        raise InputError(str(path), f"needs one point per row; found {sorted(kinds) or 'no geometry'}",
                         "use points (e.g. account locations), one per row")
    points = frame.geometry.to_crs(4326)
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name)).astype(object)
    table = table.where(table.notna(), "").astype(str)
    return table.assign(lat=points.y.to_numpy(), lon=points.x.to_numpy())


def require_columns(frame: pd.DataFrame, names: list[str], path: Path) -> None:
    """Refuse a table without ``names``, suggesting the nearest column name."""
    for name in names:
        if name not in frame.columns:
            near = difflib.get_close_matches(name, [str(c) for c in frame.columns], n=1)
            hint = f"did you mean `{near[0]}`?" if near else f"columns are: {', '.join(map(str, frame.columns[:20]))}"
            raise InputError(str(path), f"missing column `{name}`", hint)


def row_label(frame: pd.DataFrame, position: int, id_column: str | None = None) -> str:
    """``row 7 (id A00005)``: the spreadsheet row of ``position`` (header is row 1)."""
    label = f"row {position + 2}"
    if id_column and id_column in frame.columns and str(frame[id_column].iloc[position]).strip():
        label += f" ({id_column} {frame[id_column].iloc[position]})"
    return label


def text_ids(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """Stripped text ids; refuse empty and duplicate ones."""
    require_columns(frame, [column], path)
    ids = frame[column].astype(str).str.strip()
    empty = np.flatnonzero((ids == "").to_numpy())
    if empty.size:
        raise InputError(f"{path} {row_label(frame, int(empty[0]))}", f"empty `{column}`",
                         f"give every row an id ({empty.size} rows lack one)")
    repeated = ids.duplicated(keep="first").to_numpy()
    if repeated.any():
        first = int(np.flatnonzero(repeated)[0])
        raise InputError(f"{path} {row_label(frame, first)}", f"duplicate `{column}` {ids.iloc[first]}",
                         f"ids must be unique ({int(repeated.sum())} repeated); merge or rename those rows")
    return ids


def number_column(frame: pd.DataFrame, column: str, path: Path, *, id_column: str | None = None,
                  low: float = -np.inf, high: float = np.inf, positive: bool = False) -> np.ndarray:
    """``column`` as floats; refuse blanks, text, and values outside ``[low, high]`` (or ``<= 0``)."""
    require_columns(frame, [column], path)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    checks = [(~np.isfinite(values), "is not a number", "fill in a number; nothing is filled in for you"),
              (values < low, "is negative" if low == 0 else f"is below {low:g}",
               f"`{column}` cannot be negative" if low == 0 else f"`{column}` must be at least {low:g}"),
              (values > high, f"is above {high:g}", f"`{column}` must be at most {high:g}")]
    if positive:
        checks.append((values <= 0, "is not positive", f"`{column}` must be greater than 0"))
    for bad, what, fix in checks:
        rows = np.flatnonzero(bad & np.isfinite(values) if what != "is not a number" else bad)
        if rows.size:
            first = int(rows[0])
            shown = frame[column].iloc[first]
            more = f"; {rows.size} rows in all" if rows.size > 1 else ""
            raise InputError(f"{path} {row_label(frame, first, id_column)}", f"`{column}` = `{shown}` {what}{more}", fix)
    return values

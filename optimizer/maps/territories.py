"""Self-contained, offline HTML maps of a territory plan.

The renderer reads tidy tables only (units, assignments, territories) and writes one HTML page
that renders with no network: Leaflet 1.9.3 (the version folium 0.20 targets) is inlined from
``optimizer/assets``, folium's CDN assets are dropped and no tile layer is used (see :mod:`optimizer.maps.page`).

Every user-given string goes through :func:`escape_text` before it reaches the page, because
folium escapes nothing and puts some text inside JavaScript template strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from optimizer.maps.page import (antimeridian_cut, assign_territory_colours, escape_text,
                                 feature_collection, finished_page, format_number, offline_map, raw_element,
                                 rounded_geojson, shift_west, territory_adjacency)

if TYPE_CHECKING:
    import folium
    import geopandas

SHARE_SUM_TOLERANCE = 1e-3
DISSOLVE_ABOVE_UNITS = 5_000  # above this, territories are drawn dissolved from their units (ZIP level)
DISSOLVED_SIMPLIFY_DEG = 0.005  # about 500 m; coverage simplification keeps neighbours' shared edges
UNIT_COLUMNS = ("unit_id", "name", "workload")
TERRITORY_COLUMNS = ("territory_id", "base_name", "base_lat", "base_lon", "units", "workload")
TERRITORY_COLUMNS += ("deviation_pct", "weighted_distance_km")
UNIT_FIELDS = {"n": "Unit", "u": "Id", "t": "Territory", "w": "Workload", "x": "Note"}
MARK_STYLES = {  # outlines of units with a note (see ``marks`` of write_territory_map)
    "moved": {"fill": False, "color": "#d6007e", "weight": 3},
    "locked": {"fill": False, "color": "#000000", "weight": 3, "dashArray": "2 5"},
}
BASE_FIELDS = {"t": "Territory", "b": "Base", "n": "Units", "w": "Workload", "d": "Deviation"}
BASE_FIELDS |= {"k": "Weighted distance"}


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _check_subset(found: Iterable[Any], allowed: Iterable[Any], what: str, fix: str) -> None:
    extra = sorted(set(found) - set(allowed))
    _check(not extra, f"{len(extra)} {what}, e.g. {extra[:5]}; {fix}")


def _validate(units: geopandas.GeoDataFrame, assignments: pd.DataFrame, territories: pd.DataFrame) -> None:
    """Raise ValueError unless the three tables are complete and their keys match."""
    _check(units.crs is not None, "units has no CRS; set one, e.g. units.set_crs('EPSG:4326').")
    needed = {"units": UNIT_COLUMNS, "assignments": ("unit_id", "territory_id", "share")}
    for name, table in {"units": units, "assignments": assignments, "territories": territories}.items():
        missing = [c for c in needed.get(name, TERRITORY_COLUMNS) if c not in table.columns]
        _check(not missing, f"{name} lacks column(s) {missing}; it has {list(table.columns)}.")
    for table, key in ((units, "unit_id"), (territories, "territory_id")):
        dupes = table.loc[table[key].duplicated(), key].tolist()
        _check(not dupes, f"{key} must be unique, found duplicates {dupes[:5]}.")
    empty = units.loc[units.geometry.isna() | units.geometry.is_empty, "unit_id"].tolist()
    _check(not empty, f"units {empty[:5]} have no geometry; drop them or add polygons.")
    _check(territories[["base_lat", "base_lon"]].notna().all().all(), "every base needs base_lat/base_lon.")
    _check_subset(assignments.unit_id, units.unit_id, "assigned units are not in units", "drop them.")
    _check_subset(units.unit_id, assignments.unit_id, "units have no assignment", "assign or drop them.")
    missing_territories = "territories are assigned but missing from territories"
    _check_subset(assignments.territory_id, territories.territory_id, missing_territories, "add them.")
    share = assignments["share"].astype(float)
    off = share.groupby(assignments["unit_id"]).sum().sub(1).abs().gt(SHARE_SUM_TOLERANCE)
    bad = assignments.loc[(share <= 0) | (share > 1), "unit_id"].tolist() + off[off].index.tolist()
    _check(not bad, f"shares must lie in (0, 1] and sum to 1 per unit; check units {bad[:5]}.")


def _shared_labels(assignments: pd.DataFrame) -> pd.Series:
    """Map each shared unit's id to a label like ``shared: T03 40 %, T07 60 %``."""
    split = assignments[assignments.unit_id.duplicated(keep=False)]
    split = split.sort_values(["unit_id", "territory_id"])
    percent = (split.share.astype(float) * 100).round().astype(int).astype(str)
    parts = split.territory_id.astype(str) + " " + percent + " %"
    return "shared: " + parts.groupby(split.unit_id).agg(", ".join)


def _unit_table(units: geopandas.GeoDataFrame, assignments: pd.DataFrame,
                marks: dict[str, tuple[str, str]] | None = None) -> geopandas.GeoDataFrame:
    """Units in EPSG:4326 with their primary (largest share) territory, shared label and mark."""
    order = assignments.sort_values(["unit_id", "share", "territory_id"], ascending=[True, False, True])
    primary = order.drop_duplicates("unit_id").set_index("unit_id")["territory_id"].astype(str)
    table = units[[*UNIT_COLUMNS, units.geometry.name]].to_crs("EPSG:4326")
    table = table.rename_geometry("geometry") if table.geometry.name != "geometry" else table
    table["territory"] = table.unit_id.map(primary)
    table["shared"] = table.unit_id.map(_shared_labels(assignments))
    marks = marks or {}
    table["mark"] = table.unit_id.map({u: kind for u, (kind, _) in marks.items()})
    table["note"] = table.unit_id.map({u: note for u, (_, note) in marks.items()})
    return table.reset_index(drop=True)


def _unit_features(table: geopandas.GeoDataFrame) -> dict:
    """Build unit polygons whose properties are the escaped tooltip fields (``UNIT_FIELDS``)."""
    properties = [
        {
            "n": escape_text(r.name),
            "u": escape_text(r.unit_id),
            "t": escape_text(r.shared if isinstance(r.shared, str) else r.territory),
            "w": format_number(r.workload, 1),
            "x": escape_text(r.note if isinstance(r.note, str) else ""),
        }
        for r in table.itertuples(index=False)
    ]
    return feature_collection(rounded_geojson(table.geometry.values), properties)


def _unit_styles(table: geopandas.GeoDataFrame, colours: dict[str, str]) -> list[dict]:
    """Style units by feature id: territory fill; shared units dashed, dark and lighter."""
    shared = {"fillOpacity": 0.45, "color": "#111111", "weight": 2, "dashArray": "5 4"}
    single = {"fillOpacity": 0.7, "color": "#ffffff", "weight": 0.5}
    pairs = zip(table.territory, table.shared, strict=True)
    return [{"fillColor": colours[t], **(shared if isinstance(s, str) else single)} for t, s in pairs]


def _unions(table: geopandas.GeoDataFrame, by: str) -> tuple[list, np.ndarray]:
    """The values of the ``by`` column (sorted) and, for each, its units made valid and dissolved."""
    valid = shapely.make_valid(table.geometry.values, method="structure", keep_collapsed=False)
    groups = table.groupby(by).indices
    ids = sorted(groups)
    return ids, np.array([shapely.union_all(valid[groups[t]]) for t in ids])


def _outline_features(table: geopandas.GeoDataFrame, by: str = "territory") -> dict:
    """Build territory (or region) borders: units dissolved by the ``by`` column."""
    _, unions = _unions(table, by)
    return feature_collection(rounded_geojson(unions), [{} for _ in unions])


def _base_features(territories: pd.DataFrame) -> tuple[dict, dict[str, str]]:
    """Build base points with escaped tooltip fields; extra numeric columns become ``x0, x1``."""
    extra = [c for c in territories.select_dtypes("number") if c not in (*TERRITORY_COLUMNS, "base_unit_id")]
    aliases = BASE_FIELDS | {f"x{i}": escape_text(c) for i, c in enumerate(extra)}
    properties = [
        {
            "t": escape_text(r["territory_id"]),
            "b": escape_text(r["base_name"]),
            "n": format_number(r["units"]),
            "w": format_number(r["workload"], 1),
            "d": f"{float(r['deviation_pct']):+.1f} %",
            "k": f"{float(r['weighted_distance_km']):,.1f} km",
        }
        | {f"x{i}": format_number(r[c]) if pd.notna(r[c]) else "" for i, c in enumerate(extra)}
        for _, r in territories.iterrows()
    ]
    lon_lat = territories[["base_lon", "base_lat"]].astype(float).round(5).to_numpy().tolist()
    return feature_collection([{"type": "Point", "coordinates": p} for p in lon_lat], properties), aliases


def _legend_html(title: str, territories: pd.DataFrame, colours: dict[str, str]) -> str:
    """Return a scrollable legend box: the title, then a row per territory."""
    swatch = '<span style="display:inline-block;width:12px;height:12px;background:{}"></span>'
    rows = "".join(
        f"<tr><td>{swatch.format(colours[t.territory_id])}</td><td>{escape_text(t.territory_id)}</td>"
        f"<td align=right>{format_number(t.workload, 1)}</td>"
        f"<td align=right>{float(t.deviation_pct):+.1f} %</td></tr>"
        for t in territories.itertuples(index=False)
    )
    return (
        '<div id="territory-legend" style="position:fixed;bottom:24px;right:10px;z-index:1000;'
        "max-height:60vh;max-width:340px;overflow-y:auto;background:rgba(255,255,255,.92);padding:8px;"
        'font:12px sans-serif;border:1px solid #888;border-radius:4px">'
        f'<div style="font-weight:bold;font-size:14px">{escape_text(title)}</div>'
        f"<div>{len(territories)} territories</div><table><tr><th></th><th>territory</th>"
        f"<th>workload</th><th>deviation</th></tr>{rows}</table></div>"
    )


def _dissolved_territories(table: geopandas.GeoDataFrame) -> geopandas.GeoDataFrame:
    """Each territory's units dissolved into one shape, the shapes simplified as a coverage (no slivers)."""
    import geopandas

    ids, unions = _unions(table, "territory")
    shapes = shapely.coverage_simplify(unions, DISSOLVED_SIMPLIFY_DEG)
    return geopandas.GeoDataFrame({"territory": ids}, geometry=shapes, crs=table.crs)


def _add_dissolved_layer(m: folium.Map, dissolved: geopandas.GeoDataFrame, territories: pd.DataFrame,
                         colours: dict[str, str]) -> None:
    """One filled polygon per territory (its tooltip the territory's figures) instead of every unit."""
    import folium

    ids, shapes = list(dissolved.territory), dissolved.geometry.values
    features, aliases = _base_features(territories.set_index("territory_id").loc[ids].reset_index())
    for feature, geometry in zip(features["features"], rounded_geojson(shapes), strict=True):
        feature["geometry"] = geometry
    styles = [{"fillColor": colours[t], "fillOpacity": 0.7, "color": "#222222", "weight": 1.5} for t in ids]
    layer = folium.GeoJson(features, name="Territories", style_function=lambda f: styles[f["id"]])
    layer.add_child(folium.GeoJsonTooltip(fields=list(aliases), aliases=list(aliases.values()))).add_to(m)


def _add_layers(
    m: folium.Map, table: geopandas.GeoDataFrame, territories: pd.DataFrame, colours: dict[str, str],
    dissolved: geopandas.GeoDataFrame | None = None,
) -> None:
    """Add unit polygons, territory borders and base markers as three toggleable layers (with
    ``dissolved`` territories: one polygon per territory instead of units and borders)."""
    import folium

    if dissolved is not None:
        _add_dissolved_layer(m, dissolved, territories, colours)
    else:
        styles = _unit_styles(table, colours)
        tip = folium.GeoJsonTooltip(fields=list(UNIT_FIELDS), aliases=list(UNIT_FIELDS.values()))
        units = folium.GeoJson(_unit_features(table), name="Units", style_function=lambda f: styles[f["id"]])
        units.add_child(tip).add_to(m)
        border = {"fill": False, "color": "#222222", "weight": 2.5}
        folium.GeoJson(
            _outline_features(table), name="Territory borders", style_function=lambda _: border, interactive=False
        ).add_to(m)
    if "region_id" in territories.columns:  # regions: a thicker dark outline of each dissolved region
        region = table.assign(region=table.territory.map(territories.set_index("territory_id").region_id))
        folium.GeoJson(_outline_features(region, "region"), name="Region borders", interactive=False,
                       style_function=lambda _: {"fill": False, "color": "#000000", "weight": 5}).add_to(m)
    for kind, style in MARK_STYLES.items():  # moved and locked units, outlined on their own layer
        marked = table[table["mark"] == kind]
        if len(marked):
            folium.GeoJson(feature_collection(rounded_geojson(marked.geometry.values), [{}] * len(marked)),
                           name=f"{kind.capitalize()} units", interactive=False,
                           style_function=lambda _, style=style: style).add_to(m)
    bases, aliases = _base_features(territories)
    fill = {"fill": True, "fillOpacity": 1, "color": "#000000", "weight": 2}
    fills = [fill | {"fillColor": colours[t]} for t in territories.territory_id]
    marker = folium.CircleMarker(radius=5)
    layer = folium.GeoJson(bases, name="Bases", marker=marker, style_function=lambda f: fills[f["id"]])
    layer.add_child(folium.GeoJsonTooltip(fields=list(aliases), aliases=list(aliases.values()))).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)


def render_territory_map(
    units: geopandas.GeoDataFrame, assignments: pd.DataFrame, territories: pd.DataFrame, title: str,
    marks: dict[str, tuple[str, str]] | None = None, dissolve_above: int = DISSOLVE_ABOVE_UNITS,
) -> str:
    """Build the map and return the complete HTML page (see :func:`write_territory_map`); with more than
    ``dissolve_above`` units, territories are drawn dissolved rather than unit by unit."""
    _validate(units, assignments, territories)
    table = _unit_table(units, assignments, marks)
    cut = antimeridian_cut(table.geometry.values)
    table = table.set_geometry(shift_west(table.geometry.values, cut))
    lon = territories.base_lon.astype(float)
    territories = territories.assign(territory_id=territories.territory_id.astype(str))
    territories = territories.assign(base_lon=lon.where(lon <= cut, lon - 360)).sort_values("territory_id")
    dissolved = _dissolved_territories(table) if len(table) > dissolve_above else None
    colours = assign_territory_colours(territories.territory_id,
                                       territory_adjacency(table if dissolved is None else dissolved))
    minx, miny, maxx, maxy = (round(float(v), 5) for v in table.total_bounds)
    m = offline_map(title, [[miny, minx], [maxy, maxx]])
    _add_layers(m, table, territories.reset_index(drop=True), colours, dissolved)
    m.get_root().html.add_child(raw_element(_legend_html(title, territories, colours)))
    return finished_page(m)


def write_territory_map(
    path: Path,
    units: geopandas.GeoDataFrame,
    assignments: pd.DataFrame,
    territories: pd.DataFrame,
    title: str,
    marks: dict[str, tuple[str, str]] | None = None,
) -> None:
    """Write a self-contained, offline HTML map of a territory plan.

    Parameters
    ----------
    path : Path
        Output HTML file, written only after the whole page has rendered.
    units : geopandas.GeoDataFrame
        Unit polygons in any CRS (not None) with ``unit_id``, ``name``, ``workload``.
    assignments : pandas.DataFrame
        ``unit_id, territory_id, share``; several rows for a unit make it a shared unit.
    territories : pandas.DataFrame
        One row per territory with ``territory_id, base_name, base_lat, base_lon, units,
        workload, deviation_pct, weighted_distance_km``; other numeric columns are shown in
        the base tooltips.
    title : str
        Scenario name (untrusted; escaped).
    marks : dict, optional
        ``unit_id -> (kind, note)`` with kind ``moved`` or ``locked``: outlined on a layer of their own,
        the note (e.g. ``moved from T03``) shown in the unit's tooltip (escaped).

    Raises
    ------
    ValueError
        If the CRS or a column is missing, or the tables' keys or shares do not match.
    """
    page = render_territory_map(units, assignments, territories, title, marks)
    path = Path(path)
    try:
        path.write_text(page, encoding="utf-8")
    except BaseException:
        path.unlink(missing_ok=True)
        raise

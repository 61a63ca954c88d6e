"""Offline HTML map of an account plan: accounts as points coloured by rep, and the reps' bases.

Built from the tidy tables only, with the foundation's offline page (``optimizer.maps.page``: inlined Leaflet,
no tiles, no CDN) and its ``escape_text`` on every user-given string. Uncovered accounts are white with a
red ring; accounts that changed rep have a black ring. Reps based in the same city are drawn on a small
ring around it so every base can be seen (their tooltips give the true city).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.maps.page import (
    assign_territory_colours,
    escape_text,
    feature_collection,
    finished_page,
    format_number,
    offline_map,
    raw_element,
)

ACCOUNT_FIELDS = {"n": "Account", "a": "Id", "r": "Rep", "s": "Segment", "v": "Value", "h": "Hours", "m": "Moved"}
REP_FIELDS = {"r": "Rep", "n": "Name", "c": "Base", "k": "Accounts", "h": "Hours", "u": "Utilisation"}
UNCOVERED = {"fill": True, "fillColor": "#ffffff", "color": "#d62728", "weight": 2, "fillOpacity": 1}
NEIGHBOURS = 3
RING_DEG = 0.06


def rep_colours(territories: pd.DataFrame) -> dict[str, str]:
    """Colours such that reps with nearby bases (each one's nearest three) differ."""
    ids = territories["rep_id"].to_numpy()
    lat, lon = territories["base_lat"].to_numpy(float), territories["base_lon"].to_numpy(float)
    gap = np.hypot(lat[:, None] - lat[None, :], (lon[:, None] - lon[None, :]) * np.cos(np.radians(lat.mean())))
    order = np.argsort(gap, axis=1, kind="stable")[:, 1: NEIGHBOURS + 1]
    return assign_territory_colours(ids, [(ids[i], ids[j]) for i in range(len(ids)) for j in order[i]])


def _display_bases(territories: pd.DataFrame) -> np.ndarray:
    """Base positions (lon, lat), co-located bases spread on a small ring."""
    points = territories[["base_lon", "base_lat"]].to_numpy(float).copy()
    keys = pd.Series([f"{x:.4f},{y:.4f}" for x, y in points])
    for group in keys.groupby(keys).groups.values():
        if len(group) > 1:
            angle = 2 * np.pi * np.arange(len(group)) / len(group)
            points[list(group), 0] += RING_DEG * np.cos(angle)
            points[list(group), 1] += RING_DEG * np.sin(angle)
    return points


def _account_layer(assignments: pd.DataFrame, colours: dict[str, str]) -> tuple[dict, list[dict]]:
    radius = np.clip(np.sqrt(assignments["value"].to_numpy(float) / 5000.0), 2.0, 8.0)
    geometries, properties, styles = [], [], []
    for row, size in zip(assignments.itertuples(index=False), radius):
        geometries.append({"type": "Point", "coordinates": [round(float(row.lon), 5), round(float(row.lat), 5)]})
        properties.append({"n": escape_text(row.name), "a": escape_text(row.account_id),
                           "r": escape_text(row.rep_id or "uncovered"), "s": escape_text(row.segment),
                           "v": format_number(row.value), "h": format_number(row.hours, 1),
                           "m": escape_text(f"from {row.current_rep}") if row.moved else "no"})
        if not row.rep_id:
            styles.append(UNCOVERED | {"radius": float(size)})
            continue
        ring = {"color": "#000000", "weight": 1} if row.moved else {"color": colours[row.rep_id], "weight": 0.5}
        styles.append({"fill": True, "fillColor": colours[row.rep_id], "fillOpacity": 0.75, "radius": float(size)} | ring)
    return feature_collection(geometries, properties), styles


def _rep_layer(territories: pd.DataFrame) -> dict:
    points = _display_bases(territories)
    properties = [{"r": escape_text(t.rep_id), "n": escape_text(t.name), "c": escape_text(t.base_city),
                   "k": format_number(t.accounts), "h": f"{format_number(t.hours_used, 0)} of {format_number(t.capacity_hours, 0)}",
                   "u": f"{100 * float(t.utilization):.1f} %"} for t in territories.itertuples(index=False)]
    geometries = [{"type": "Point", "coordinates": [round(float(x), 5), round(float(y), 5)]} for x, y in points]
    return feature_collection(geometries, properties)


def _legend(title: str, territories: pd.DataFrame, colours: dict[str, str], uncovered: int) -> str:
    swatch = '<span style="display:inline-block;width:12px;height:12px;background:{}"></span>'
    rows = "".join(
        f"<tr><td>{swatch.format(colours[t.rep_id])}</td><td>{escape_text(t.rep_id)}</td>"
        f"<td>{escape_text(t.base_city)}</td><td align=right>{format_number(t.accounts)}</td>"
        f"<td align=right>{100 * float(t.utilization):.0f} %</td></tr>" for t in territories.itertuples(index=False))
    return ('<div id="territory-legend" style="position:fixed;bottom:24px;right:10px;z-index:1000;'
            "max-height:60vh;max-width:360px;overflow-y:auto;background:rgba(255,255,255,.92);padding:8px;"
            'font:12px sans-serif;border:1px solid #888;border-radius:4px">'
            f'<div style="font-weight:bold;font-size:14px">{escape_text(title)}</div>'
            f"<div>{len(territories)} reps; {uncovered} uncovered accounts (white, red ring); "
            "black ring: changed rep</div><table><tr><th></th><th>rep</th><th>base</th><th>accounts</th>"
            f"<th>used</th></tr>{rows}</table></div>")


def render_account_map(assignments: pd.DataFrame, territories: pd.DataFrame, title: str) -> str:
    """The complete, offline HTML page."""
    import folium

    territories = territories.sort_values("rep_id").reset_index(drop=True)
    colours = rep_colours(territories)
    lat = pd.concat([assignments["lat"], territories["base_lat"]]).astype(float)
    lon = pd.concat([assignments["lon"], territories["base_lon"]]).astype(float)
    m = offline_map(title, [[round(lat.min(), 5), round(lon.min(), 5)], [round(lat.max(), 5), round(lon.max(), 5)]])
    accounts, styles = _account_layer(assignments, colours)
    layer = folium.GeoJson(accounts, name="Accounts", marker=folium.CircleMarker(radius=4),
                           style_function=lambda f: styles[f["id"]])
    layer.add_child(folium.GeoJsonTooltip(fields=list(ACCOUNT_FIELDS), aliases=list(ACCOUNT_FIELDS.values())))
    layer.add_to(m)
    fills = [{"fill": True, "fillColor": colours[r], "fillOpacity": 1, "color": "#000000", "weight": 3, "radius": 9}
             for r in territories["rep_id"]]
    bases = folium.GeoJson(_rep_layer(territories), name="Rep bases", marker=folium.CircleMarker(radius=9),
                           style_function=lambda f: fills[f["id"]])
    bases.add_child(folium.GeoJsonTooltip(fields=list(REP_FIELDS), aliases=list(REP_FIELDS.values()))).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    uncovered = int((assignments["rep_id"] == "").sum())
    m.get_root().html.add_child(raw_element(_legend(title, territories, colours, uncovered)))
    return finished_page(m)


def write_account_map(path: Path, assignments: pd.DataFrame, territories: pd.DataFrame, title: str) -> None:
    """Write the page; ``title`` and every name are untrusted and escaped."""
    page = render_account_map(assignments, territories, title)
    Path(path).write_text(page, encoding="utf-8")

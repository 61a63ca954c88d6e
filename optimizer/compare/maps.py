"""Maps of the comparison report: one shared, simplified geometry and a few numbers per map.

Every map of the report draws the same units, so their polygons are embedded **once**: simplified as a
coverage (``shapely.coverage_simplify``, so neighbours keep a common border and no slivers open), rounded
to 1e-3 degree (about 100 m) and delta-encoded as integers. Each map then only adds, per unit, the index
of its territory (and for the moved-units map the base territory and the moved fraction). The national
counties cost about 0.6 MB of geometry however many maps the report has.

Every user-given string (unit names and ids, territory ids, base names) is passed through
:func:`optimizer.maps.page.escape_text` before it enters the page; the JSON blocks are additionally written
with ``<`` as ``\\u003c`` so no text can close their ``<script>`` element.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from optimizer.maps.page import (PALETTE, antimeridian_cut, assign_territory_colours, escape_text, shift_west,
                                 territory_adjacency)

if TYPE_CHECKING:
    import geopandas

    from optimizer.compare.members import Member
    from optimizer.compare.metrics import Change

SIMPLIFY_DEG = 0.01  # about 1 km: invisible at the zoom of a whole state or country
SCALE = 1000  # coordinates as integers of 1e-3 degree


def shared_geometry(units: geopandas.GeoDataFrame) -> dict[str, Any]:
    """The units' polygons, simplified and delta-encoded, with the bounds to fit (south-west, north-east)."""
    geoms = units.geometry.to_crs("EPSG:4326").values
    geoms = shift_west(geoms, antimeridian_cut(geoms))
    try:
        simple = shapely.coverage_simplify(geoms, SIMPLIFY_DEG)
    except shapely.errors.GEOSException:  # not a valid coverage: simplify polygon by polygon
        simple = shapely.simplify(geoms, SIMPLIFY_DEG, preserve_topology=True)
    minx, miny, maxx, maxy = (round(float(v), 4) for v in shapely.total_bounds(geoms))
    return {"bounds": [[miny, minx], [maxy, maxx]], "units": [_encode(g) for g in simple]}


def _encode(geometry: Any) -> Any:
    """A point as ``{"p": [x, y]}``; a (multi)polygon as polygons of rings of delta-encoded integers."""
    if geometry.geom_type == "Point" or geometry.geom_type == "MultiPoint":
        point = geometry.centroid
        return {"p": [round(point.x, 4), round(point.y, 4)]}
    parts = getattr(geometry, "geoms", [geometry])
    return [[_ring(ring) for ring in (part.exterior, *part.interiors)] for part in parts
            if part.geom_type == "Polygon" and not part.is_empty]


def _ring(ring: Any) -> list[int]:
    ints = np.round(np.asarray(ring.coords)[:, :2] * SCALE).astype(np.int64)
    keep = np.r_[True, (np.diff(ints, axis=0) != 0).any(axis=1)]
    ints = ints[keep]
    return np.vstack([ints[:1], np.diff(ints, axis=0)]).ravel().tolist()


def unit_labels(units: pd.DataFrame) -> dict[str, list]:
    """Escaped unit names and ids, in the base's unit order (shared by every map's tooltips)."""
    return {"names": [escape_text(n) for n in units["name"]], "ids": [escape_text(u) for u in units["unit_id"]]}


def base_colours(member: Member) -> dict[str, str]:
    """Colours of the base's territories: touching territories differ (as on the run's map.html)."""
    table = member.ready.units.frame[["unit_id", "geometry"]].copy()
    table["territory"] = table["unit_id"].map(_primary(member.assignments))
    table = table[table["territory"].notna()]
    return assign_territory_colours(member.territories["territory_id"], territory_adjacency(table))


def inherited_colours(member: Member, change: Change, base: Member, colours: dict[str, str]) -> dict[str, str]:
    """A what-if territory takes the colour of the base territory it continues; a new one a free colour."""
    base_ids = base.territories["territory_id"].tolist()
    ids = member.territories["territory_id"].tolist()
    result = {t: colours[base_ids[m]] for t, m in zip(ids, change.match) if m >= 0}
    used = list(result.values())
    for t in ids:
        if t not in result:
            result[t] = min(PALETTE, key=lambda c: (used.count(c), PALETTE.index(c)))
            used.append(result[t])
    return result


def _primary(assignments: pd.DataFrame) -> pd.Series:
    order = assignments.sort_values(["unit_id", "share", "territory_id"], ascending=[True, False, True])
    return order.drop_duplicates("unit_id").set_index("unit_id")["territory_id"]


def plan_map(map_id: str, member: Member, unit_ids: np.ndarray, colours: dict[str, str]) -> dict[str, Any]:
    """Data of a plan map: territories, colours, bases, each unit's territory and shared-unit labels."""
    territories = member.territories
    ids = territories["territory_id"].tolist()
    owner = pd.Index(ids).get_indexer(pd.Series(unit_ids).map(_primary(member.assignments)))
    bases = [[round(float(r.base_lat), 4), round(float(r.base_lon), 4), escape_text(r.base_name)]
             for r in territories.itertuples(index=False)]
    return {"id": map_id, "kind": "plan", "t": [escape_text(t) for t in ids], "c": [colours[t] for t in ids],
            "o": owner.tolist(), "s": _shared_labels(member.assignments, unit_ids), "b": bases}


def moved_map(map_id: str, member: Member, base: Member, change: Change, unit_ids: np.ndarray,
              colours: dict[str, str]) -> dict[str, Any]:
    """Data of a moved-units map: each moved unit's new territory and base territory, and the part moved."""
    spec = plan_map(map_id, member, unit_ids, colours)
    moved = np.flatnonzero(change.moved > 0)
    spec |= {"kind": "moved", "bt": [escape_text(t) for t in base.territories["territory_id"]],
             "f": change.base_owner.tolist(), "m": {int(i): round(float(change.moved[i]), 3) for i in moved}}
    return spec


def _shared_labels(assignments: pd.DataFrame, unit_ids: np.ndarray) -> dict[int, str]:
    split = assignments[assignments["unit_id"].duplicated(keep=False)].sort_values(["unit_id", "territory_id"])
    if split.empty:
        return {}
    parts = split["territory_id"].map(escape_text) + " " + (split["share"] * 100).round().astype(int).astype(str)
    labels = (parts + " %").groupby(split["unit_id"]).agg(", ".join)
    position = pd.Index(unit_ids).get_indexer(labels.index)
    return {int(p): text for p, text in zip(position, labels) if p >= 0}


def json_block(element_id: str, data: Any) -> str:
    """A ``<script type="application/json">`` element that no string inside ``data`` can close."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True).replace("<", "\\u003c")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


MAP_SCRIPT = r"""
(function () {
  "use strict";
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  const GEO = read("report-geometry"), LABELS = read("report-labels"), MAPS = read("report-maps");
  const ring = (flat) => { const out = []; let x = 0, y = 0;
    for (let i = 0; i < flat.length; i += 2) { x += flat[i]; y += flat[i + 1]; out.push([x / 1000, y / 1000]); }
    return out; };
  const geometry = (g) => g.p ? {type: "Point", coordinates: g.p}
    : {type: "MultiPolygon", coordinates: g.map((polygon) => polygon.map(ring))};
  const FEATURES = {type: "FeatureCollection", features: GEO.units.map((g, i) =>
    ({type: "Feature", id: i, properties: {}, geometry: geometry(g)}))};
  const GREY = "#e3e3e3";
  function style(spec, i) {
    const o = spec.o[i], fill = o >= 0 ? spec.c[o] : "#ffffff";
    if (spec.kind === "moved") {
      return i in spec.m ? {fillColor: fill, fillOpacity: 0.9, color: "#222222", weight: 1.2}
                         : {fillColor: GREY, fillOpacity: 1, color: "#ffffff", weight: 0.5};
    }
    if (i in spec.s) return {fillColor: fill, fillOpacity: 0.5, color: "#111111", weight: 1.5, dashArray: "4 3"};
    return {fillColor: fill, fillOpacity: 0.75, color: "#ffffff", weight: 0.5};
  }
  function tip(spec, i) {
    const head = "<b>" + LABELS.names[i] + "</b> (" + LABELS.ids[i] + ")<br>";
    const where = i in spec.s ? "shared: " + spec.s[i] : (spec.o[i] >= 0 ? spec.t[spec.o[i]] : "in no territory");
    if (spec.kind !== "moved") return head + "Territory " + where;
    if (!(i in spec.m)) return head + "unchanged: " + where;
    const part = spec.m[i] < 0.999 ? Math.round(spec.m[i] * 100) + " % moved" : "moved";
    return head + part + " from " + spec.bt[spec.f[i]] + " to " + where;
  }
  window.reportMaps = [];
  for (const spec of MAPS) {
    const map = L.map(spec.id, {renderer: L.svg(), zoomSnap: 0.25, attributionControl: false,
                                scrollWheelZoom: false, maxZoom: 12});
    map.fitBounds(GEO.bounds, {padding: [6, 6]});
    L.geoJSON(FEATURES, {
      style: (f) => style(spec, f.id),
      pointToLayer: (f, latlng) => L.circleMarker(latlng, {radius: 4}),
      onEachFeature: (f, layer) => layer.bindTooltip(() => tip(spec, f.id), {sticky: true}),
    }).addTo(map);
    if (spec.kind === "plan") {
      spec.b.forEach((b, k) => L.circleMarker([b[0], b[1]], {radius: 4, color: "#000000", weight: 1.5,
        fillColor: spec.c[k], fillOpacity: 1}).bindTooltip("<b>" + spec.t[k] + "</b> base: " + b[2]).addTo(map));
    }
    window.reportMaps.push(map);
  }
})();
"""

"""The offline page every map and report of the project is built on: inlined Leaflet, escaping, a fixed
palette, territory colours that differ where territories touch, and deterministic, network-free HTML.

Every user-given string goes through :func:`escape_text` before it reaches a page, because folium escapes
nothing and puts some text inside JavaScript template strings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

if TYPE_CHECKING:
    import folium
    import geopandas

ASSETS_DIR = Path(__file__).with_name("assets")
LEAFLET_VERSION = "1.9.3"
COORD_DECIMALS = 4  # 1e-4 degree is about 11 m, about 1.5 px at MAX_ZOOM
MAX_ZOOM = 14
ADJACENCY_TOLERANCE_DEG = 1e-3  # about 100 m: bridges gaps left by per-polygon simplification
# Fixed qualitative palette (Tableau 20, then four darks of Tableau 20b); never Python's hash().
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5", "#393b79", "#637939", "#8c6d31", "#843c39",
)  # fmt: skip
_EXTERNAL_ASSET = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.I)
_ESCAPES = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;", "{": "&#123;", "}": "&#125;"})



def escape_text(value: object) -> str:
    """Escape a user-given value for HTML, JS template strings and Jinja template source.

    Besides ``html.escape`` (``& < > " '``) this replaces the backtick and ``$`` (folium puts
    some text in JS template strings, where ``${...}`` would run), the backslash (an invalid
    escape there is a syntax error that blanks the page) and braces (never Jinja source).
    """
    return html.escape(str(value), quote=True).translate(_ESCAPES)


def assign_territory_colours(
    territory_ids: Iterable[str], adjacency: Iterable[tuple[str, str]], palette: Sequence[str] = PALETTE
) -> dict[str, str]:
    """Colour territories greedily so that touching territories differ where possible.

    Territories are visited in sorted id order; each prefers ``palette[position % len]`` and, if
    an already coloured neighbour has it, takes the next palette colour no neighbour uses. The
    result depends only on the ids and the adjacency, never on input order or hashing.

    Parameters
    ----------
    territory_ids : iterable of str
        Ids of all territories.
    adjacency : iterable of (str, str)
        Pairs of touching territory ids, in either order; self-pairs are ignored.
    palette : sequence of str
        Hex colours to cycle through.

    Returns
    -------
    dict of str to str
        Territory id to hex colour.
    """
    ids = sorted(set(territory_ids))
    neighbours: dict[str, set[str]] = {t: set() for t in ids}
    for a, b in adjacency:
        if a != b and a in neighbours and b in neighbours:
            neighbours[a].add(b)
            neighbours[b].add(a)
    colours: dict[str, str] = {}
    for position, territory in enumerate(ids):
        taken = {colours[n] for n in neighbours[territory] if n in colours}
        candidates = [palette[(position + k) % len(palette)] for k in range(len(palette))]
        colours[territory] = next((c for c in candidates if c not in taken), candidates[0])
    return colours


def territory_adjacency(
    units: geopandas.GeoDataFrame, tolerance: float = ADJACENCY_TOLERANCE_DEG
) -> list[tuple[str, str]]:
    """Return sorted pairs of territories owning units within ``tolerance`` of each other.

    ``units`` needs a ``territory`` column (each unit's primary territory); ``tolerance`` is in
    the units of its CRS.
    """
    left, right = units.sindex.query(units.geometry, predicate="dwithin", distance=tolerance)
    owner = units["territory"].to_numpy()
    return sorted({tuple(sorted(p)) for p in zip(owner[left], owner[right], strict=True) if p[0] != p[1]})


def antimeridian_cut(geoms: Any) -> float:
    """Return the longitude east of which to shift data by -360 so it is contiguous (180: none).

    Data crossing the antimeridian (e.g. the Aleutians) would otherwise stretch the view over
    the whole world. The cut is the middle of the widest empty longitude band, unless that band
    already holds the antimeridian.
    """
    occupied = np.unique(np.floor(shapely.get_coordinates(geoms)[:, 0]).clip(-180, 179))
    gaps = np.diff(np.append(occupied, occupied[0] + 360))
    widest = int(np.argmax(gaps))
    return 180.0 if widest == len(occupied) - 1 else float(occupied[widest] + gaps[widest] / 2)


def shift_west(geoms: Any, cut: float) -> Any:
    return shapely.transform(geoms, lambda xy: np.where(xy[:, :1] > cut, xy - [360, 0], xy))


def rounded_geojson(geoms: Iterable[Any]) -> list[dict]:
    """Return GeoJSON geometry dicts with coordinates rounded to ``COORD_DECIMALS``."""
    rounded = shapely.transform(np.asarray(list(geoms)), lambda xy: np.round(xy, COORD_DECIMALS))
    return [g.__geo_interface__ for g in rounded]


def format_number(value: Any, decimals: int | None = None) -> str:
    """Format as ``1,234`` if whole, else ``1,234.5``; with ``decimals`` places if given."""
    value = float(value)
    places = decimals if decimals is not None else (0 if value.is_integer() else 1)
    return f"{value:,.{places}f}"


def feature_collection(geometries: list[dict], properties: list[dict]) -> dict:
    pairs = enumerate(zip(geometries, properties, strict=True))
    features = [{"type": "Feature", "id": i, "properties": p, "geometry": g} for i, (g, p) in pairs]
    return {"type": "FeatureCollection", "features": features}


def raw_element(content: str) -> Any:
    """Return a branca Element that outputs ``content`` verbatim, never parsed as Jinja."""
    from branca.element import Element

    element = Element("{{ this.content }}")
    element.content = content
    return element


def offline_map(title: str, bounds: list[list[float]]) -> folium.Map:
    """Return a folium Map without tiles or CDN assets, with Leaflet inlined in the header."""
    import folium

    figure = folium.Figure()  # its <title> would precede the charset meta; ours follows it
    options = {"prefer_canvas": True, "control_scale": True, "zoom_snap": 0.25, "font_size": "0.8rem"}
    m = folium.Map(tiles=None, max_zoom=MAX_ZOOM, **options)
    m.default_js, m.default_css = [], []  # instance lists: jQuery, Bootstrap and fonts are unused
    figure.add_child(m)
    css = (ASSETS_DIR / "leaflet.css").read_text(encoding="utf-8")
    js = (ASSETS_DIR / "leaflet.js").read_text(encoding="utf-8")
    js = js.replace("//# sourceMappingURL=leaflet.js.map", "")
    figure.header.add_child(raw_element(f"<title>{escape_text(title)}</title>"), name="title")
    figure.header.add_child(raw_element(f"<style>{css}</style>\n<script>{js}</script>"), name="leaflet")
    m.fit_bounds(bounds, padding_top_left=(10, 10), padding_bottom_right=(230, 10))  # legend at right
    return m


def _number_ids(root: Any) -> None:
    """Replace folium's random element ids by a counter so equal inputs give equal bytes."""
    stack, counter = [root], 0
    while stack:
        element = stack.pop(0)
        element._id = f"{counter:06d}"
        counter += 1
        stack.extend(element._children.values())


def _render_compact(m: folium.Map) -> str:
    """Render the page with JSON written without spaces (about 10 % smaller).

    folium's templates share one Jinja environment; its ``tojson`` policy is changed only for
    the duration of this render and then restored.
    """
    policies = m._template.environment.policies
    saved = policies["json.dumps_kwargs"]
    policies["json.dumps_kwargs"] = {**saved, "separators": (",", ":")}
    try:
        return m.get_root().render()
    finally:
        policies["json.dumps_kwargs"] = saved


def finished_page(m: folium.Map) -> str:
    """The page of a finished map: deterministic element ids, compact JSON, refused if it loads anything
    from the network (shared by every offline map of the project)."""
    _number_ids(m.get_root())
    page = _render_compact(m)
    external = _EXTERNAL_ASSET.search(page)
    if external:
        raise RuntimeError(f"the map page still loads an external asset: {external.group(0)!r}")
    return page

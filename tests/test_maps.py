"""Tests of the offline territory map renderer on a synthetic 4x4 grid (no data/ files)."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.affinity import translate
from shapely.geometry import box

from optimizer.maps import page as offline_page
from optimizer.maps import territories as territory_maps

EVIL_NAME = "<script>alert(1)</script>"
EVIL_TITLE = "Plan `A` ${alert(1)} {{ 7*7 }} <b>bold</b>"
EXTERNAL = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.I)


def _grid_units(crs: str | None = "EPSG:4326") -> gpd.GeoDataFrame:
    """16 unit squares of 0.5 degree, ids U<row><col>, rows going north from 30 N."""
    cells = [(i, j) for i in range(4) for j in range(4)]
    units = gpd.GeoDataFrame(
        {
            "unit_id": [f"U{i}{j}" for i, j in cells],
            "name": [f"cell {i}{j}" for i, j in cells],
            "workload": [1.0 + i for i, _ in cells],
            "accounts": [3] * 16,
        },
        geometry=[box(-97 + j * 0.5, 30 + i * 0.5, -96.5 + j * 0.5, 30.5 + i * 0.5) for i, j in cells],
        crs=crs,
    )
    units.loc[0, "name"] = EVIL_NAME
    return units


def _assignments() -> pd.DataFrame:
    """T01 south-west block, T02 east half, T03 north-west block; U11 shared T01 60 % / T03 40 %."""
    owner = {f"U{i}{j}": "T02" if j >= 2 else ("T01" if i < 2 else "T03") for i in range(4) for j in range(4)}
    rows = [(u, t, 1.0) for u, t in owner.items() if u != "U11"] + [("U11", "T03", 0.4), ("U11", "T01", 0.6)]
    return pd.DataFrame(rows, columns=["unit_id", "territory_id", "share"])


def _territories() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "territory_id": ["T01", "T02", "T03"],
            "base_unit_id": ["U00", "U03", "U30"],
            "base_name": ["a`b${alert(1)}", "C:\\new", "Tyler"],
            "base_lat": [30.25, 30.25, 31.75],
            "base_lon": [-96.75, -95.25, -96.75],
            "units": [4, 8, 4],
            "workload": [5.0, 20.0, 10.0],
            "deviation_pct": [-40.0, 20.3, 1.0],
            "weighted_distance_km": [10.0, 20.0, 30.0],
            "accounts": [12, 24, 12],
        }
    )


def _write(path: Path, units: gpd.GeoDataFrame | None = None, title: str = EVIL_TITLE) -> str:
    units = _grid_units() if units is None else units
    territory_maps.write_territory_map(path, units, _assignments(), _territories(), title)
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _write(tmp_path_factory.mktemp("map") / "map.html")


def _fitted_bounds(page: str) -> list[float]:
    """south, west, north, east of the map's fitBounds call."""
    found = re.search(r"map_\w+\.fitBounds\(\s*\[\[([-\d.]+),([-\d.]+)\],\[([-\d.]+),([-\d.]+)\]\]", page)
    return [float(v) for v in found.groups()]


def _legend(page: str) -> str:
    return re.search(r'<div id="territory-legend".*?</table></div>', page, re.S).group(0)


def test_page_is_offline_and_inlines_leaflet(page: str) -> None:
    assert not EXTERNAL.search(page), "a <script src> or <link href> still points to the network"
    assert "<script src" not in page and "<link" not in page
    assert f"Leaflet {offline_page.LEAFLET_VERSION}" in page and "L.map(" in page
    assert "L.tileLayer(" not in page, "tiles need the internet"


def test_vendored_leaflet_is_the_version_folium_targets() -> None:
    from folium.folium import _default_js

    assert f"leaflet@{offline_page.LEAFLET_VERSION}/" in dict(_default_js)["leaflet"], "re-vendor Leaflet"
    head = (offline_page.ASSETS_DIR / "leaflet.js").read_text(encoding="utf-8")[:200]
    assert f"Leaflet {offline_page.LEAFLET_VERSION}," in head
    assert "BSD 2-Clause" in (offline_page.ASSETS_DIR / "LICENSE-leaflet.txt").read_text(encoding="utf-8")


def test_escape_text_neutralises_html_js_and_jinja() -> None:
    escaped = offline_page.escape_text("<i>`${x}`\\{{y}}&'\"")
    assert escaped == "&lt;i&gt;&#96;&#36;&#123;x&#125;&#96;&#92;&#123;&#123;y&#125;&#125;&amp;&#x27;&quot;"


def test_user_text_appears_only_escaped(page: str) -> None:
    for raw in ("<script>alert", "${alert", "`A`", "{{ 7*7 }}", "<b>bold", "C:\\new", "C:\\\\new"):
        assert raw not in page, raw
    escaped = "Plan &#96;A&#96; &#36;&#123;alert(1)&#125; &#123;&#123; 7*7 &#125;&#125; &lt;b&gt;"
    assert escaped in _legend(page)
    assert "<title>Plan &#96;A&#96;" in page


def test_shared_unit_gets_its_split_in_the_tooltip(page: str) -> None:
    assert "shared: T01 60 %, T03 40 %" in page
    assert re.search(r'"dashArray":\s*"5 4"', page), "shared units are drawn dashed"


def test_legend_lists_every_territory_with_figures(page: str) -> None:
    legend = _legend(page)
    for territory in ("T01", "T02", "T03"):
        assert f"<td>{territory}</td>" in legend
    assert "-40.0 %" in legend and "+20.3 %" in legend
    assert "overflow-y:auto" in legend


def test_base_tooltips_show_territory_figures(page: str) -> None:
    for alias in ("Weighted distance", "Deviation", "accounts", "20.0 km", "+20.3 %"):
        assert alias in page


def test_output_is_byte_identical_across_calls(tmp_path: Path, page: str) -> None:
    assert _write(tmp_path / "again.html") == page


def test_touching_territories_get_different_colours(page: str) -> None:
    primary = _assignments().sort_values("share").drop_duplicates("unit_id", keep="last")
    units = _grid_units().merge(primary.rename(columns={"territory_id": "territory"}), on="unit_id")
    adjacency = offline_page.territory_adjacency(units)
    assert adjacency == [("T01", "T02"), ("T01", "T03"), ("T02", "T03")]
    colours = offline_page.assign_territory_colours(["T03", "T01", "T02"], adjacency)
    assert len(set(colours.values())) == 3
    legend = _legend(page)
    assert all(f"background:{colours[t]}" in legend for t in colours)


def test_assign_territory_colours_is_deterministic_and_proper() -> None:
    ids = [f"T{i:02d}" for i in range(60)]
    ring = [(ids[i], ids[(i + k) % 60]) for i in range(60) for k in (1, 2, 3, 24)]
    first = offline_page.assign_territory_colours(ids, ring)
    again = offline_page.assign_territory_colours(list(reversed(ids)), [(b, a) for a, b in reversed(ring)])
    assert first == again
    assert set(first.values()) <= set(offline_page.PALETTE)
    assert all(first[a] != first[b] for a, b in ring)
    assert offline_page.assign_territory_colours(ids, [])["T01"] == offline_page.PALETTE[1], "no neighbours: palette order"


def test_units_are_reprojected_to_degrees(tmp_path: Path) -> None:
    page = _write(tmp_path / "m.html", _grid_units().to_crs("EPSG:3857"))
    assert [round(v, 3) for v in _fitted_bounds(page)] == [30.0, -97.0, 32.0, -95.0]


def test_data_across_the_antimeridian_stays_contiguous(tmp_path: Path) -> None:
    units = _grid_units()
    units["geometry"] = units.geometry.translate(xoff=276.0)  # columns at 179-180 E and 180-181 E
    units["geometry"] = [g if g.bounds[0] < 180 else translate(g, xoff=-360) for g in units.geometry]
    page = _write(tmp_path / "m.html", units)
    _, west, _, east = _fitted_bounds(page)
    assert east - west == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda u, a, t: (u.set_crs(None, allow_override=True), a, t), "CRS"),
        (lambda u, a, t: (u, a.replace({"territory_id": {"T02": "T99"}}), t), "missing from territories"),
        (lambda u, a, t: (u, a[a.unit_id != "U00"], t), "no assignment"),
        (lambda u, a, t: (u, a.assign(share=0.5), t), "sum to 1"),
        (lambda u, a, t: (u, a, t.drop(columns="base_lat")), "base_lat"),
    ],
)
def test_bad_tables_raise_and_write_nothing(tmp_path: Path, change, message: str) -> None:
    units, assignments, territories = change(_grid_units(), _assignments(), _territories())
    with pytest.raises(ValueError, match=message):
        territory_maps.write_territory_map(tmp_path / "m.html", units, assignments, territories, "t")
    assert not (tmp_path / "m.html").exists()


def test_large_plans_draw_each_territory_once_dissolved_from_its_units() -> None:
    page = territory_maps.render_territory_map(_grid_units(), _assignments(), _territories(), EVIL_TITLE, dissolve_above=10)
    assert "Territories" in page and "Territory borders" not in page
    assert len(re.findall(r'"type":"Polygon"', page)) == 3  # T01, T02, T03 dissolved from 16 cells
    features = re.findall(r'"t":"(T0\d)"', page)
    assert sorted(features) == ["T01", "T01", "T02", "T02", "T03", "T03"]  # dissolved polygons + base points
    assert "cell 00" not in page and "cell 33" not in page  # no unit is drawn on its own
    assert EVIL_NAME not in page and EXTERNAL.search(page) is None

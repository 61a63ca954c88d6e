"""The run's map.html and the comparison's report.html opened in a real headless Chromium (Debian's package).

Each page must draw its polygons, legend and tables with no network request, no console error and no
dialog; names like ``<script>alert(1)</script>`` must show as text. Screenshots are kept in
``test-artifacts/``. A missing Chromium fails these tests (CI installs it with scripts/setup.sh).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO, SCENARIOS

CHROMIUM = Path(os.environ.get("TERRITORY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
ARTIFACTS = REPO / "test-artifacts"
EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM}: run `bash scripts/setup.sh "
                    "--with-browser` as root or `sudo apt-get install -y chromium` (or set TERRITORY_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Opened:
    """A loaded page and everything that went wrong while it loaded."""

    page: object
    problems: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def open_page(browser, path: Path, width: int = 1400) -> Opened:
    page = browser.new_page(viewport={"width": width, "height": 1000})
    opened = Opened(page)
    page.on("console", lambda m: opened.problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: opened.problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: opened.problems.append(f"failed request: {r.url}"))
    page.on("request", lambda r: opened.problems.append(f"network request: {r.url[:100]}")
            if not r.url.startswith(("file:", "data:", "about:")) else None)
    page.on("dialog", lambda d: (opened.dialogs.append(d.message), d.dismiss()))
    page.goto(path.resolve().as_uri(), wait_until="load")
    page.wait_for_timeout(200)
    return opened


def screenshot(opened: Opened, name: str, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    opened.page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 20_000, "a blank page compresses to almost nothing"
    return path


DRAWN_LEAFLET_LAYERS = """() => {
  const maps = Object.keys(window).filter((k) => /^map_\\w+$/.test(k) && window[k] instanceof L.Map);
  let drawn = 0;
  maps.forEach((k) => window[k].eachLayer((l) => { if (l.feature && l._parts && l._parts.length) drawn++; }));
  return {maps: maps.length, drawn: drawn};
}"""


def test_run_map_draws_every_unit_and_its_legend(browser, texas_run):
    opened = open_page(browser, texas_run[0] / "map.html")
    page = opened.page
    layers = page.evaluate(DRAWN_LEAFLET_LAYERS)
    assert layers["maps"] == 1 and layers["drawn"] >= 254, layers
    assert page.locator("canvas").count() >= 1, "the map draws on a canvas (preferCanvas)"
    assert page.locator("#territory-legend tr").count() == 21, "header and one row per territory"
    assert page.locator("#territory-legend").is_visible()
    shot = screenshot(opened, "map-texas.png")
    assert _colours_in(shot) >= 15, "territory colours are visible on the screenshot"
    assert opened.problems == [] and opened.dialogs == []
    page.close()


def _colours_in(png: Path) -> int:
    from PIL import Image

    image = Image.open(png).convert("RGB").resize((350, 250))
    counts = image.getcolors(350 * 250)
    return sum(1 for count, _ in counts if count > 40)


def test_report_draws_table_charts_and_every_map(browser, texas_comparison):
    opened = open_page(browser, texas_comparison.folder / "report.html")
    page = opened.page
    assert page.locator("#comparison tbody tr").count() == 3
    assert page.locator("#comparison td.best").count() >= 3
    assert page.evaluate("window.reportMaps.length") == 5
    for map_id in ("map-0", "map-1", "moved-1", "map-2", "moved-2"):
        paths = page.locator(f"#{map_id} .leaflet-overlay-pane svg path")
        assert paths.count() >= 254, f"{map_id} draws every unit"
    moved = page.locator("#moved-1 path[stroke='#222222']").count()
    assert moved == int(texas_comparison.rows.loc[1, "units_moved"]), "moved units are outlined"
    assert page.locator("svg.chart").count() == 6 and page.locator("svg.chart rect").count() > 60
    assert page.locator("#scenario-0 .legend tbody tr").count() == 20
    screenshot(opened, "report-texas.png", full_page=True)
    page.locator("#summary").screenshot(path=str(ARTIFACTS / "report-texas-table.png"))
    assert opened.problems == [] and opened.dialogs == []
    page.close()


@pytest.fixture(scope="module")
def evil_comparison(texas_comparison, tmp_path_factory):
    """Texas with four given bases whose ids and names are HTML and JS, compared with the baseline."""
    from optimizer.compare.run import compare_entries, parse_entry

    folder = tmp_path_factory.mktemp("evil")
    (folder / "evil.yaml").write_text(f"""extends: {SCENARIOS / 'texas_counties.yaml'}
name: "{EVIL}"
territories:
  count: null
  bases:
    - {{id: "{EVIL}", unit: "48201", name: "<img src=x onerror=alert(2)>"}}
    - {{id: "T`${{alert(3)}}`", unit: "48113", name: "{{{{7*7}}}}"}}
    - {{id: North, unit: "48029"}}
    - {{id: South, unit: "48453"}}
balance: {{tolerance: 0.1}}
""")
    runs = folder / "runs"
    shutil.copytree(texas_comparison.folder.parent / "runs" / "texas-counties", runs / "texas-counties")
    entries = [parse_entry(str(SCENARIOS / "texas_counties.yaml")), parse_entry(str(folder / "evil.yaml"))]
    return compare_entries(entries, folder / "out", runs_dir=runs)


def test_hostile_names_show_as_text_in_the_report(browser, evil_comparison):
    opened = open_page(browser, evil_comparison.folder / "report.html")
    page = opened.page
    assert page.locator("#comparison tbody tr").nth(1).locator("th").inner_text() == EVIL
    assert page.locator("#scenario-1 h2").inner_text() == EVIL
    legend = page.locator("#scenario-1 .legend").inner_text()
    assert EVIL in legend and "<img src=x onerror=alert(2)>" in legend and "T`${alert(3)}`" in legend
    assert page.locator("script").count() == 5, "Leaflet, three JSON blocks and the map script; nothing injected"
    assert page.locator("img").count() == 0
    harris = page.evaluate("""() => {
      const map = window.reportMaps[2];  // the what-if's moved-units map
      let text = null;
      map.eachLayer((l) => { if (l.feature && l.getTooltip() && l.feature.id === HARRIS) {
        l.openTooltip(l.getBounds().getCenter()); text = l.getTooltip().getElement().innerText; } });
      return text;
    }""".replace("HARRIS", str(list(evil_comparison.members[0].ready.units.ids).index("48201"))))
    assert harris is not None and EVIL in harris, harris
    screenshot(opened, "report-hostile-names.png", full_page=True)
    assert opened.dialogs == [], "a name ran as script"
    assert opened.problems == []
    page.close()


def test_hostile_names_show_as_text_on_the_run_map(browser, evil_comparison):
    opened = open_page(browser, evil_comparison.members[1].folder / "map.html")
    page = opened.page
    assert EVIL in page.title()
    legend = page.locator("#territory-legend").inner_text()
    assert legend.count(EVIL) == 2, "as the scenario name and as a territory id"
    assert page.evaluate(DRAWN_LEAFLET_LAYERS)["drawn"] >= 254
    screenshot(opened, "map-hostile-names.png")
    assert opened.dialogs == [] and opened.problems == []
    page.close()

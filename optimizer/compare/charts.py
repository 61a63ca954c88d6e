"""Inline SVG charts of the comparison report (no JavaScript, no fonts or images to load).

Every label that comes from the user is passed through :func:`optimizer.maps.page.escape_text`.
"""

from __future__ import annotations

import math

import pandas as pd

from optimizer.maps.page import escape_text

FONT = 'font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif"'
INK, MUTED, BAND, GRID = "#222222", "#666666", "#dcefdc", "#e6e6e6"


def workload_chart(title: str, territories: pd.DataFrame, colours: dict[str, str], tolerance: float,
                   reach: float, width: int = 420, height: int = 190) -> str:
    """Bars from the average (100 %) to each territory's workload, heaviest first, band shaded.

    Parameters
    ----------
    title : str
        Scenario name (escaped here).
    territories : pandas.DataFrame
        ``territory_id, base_name, workload, deviation_pct``.
    colours : dict
        Territory id to its map colour.
    tolerance : float
        The band as a share (0.05 for +-5 %).
    reach : float
        The axis spans at least 100 % +- ``reach`` percentage points (give small multiples the same reach).
    """
    left, right, top, bottom = 44, 8, 26, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    table = territories.sort_values("deviation_pct", ascending=False)
    percent = 100 + table["deviation_pct"].to_numpy(float)
    band = 100 * tolerance
    reach = max(reach, band, float(abs(percent - 100).max())) * 1.25 + 1
    step = _tick_step(2 * reach)
    low, high = 100 - math.ceil(reach / step) * step, 100 + math.ceil(reach / step) * step

    def y(value: float) -> float:
        return top + plot_h * (high - value) / (high - low)

    parts = [f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'xmlns="http://www.w3.org/2000/svg" {FONT} font-size="11">',
             f'<text x="{left}" y="15" font-size="13" font-weight="600" fill="{INK}">{escape_text(title)}</text>',
             f'<rect x="{left}" y="{y(100 + band):.1f}" width="{plot_w}" height="{y(100 - band) - y(100 + band):.1f}" '
             f'fill="{BAND}"><title>band ±{band:g} %</title></rect>']
    for tick in _ticks(low, high):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                     f'stroke="{INK if tick == 100 else GRID}" stroke-width="{1 if tick == 100 else 0.6}"/>'
                     f'<text x="{left - 4}" y="{y(tick) + 3.5:.1f}" text-anchor="end" fill="{MUTED}">{tick:g} %</text>')
    step = plot_w / max(len(table), 1)
    for i, (row, value) in enumerate(zip(table.itertuples(index=False), percent)):
        x, top_y, base_y = left + i * step, y(min(max(value, low), high)), y(100)
        label = (f"{escape_text(row.territory_id)} ({escape_text(row.base_name)}): {value:.1f} % of average "
                 f"({row.deviation_pct:+.1f} %)")
        parts.append(f'<rect x="{x + step * 0.12:.1f}" y="{min(top_y, base_y):.1f}" '
                     f'width="{max(step * 0.76, 0.8):.1f}" height="{max(abs(base_y - top_y), 0.8):.1f}" '
                     f'fill="{colours.get(row.territory_id, MUTED)}">'
                     f'<title>{label}</title></rect>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle" fill="{MUTED}">'
                 f'{len(table)} territories, heaviest first; shaded: band ±{band:g} %</text></svg>')
    return "".join(parts)


def _tick_step(span: float) -> float:
    return next((step for step in (1, 2, 5, 10, 20, 50, 100) if span / step <= 8), 200)


def _ticks(low: float, high: float) -> list[float]:
    step = _tick_step(high - low)
    first = math.ceil(low / step) * step
    return [first + k * step for k in range(int((high - first) // step) + 1)]


def metric_chart(title: str, labels: list[str], values: list[float | None], unit: str,
                 highlight: set[int], width: int = 420) -> str:
    """Horizontal bars, one per scenario; the best bars (``highlight``) are drawn darker.

    ``labels`` are scenario names (escaped here); a missing value is drawn as "n/a".
    """
    row_h, left, top = 24, 180, 26
    height = top + row_h * len(labels) + 8
    finite = [v for v in values if v is not None and math.isfinite(v)]
    scale = (width - left - 70) / (max(finite) if finite and max(finite) > 0 else 1.0)
    parts = [f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'xmlns="http://www.w3.org/2000/svg" {FONT} font-size="12">',
             f'<text x="4" y="15" font-size="13" font-weight="600" fill="{INK}">{escape_text(title)}</text>']
    for i, (label, value) in enumerate(zip(labels, values)):
        y = top + i * row_h
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" fill="{INK}">'
                     f'{escape_text(_short(label))}<title>{escape_text(label)}</title></text>')
        if value is None or not math.isfinite(value):
            parts.append(f'<text x="{left}" y="{y + 15}" fill="{MUTED}">n/a</text>')
            continue
        colour = "#1b6e3c" if i in highlight else "#8fb3d9"
        parts.append(f'<rect x="{left}" y="{y + 4}" width="{max(value * scale, 1):.1f}" height="{row_h - 8}" '
                     f'fill="{colour}"/><text x="{left + max(value * scale, 1) + 5:.1f}" y="{y + 15}" '
                     f'fill="{INK}">{_format(value)} {escape_text(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _short(label: str, limit: int = 24) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _format(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"

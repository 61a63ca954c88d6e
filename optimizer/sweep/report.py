"""The sweep's trade-off page: scatter plots as inline SVG (no script, no CDN) and the table of scenarios.

A scenario is *non-dominated* when no other scenario of the same case is at least as good on every
criterion of :data:`CRITERIA` (and on :data:`MOVES` when every scenario of the case is a realignment) and
better on one. Scenarios of different cases (say two states) cover
different ground, so they are never compared. Every user-given string goes through
:func:`optimizer.maps.page.escape_text`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optimizer.maps.page import escape_text

# (column, label): every criterion is minimised
CRITERIA = (
    ("weighted_distance_km", "travel: workload-weighted distance to base, km"),
    ("max_abs_deviation_pct", "balance: largest territory deviation, %"),
    ("territories", "headcount: territories"),
)
# A realignment also minimises what it moves; compared only among scenarios that all report it.
MOVES = ("workload_moved_pct", "disruption: workload moved from today's plan, %")
PLOTS = (("max_abs_deviation_pct", "weighted_distance_km"), ("territories", "weighted_distance_km"))
MOVES_PLOT = ("workload_moved_pct", "weighted_distance_km")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
WIDTH, HEIGHT, MARGIN = 640, 400, 60
TABLE = ("number", "scenario", "status", "gap", "weighted_distance_km", "max_abs_deviation_pct", "territories",
         "workload_moved_pct", "shared_units", "seconds", "error")
HEADERS = {"number": "#", "weighted_distance_km": "travel km", "max_abs_deviation_pct": "max deviation %",
           "workload_moved_pct": "moved %", "shared_units": "shared units"}


def mark_non_dominated(rows: list[dict[str, Any]]) -> None:
    """Set ``row['non_dominated']`` on every row (False for rows without a plan or a criterion value)."""
    for row in rows:
        row["non_dominated"] = False
    for case in {r.get("case") for r in rows}:
        scored = [r for r in rows if r.get("case") == case and _criteria(r, CRITERIA) is not None]
        moves = bool(scored) and all(_number(r.get(MOVES[0])) is not None for r in scored)
        criteria = (*CRITERIA, MOVES) if moves else CRITERIA
        for row in scored:
            mine = _criteria(row, criteria)
            rivals = [_criteria(r, criteria) for r in scored if r is not row]
            row["non_dominated"] = not any(_dominates(other, mine) for other in rivals)


def _criteria(row: dict[str, Any], criteria: Sequence[tuple[str, str]]) -> tuple[float, ...] | None:
    if row.get("status") not in ("optimal", "feasible"):
        return None
    values = tuple(_number(row.get(column)) for column, _ in criteria)
    return None if any(v is None for v in values) else values  # type: ignore[return-value]


def _dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def tradeoff_html(rows: list[dict[str, Any]], title: str, note: str = "") -> str:
    """The whole page: one scatter per pair of :data:`PLOTS`, then every scenario in a table."""
    rows = [{**row, "number": i} for i, row in enumerate(rows, start=1)]
    cases = sorted({str(r.get("case") or "") for r in rows})
    colours = {case: PALETTE[i % len(PALETTE)] for i, case in enumerate(cases)}
    labels = dict((*CRITERIA, MOVES))
    pairs = [*PLOTS, MOVES_PLOT] if any(_number(r.get(MOVES[0])) is not None for r in rows) else list(PLOTS)
    plots = "\n".join(scatter_svg(rows, x, y, labels[x], labels[y], colours) for x, y in pairs)
    legend = "".join(f'<span style="color:{colours[c]}">&#9679; {escape_text(c)}</span> ' for c in cases if c)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape_text(title)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:24px;color:#222}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}} td:first-child,td:last-child{{text-align:left}}
tr.nd{{background:#eef6ee}} svg{{margin:8px 16px 8px 0;border:1px solid #ddd}}</style></head><body>
<h1>{escape_text(title)}</h1>
<p>Filled, numbered points are <b>non-dominated</b>: no other scenario of the same case is at least as good on
travel, balance and headcount (and workload moved, when every scenario of the case is a realignment) and better
on one. Hollow points are dominated. {escape_text(note)}</p>
<p>{legend}</p>
<div>{plots}</div>
{_table(rows)}
</body></html>
"""


def scatter_svg(rows: list[dict[str, Any]], x: str, y: str, x_label: str, y_label: str,
                colours: dict[str, str]) -> str:
    """An SVG scatter of the rows that have both values; non-dominated points filled and labelled."""
    points = [(r, _number(r.get(x)), _number(r.get(y))) for r in rows]
    points = [(r, px, py) for r, px, py in points if px is not None and py is not None]
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
              f'aria-label="{escape_text(y_label)} against {escape_text(x_label)}">')]
    if not points:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no scenario with a plan</text>')
        return "".join(parts) + "</svg>"
    sx = _Scale([p[1] for p in points], MARGIN, WIDTH - 20)
    sy = _Scale([p[2] for p in points], HEIGHT - MARGIN, 20)
    parts += _axes(sx, sy, x_label, y_label)
    for row, px, py in sorted(points, key=lambda p: bool(p[0].get("non_dominated"))):
        parts.append(_point(row, sx(px), sy(py), colours.get(str(row.get("case") or ""), PALETTE[0])))
    return "".join(parts) + "</svg>"


def _point(row: dict[str, Any], cx: float, cy: float, colour: str) -> str:
    """A circle with the scenario's name as tooltip; a non-dominated one is filled and shows its number."""
    name = escape_text(row.get("scenario"))
    marked = bool(row.get("non_dominated"))
    fill = colour if marked else "white"
    tip = f"<title>#{row.get('number', '')} {name}{' (non-dominated)' if marked else ''}</title>"
    dot = f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{fill}" stroke="{colour}" stroke-width="1.5">{tip}</circle>'
    if not marked:
        return dot
    left = cx > WIDTH * 0.8
    x, anchor = (cx - 7, "end") if left else (cx + 7, "start")
    number = row.get("number", "")
    return dot + f'<text x="{x:.1f}" y="{cy - 5:.1f}" font-size="11" text-anchor="{anchor}">{number}</text>'


def _axes(sx: _Scale, sy: _Scale, x_label: str, y_label: str) -> list[str]:
    bottom, left = HEIGHT - MARGIN, MARGIN
    parts = [f'<line x1="{left}" y1="{bottom}" x2="{WIDTH - 20}" y2="{bottom}" stroke="#444"/>',
             f'<line x1="{left}" y1="{bottom}" x2="{left}" y2="20" stroke="#444"/>']
    for value in sx.ticks():
        parts.append(f'<text x="{sx(value):.1f}" y="{bottom + 16}" font-size="10" text-anchor="middle">'
                     f'{_fmt(value)}</text>')
    for value in sy.ticks():
        parts.append(f'<text x="{left - 6}" y="{sy(value) + 3:.1f}" font-size="10" text-anchor="end">'
                     f'{_fmt(value)}</text>')
    parts.append(f'<text x="{(left + WIDTH - 20) / 2}" y="{HEIGHT - 18}" text-anchor="middle" font-size="12">'
                 f'{escape_text(x_label)}</text>')
    parts.append(f'<text transform="translate(14,{(bottom + 20) / 2}) rotate(-90)" text-anchor="middle" '
                 f'font-size="12">{escape_text(y_label)}</text>')
    return parts


class _Scale:
    """A linear map from data values to pixels, padded by 8 % so no point sits on an axis."""

    def __init__(self, values: list[float], start: float, end: float) -> None:
        low, high = min(values), max(values)
        pad = (high - low) * 0.08 or max(abs(high) * 0.08, 1.0)
        self.low, self.high, self.start, self.end = low - pad, high + pad, start, end

    def __call__(self, value: float) -> float:
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)

    def ticks(self, count: int = 5) -> list[float]:
        """Round values (steps of 1, 2 or 5 times a power of ten) inside the range."""
        raw = (self.high - self.low) / count
        power = 10 ** math.floor(math.log10(raw))
        step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
        first = math.ceil(self.low / step) * step
        return [first + i * step for i in range(count + 1) if first + i * step <= self.high]


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _table(rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{escape_text(HEADERS.get(c, c))}</th>" for c in ("", *TABLE))
    body = []
    for row in rows:
        marked = bool(row.get("non_dominated"))
        cells = "".join(f"<td>{escape_text(_cell(row.get(c), c))}</td>" for c in TABLE)
        body.append(f'<tr class="{"nd" if marked else ""}"><td>{"&#9733;" if marked else ""}</td>{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cell(value: Any, column: str) -> str:
    number = _number(value) if isinstance(value, float) else None
    if value is None or (isinstance(value, float) and number is None):
        return ""
    if number is not None:
        return f"{number:.2%}" if column == "gap" else f"{number:.4g}"
    return str(value)


def write_tradeoff_html(rows: list[dict[str, Any]], path: Path, title: str, note: str = "") -> None:
    """Write :func:`tradeoff_html` to ``path``."""
    path.write_text(tradeoff_html(rows, title, note), encoding="utf-8")

"""The sizing page ``sizing.html``: headline numbers, the charts and the segment table, offline.

Every user string (scenario name, segment names, currency, notes) goes through
:func:`optimizer.maps.page.escape_text`; numbers are formatted here. The page loads nothing from the network.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from optimizer.maps.page import escape_text
from optimizer.sizing.plot import effort_svg, profit_svg
from optimizer.sizing.recommendation import Recommendation

STYLE = ("body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:60em;color:#222}"
         "table{border-collapse:collapse;font-size:.85em}td,th{border-bottom:1px solid #ddd;padding:.25em .6em;"
         "text-align:right}th:first-child,td:first-child{text-align:left}.big{font-size:1.15em}"
         "figure{margin:1em 0}.note{color:#8a4b00}")


def _money(value: float, currency: str) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else \
        f"{escape_text(currency)} {value:,.0f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.3f} %"


def _headline(summary: dict, rec: Recommendation) -> str:
    c = summary["currency"]
    low, high = rec.near_range
    lin = summary["linearisation"]
    return (f"<p class=big>Recommended headcount <b>{rec.headcount}</b>: profit {_money(summary['objective'], c)} "
            f"per year. Headcounts {low}-{high} are within {rec.share:.0%} of that profit.</p>"
            f"<p>Status <b>{escape_text(summary['status'])}</b>. Upper bound on the best profit "
            f"{_money(summary['bound'], c)}, gap {_pct(summary['gap'])} (MIP gap of the linearised model "
            f"{_pct(summary['mip_gap'])}; linearisation error bound {_money(lin['error_bound'], c)}, "
            f"{_pct(lin['error_bound_share'])} of the profit). Profit, revenue and cost are the true curves' "
            "values at the chosen efforts.</p>")


def _segment_rows(segments: pd.DataFrame, currency: str, effort_unit: str) -> str:
    head = (f"<tr><th>segment</th><th>units</th><th>accounts</th><th>{escape_text(effort_unit)}</th>"
            f"<th>per account</th><th>hours</th><th>sales ({escape_text(currency)})</th>"
            "<th>contribution</th><th>marginal contribution per hour</th><th>curve</th><th>fit R²</th></tr>")
    rows = []
    for r in segments.itertuples():
        per = "" if math.isnan(r.effort_per_account) else f"{r.effort_per_account:,.2f}"
        accounts = "" if pd.isna(r.accounts) else f"{r.accounts:,.0f}"
        fit = "" if math.isnan(r.fit_r2) else f"{r.fit_r2:.3f}"
        shape = f"{escape_text(r.curve)} ({'concave' if r.concave else 'S-shaped'})"
        rows.append(f"<tr><td>{escape_text(r.name)}</td><td>{r.units}</td><td>{accounts}</td>"
                    f"<td>{r.effort:,.0f}</td><td>{per}</td><td>{r.hours:,.0f}</td><td>{r.sales:,.0f}</td>"
                    f"<td>{r.contribution:,.0f}</td><td>{r.marginal_contribution_per_hour:,.2f}</td>"
                    f"<td>{shape}</td><td>{fit}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def render_sizing_page(summary: dict, table: pd.DataFrame, segments: pd.DataFrame, rec: Recommendation,
                       names: list[str]) -> str:
    """The complete HTML page."""
    title = escape_text(summary["scenario"])
    notes = "".join(f"<p class=note>Note: {escape_text(n)}</p>" for n in summary["notes"])
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>{title}: sales force sizing</title><style>{STYLE}</style></head><body>"
            f"<h1>{title}</h1><p>{escape_text(summary.get('description', ''))}</p>{_headline(summary, rec)}{notes}"
            f"<h2>Profit by headcount</h2><figure>{profit_svg(table, rec, summary['currency'])}</figure>"
            f"<h2>Effort per segment</h2><figure>"
            f"{effort_svg(table, list(segments['segment_id']), names, rec, summary['effort_unit'])}</figure>"
            f"<h2>Segments at {rec.headcount} reps</h2>"
            f"{_segment_rows(segments, summary['currency'], summary['effort_unit'])}"
            "<p>Files: sizing.csv (every headcount), segments.csv, summary.json.</p></body></html>")


def write_sizing_page(path: Path, summary: dict, table: pd.DataFrame, segments: pd.DataFrame,
                      rec: Recommendation, names: list[str]) -> None:
    """Render the page fully, then write it."""
    page = render_sizing_page(summary, table, segments, rec, names)
    Path(path).write_text(page, encoding="utf-8")

"""The one-file HTML report of a comparison: table, charts, a map per scenario and a moved-units map.

The page loads nothing: Leaflet (``optimizer/assets``) is inlined once, the unit geometry once
(:mod:`optimizer.compare.maps`) and the charts are inline SVG (:mod:`optimizer.compare.charts`). Every
user-given string goes through :func:`optimizer.maps.page.escape_text`.
"""

from __future__ import annotations

import math
from importlib import metadata

import numpy as np
import pandas as pd

from optimizer.compare.members import PLANNED, Member
from optimizer.compare.metrics import Change, best_cells, headcount_warnings
from optimizer.maps.page import ASSETS_DIR, escape_text
from optimizer.compare.charts import metric_chart, workload_chart
from optimizer.compare.maps import (MAP_SCRIPT, base_colours, inherited_colours, json_block, moved_map, plan_map,
                                   shared_geometry, unit_labels)

# (column, heading, format) of the report's table; the CSV has every column
TABLE = (("territories", "Territories", "{:d}"), ("max_deviation_pct", "Max deviation", "{:.1f} %"),
         ("workload_cv", "Workload CV", "{:.3f}"), ("weighted_travel_km", "Weighted travel", "{:,.1f} km"),
         ("units_moved", "Units moved", "{:d}"), ("workload_moved_pct", "Workload moved", "{:.1f} %"),
         ("gap", "Gap, these bases", "{:.2%}"), ("location_gap", "Gap, any bases", "{:.2%}"),
         ("seconds", "Seconds", "{:.1f}"))
FLOWS_SHOWN = 8


def render_report(members: list[Member], rows: pd.DataFrame, changes: list[Change | None]) -> str:
    """The complete HTML page of a comparison (base first)."""
    base = members[0]
    unit_ids = base.ready.units.ids
    colours = _colours(members, changes)
    specs, sections = [], []
    for i, (member, change) in enumerate(zip(members, changes)):
        if member.assignments is None:
            continue
        specs.append(plan_map(f"map-{i}", member, unit_ids, colours[i]))
        if i > 0:
            specs.append(moved_map(f"moved-{i}", member, base, change, unit_ids, colours[i]))
        sections.append(_section(i, member, base, change, rows.iloc[i], colours[i]))
    title = f"What-if comparison: {escape_text(base.label)}"
    body = [_header(base, members), _table(rows), _charts(members, rows, colours), *sections, _footer()]
    data = [json_block("report-geometry", shared_geometry(base.ready.units.frame)),
            json_block("report-labels", unit_labels(base.ready.units.frame)), json_block("report-maps", specs)]
    css = (ASSETS_DIR / "leaflet.css").read_text(encoding="utf-8")
    js = (ASSETS_DIR / "leaflet.js").read_text(encoding="utf-8").replace("//# sourceMappingURL=leaflet.js.map", "")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
            f"<style>{css}</style><style>{REPORT_CSS}</style><script>{js}</script></head>\n<body>"
            + "\n".join(body) + "\n" + "\n".join(data) + f"\n<script>{MAP_SCRIPT}</script>\n</body></html>\n")


def _colours(members: list[Member], changes: list[Change | None]) -> list[dict[str, str]]:
    first = base_colours(members[0])
    return [first if i == 0 else inherited_colours(m, c, members[0], first) if c is not None else {}
            for i, (m, c) in enumerate(zip(members, changes))]


def _header(base: Member, members: list[Member]) -> str:
    measures = ", ".join(escape_text(m) for m in base.scenario.workload.measures)
    return (f'<header><h1>What-if comparison</h1><p class="sub">Base: <b>{escape_text(base.label)}</b> · '
            f"{len(members) - 1} what-if(s) · {len(base.ready.units):,} units · workload: {measures}</p></header>")


def _table(rows: pd.DataFrame) -> str:
    best = best_cells(rows)
    head = "".join(f"<th>{heading}</th>" for _, heading, _ in TABLE)
    lines = [f'<section id="summary"><h2>At a glance</h2><table id="comparison"><thead><tr><th>Scenario</th>'
             f"<th>Status</th>{head}<th>Limits that bound</th></tr></thead><tbody>"]
    for i, row in enumerate(rows.itertuples(index=False)):
        name = escape_text(row.scenario) + (' <span class="tag">base</span>' if i == 0 else "")
        if row.status not in PLANNED:
            lines.append(f'<tr class="failed"><th scope="row">{name}</th><td>{escape_text(row.status)}</td>'
                         f'<td colspan="{len(TABLE) + 1}">{escape_text(row.note)}</td></tr>')
            continue
        cells = "".join(_cell(getattr(row, column), fmt, i in best.get(column, ())) for column, _, fmt in TABLE)
        lines.append(f'<tr><th scope="row">{name}</th><td class="status">{escape_text(row.status)}</td>{cells}'
                     f'<td class="text">{escape_text(row.binding)}</td></tr>')
    lines.append('</tbody></table><p class="note"><span class="best-key">★</span> best in its column '
                 "(lower is better; moves are counted against the base). Max deviation: the largest gap between a "
                 "territory's workload and the average. Workload CV: spread of territory workloads (standard "
                 "deviation / mean). Weighted travel: workload-weighted mean distance from a unit to its rep's "
                 "base. Gap, these bases: proven distance from the best plan with these bases (none for a hand-edited "
                 "plan). Gap, any bases: proven distance from the best plan with any bases (every unit, or every "
                 "listed candidate, a possible base; n/a when the bases are given).</p>")
    warnings = headcount_warnings(rows)
    if warnings:
        lines.append('<div id="headcount-warnings" class="note"><h3>Travel against headcount</h3><ul>'
                     + "".join(f"<li>{escape_text(line)}</li>" for line in warnings) + "</ul></div>")
    lines.append("</section>")
    return "".join(lines)


def _cell(value: object, fmt: str, best: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<td class="na">n/a</td>'
    text = fmt.format(int(value) if fmt == "{:d}" else float(value))
    return f'<td class="best">★ {text}</td>' if best else f"<td>{text}</td>"


def _charts(members: list[Member], rows: pd.DataFrame, colours: list[dict[str, str]]) -> str:
    planned = [i for i, m in enumerate(members) if m.assignments is not None]
    labels = rows["scenario"].tolist()
    best = best_cells(rows)
    metrics = "".join(
        metric_chart(title, labels, [_value(v) for v in rows[column]], unit, best.get(column, set()))
        for title, column, unit in (("Weighted travel", "weighted_travel_km", "km"),
                                    ("Workload moved from the base", "workload_moved_pct", "%"),
                                    ("Largest deviation from the average", "max_deviation_pct", "%")))
    reach = max(float(members[i].territories["deviation_pct"].abs().max()) for i in planned)
    bars = "".join(workload_chart(members[i].label, members[i].territories, colours[i],
                                  members[i].scenario.balance.tolerance, reach) for i in planned)
    return (f'<section id="charts"><h2>Travel, disruption and balance</h2><div class="charts">{metrics}</div>'
            f'<h3>Workload per territory</h3><div class="charts">{bars}</div></section>')


def _value(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _section(i: int, member: Member, base: Member, change: Change | None, row: pd.Series,
             colours: dict[str, str]) -> str:
    head = f'<section class="scenario" id="scenario-{i}"><h2>{escape_text(member.label)}</h2>'
    facts = (f'<p class="facts">{escape_text(row["status"])} · {int(row["territories"])} territories · '
             f'max deviation {row["max_deviation_pct"]:.1f} % · weighted travel {row["weighted_travel_km"]:,.1f} km')
    if i > 0:
        facts += f' · {int(row["units_moved"])} units moved ({row["workload_moved_pct"]:.1f} % of workload)'
    broken = member.summary.get("broken_rules") or []
    facts += "</p>" + (f'<p class="broken">Breaks: {"; ".join(escape_text(b) for b in broken)}</p>' if broken else "")
    plan = f'<figure><div id="map-{i}" class="map"></div><figcaption>Plan: units coloured by territory; ' \
           "dashed units are shared; dots are bases</figcaption></figure>"
    moved = "" if i == 0 else (
        f'<figure><div id="moved-{i}" class="map"></div><figcaption>Units whose territory changed against the '
        f"base (filled with the new territory's colour); unchanged units grey</figcaption></figure>")
    legend = _legend(member, colours) + ("" if i == 0 else _flows(member, base, change))
    return f'{head}{facts}<div class="maps{" two" if i else ""}">{plan}{moved}<div class="side">{legend}</div>' \
           "</div></section>"


def _legend(member: Member, colours: dict[str, str]) -> str:
    rows = "".join(
        f'<tr><td><span class="swatch" style="background:{colours[r.territory_id]}"></span></td>'
        f"<td>{escape_text(r.territory_id)}</td><td>{escape_text(r.base_name)}</td>"
        f'<td class="num">{r.deviation_pct:+.1f} %</td></tr>'
        for r in member.territories.itertuples(index=False))
    return (f'<div class="legend"><table><thead><tr><th></th><th>Territory</th><th>Base</th><th>vs avg</th></tr>'
            f"</thead><tbody>{rows}</tbody></table></div>")


def _flows(member: Member, base: Member, change: Change) -> str:
    moved = np.flatnonzero(change.moved > 0)
    if moved.size == 0:
        return '<p class="flows">No unit changed territory.</p>'
    workload = base.ready.units.workload
    base_names = _territory_names(base.territories).to_numpy()
    primary = member.assignments.sort_values("share", ascending=False).drop_duplicates("unit_id")
    to = pd.Series(base.ready.units.ids[moved]).map(primary.set_index("unit_id")["territory_id"])
    flows = pd.DataFrame({"from": base_names[change.base_owner[moved]], "to": to.map(_territory_names(
        member.territories.set_index("territory_id", drop=False))).to_numpy(),
        "w": workload[moved] * change.moved[moved]})
    top = flows.groupby(["from", "to"], sort=False).agg(units=("w", "size"), w=("w", "sum"))
    top = top.sort_values("w", ascending=False).head(FLOWS_SHOWN)
    total = workload.sum()
    rows = "".join(f"<tr><td>{escape_text(a)} → {escape_text(b)}</td><td class=\"num\">{int(r.units)}</td>"
                   f'<td class="num">{100 * r.w / total:.1f} %</td></tr>' for (a, b), r in top.iterrows())
    return (f'<div class="flows"><table><thead><tr><th>Largest moves (base territory → new)</th><th>units</th>'
            f"<th>workload</th></tr></thead><tbody>{rows}</tbody></table></div>")


def _territory_names(territories: pd.DataFrame) -> pd.Series:
    """``T04 Tarrant``: a territory's id and its base, as readers know their reps."""
    return territories["territory_id"].astype(str) + " " + territories["base_name"].astype(str)


def _footer() -> str:
    try:
        version = metadata.version("territory-optimizer")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return ('<footer><p>Territories of a what-if are matched to the base\'s by the largest workload they share; '
            "a unit moved if its territory (or part of it, for a shared unit) is not the match of its base "
            "territory. Workload moved uses the base scenario's workload index. Maps are simplified to about "
            f"1 km. Made by territory-optimizer {escape_text(version)}; opens without internet.</p></footer>")


REPORT_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;margin:0 auto;
max-width:1320px;padding:0 24px 40px;line-height:1.4;background:#fff}
header{border-bottom:3px solid #1b4f72;margin-bottom:8px}h1{font-size:26px;margin:18px 0 2px;color:#1b4f72}
.sub{margin:0 0 10px;color:#555}h2{font-size:19px;margin:26px 0 8px;color:#1b4f72}h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse}#comparison{width:100%;font-size:14px}
#comparison th,#comparison td{padding:7px 8px;border-bottom:1px solid #ddd;text-align:right}
#comparison td{white-space:nowrap}
#comparison thead th{background:#1b4f72;color:#fff;font-weight:600;position:sticky;top:0}
#comparison th[scope=row]{min-width:170px}
#comparison th[scope=row],#comparison td.text,#comparison td.status,#comparison thead th:nth-child(-n+2),
#comparison thead th:last-child{text-align:left}
#comparison td.text{white-space:normal;font-size:13px;color:#444;min-width:160px;max-width:260px}
#comparison tbody tr:nth-child(even){background:#f6f8fa}td.best{background:#d9f2e1;font-weight:700;color:#145a32}
td.na{color:#999}tr.failed td{color:#a93226;text-align:left}.tag{font-size:11px;background:#1b4f72;color:#fff;
border-radius:3px;padding:1px 5px;margin-left:4px;vertical-align:middle}
.note{font-size:12.5px;color:#555;max-width:1100px}.best-key{background:#d9f2e1;color:#145a32;padding:0 4px;font-weight:700}
.charts{display:flex;flex-wrap:wrap;gap:14px 26px;align-items:flex-start}.chart{background:#fff}
.scenario{border-top:1px solid #ccc;margin-top:24px}.facts{margin:0 0 8px;color:#333}
.broken{color:#a93226;font-size:13px}
.maps{display:grid;grid-template-columns:minmax(0,1fr) 290px;gap:12px}
.maps.two{grid-template-columns:minmax(0,1fr) minmax(0,1fr) 290px}
figure{margin:0}.map{height:430px;border:1px solid #bbb;background:#f4f7fb}
figcaption{font-size:12px;color:#555;margin-top:3px}.side{font-size:12.5px}
.legend{max-height:430px;overflow-y:auto;border:1px solid #ddd;padding:4px 6px}
.legend table,.flows table{width:100%;table-layout:fixed}.legend td,.legend th,.flows td,.flows th{padding:2px 5px;
text-align:left;overflow-wrap:break-word;vertical-align:top}.legend th:first-child{width:18px}
.legend th:nth-child(2){width:70px}.legend th:last-child{width:58px}
.flows th:nth-child(2){width:42px}.flows th:last-child{width:72px}.num{text-align:right!important}
.swatch{display:inline-block;width:13px;height:13px;border:1px solid #888;vertical-align:middle}
.flows{margin-top:8px}
footer{margin-top:30px;border-top:1px solid #ccc;font-size:12px;color:#666}
.leaflet-tooltip{font-size:12px}
@media print{.map{break-inside:avoid}}
"""

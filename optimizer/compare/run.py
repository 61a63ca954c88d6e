"""Comparing a base scenario with what-ifs: run or reuse each entry, then write comparison.csv and report.html.

An entry is a scenario file (solved) or ``SCENARIO.yaml:PLAN.csv`` (a hand-edited plan of that scenario,
scored by :mod:`optimizer.alignment.evaluate`). Each entry's run folder lives in ``runs_dir`` under the scenario's
slug (``<slug>--<plan name>`` for a plan), the same names ``territory run`` and ``territory evaluate`` use
by default, and is **reused** only if it is complete, was made from the same scenario, data and plan
(hashes in its summary.json), has the bases the scenario resolves to now (so a change to base selection
is not hidden by an old run) and still passes the independent checks; otherwise it is made again.

A what-if that cannot be solved (infeasible, no plan in time) becomes a row with its status and reason;
the base must succeed. Every entry must have the base's units.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.alignment.checks.plan import check_plan
from optimizer.compare.members import PLANNED, Entry, Member
from optimizer.compare.metrics import Change, binding_limits, change_from_base, share_matrix, spread
from optimizer.core.errors import InfeasibleError, InputError, NoPlanError
from optimizer.outputs.folders import write_table
from optimizer.alignment.data import Prepared
from optimizer.alignment.prepare import prepare
from optimizer.alignment.pipeline import plan_rules
from optimizer.core.run import PhaseTimer, Progress
from optimizer.outputs.folders import file_hash
from optimizer.alignment.schema import Scenario
from optimizer.core.scenario import load_scenario
from optimizer.core.safe_csv import read_table

RUN_FILES = ("summary.json", "assignments.csv", "territories.csv", "map.html")


def parse_entry(text: str) -> Entry:
    """``scenario.yaml`` or ``scenario.yaml:plan.csv`` (split at the last ``:`` followed by a .csv name)."""
    found = re.fullmatch(r"(.+\.ya?ml):(.+\.csv)", text.strip(), flags=re.I)
    if found:
        return Entry(Path(found.group(1)), Path(found.group(2)))
    if text.lower().endswith(".csv"):
        raise InputError(text, "a plan file needs its scenario", f"write SCENARIO.yaml:{text}")
    return Entry(Path(text))


def plan_folder_name(slug: str, plan: Path) -> str:
    """Run folder name of a plan scored under scenario ``slug``: ``<slug>--<plan file stem>``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", plan.stem).strip("-.") or "plan"
    return f"{slug}--{stem}"


def obtain(entry: Entry, runs_dir: Path, fresh: bool, progress: Progress) -> Member:
    """Reuse the entry's run folder when valid, else solve or score it (see module docstring)."""
    scenario = load_scenario(entry.scenario)
    if getattr(scenario, "kind", "alignment") != "alignment":
        raise InputError(str(entry.scenario), f"compare handles alignment scenarios, not `{scenario.kind}`",
                         "compare alignment scenarios only")
    ready = prepare(scenario, PhaseTimer(), lambda _: None, strict=False)
    name = plan_folder_name(scenario.slug, entry.plan) if entry.plan else scenario.slug
    folder = runs_dir / name
    why = "--fresh" if fresh else _not_reusable(folder, scenario, ready, entry.plan)
    if why is None:
        progress(f"{scenario.name}: reusing {folder}")
        return _member(entry, scenario, ready, folder, reused=True)
    made = f"{'scored' if entry.plan else 'solved'}: {why}"
    progress(f"{scenario.name}: {made}")
    try:
        _make(entry, scenario, folder, progress)
    except (InfeasibleError, NoPlanError) as exc:
        status = "infeasible" if isinstance(exc, InfeasibleError) else "no_plan"
        return Member(entry, scenario, ready, folder, {"status": status}, failure=exc.line(), made_because=made)
    member = _member(entry, scenario, ready, folder, reused=False)
    member.made_because = made
    return member


def _make(entry: Entry, scenario: Scenario, folder: Path, progress: Progress) -> None:
    if entry.plan:
        from optimizer.alignment.evaluate import evaluate_plan

        evaluate_plan(scenario, entry.plan, folder, progress=progress)
        return
    from optimizer.core.kinds import kind_of, resolve

    resolve(kind_of(scenario).runner)(scenario, folder, progress=progress)


def _not_reusable(folder: Path, scenario: Scenario, ready: Prepared, plan: Path | None) -> str | None:
    """Why ``folder`` cannot stand for this entry, or ``None`` if it can."""
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    if missing:
        return f"no finished run in {folder}" if len(missing) == len(RUN_FILES) else f"{folder} lacks {missing[0]}"
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return f"{folder}/summary.json is unreadable"
    if not _looks_like_a_summary(summary):
        return f"{folder}/summary.json is not a run summary (edited by hand?)"
    expected = {"scenario_hash": scenario.digest(), "data_hash": file_hash(ready.units.source),
                "status": "evaluated" if plan else summary.get("status")}
    if plan is not None:
        expected["plan_hash"] = file_hash(plan)
    changed = [key for key, value in expected.items() if summary.get(key) != value]
    if changed or summary.get("status") not in PLANNED:
        return f"{', '.join(changed) or 'status'} changed since {folder} was written"
    try:
        return _tables_differ(folder, scenario, ready, summary, plan)
    except (KeyError, ValueError, OSError):  # a table edited or damaged by hand: make the run again
        return f"the tables in {folder} are unreadable"


def _tables_differ(folder: Path, scenario: Scenario, ready: Prepared, summary: dict, plan: Path | None) -> str | None:
    """Why the run's tables cannot stand for the scenario today (other bases, failing checks), or ``None``."""
    if not _same_bases(folder, ready):
        return f"the bases in {folder} are not the ones the scenario gives now (has the code changed?)"
    objective = summary["objective"] if plan is None else None
    report = check_plan(folder, ready.units.frame, plan_rules(scenario, ready), objective)
    if report.failures != (summary.get("broken_rules") or []):
        return f"{folder} no longer passes the checks it passed"
    return None


def _looks_like_a_summary(summary: object) -> bool:
    """A summary.json as a run writes it: a mapping with a status and a numeric objective."""
    if not isinstance(summary, dict) or not isinstance(summary.get("status"), str):
        return False
    objective = summary.get("objective")
    return isinstance(objective, (int, float)) and not isinstance(objective, bool) and np.isfinite(objective)


def _same_bases(folder: Path, ready: Prepared) -> bool:
    """Whether the run's territories and base locations are those the scenario resolves to today."""
    written = read_table(folder / "territories.csv", dtype={"territory_id": str})
    now = ready.bases.frame
    if written["territory_id"].tolist() != now["territory_id"].astype(str).tolist():
        return False
    where = ["base_lat", "base_lon"]
    return bool(np.allclose(written[where].to_numpy(float), now[where].to_numpy(float), atol=1e-6))


def _member(entry: Entry, scenario: Scenario, ready: Prepared, folder: Path, reused: bool) -> Member:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    ids = {"unit_id": str, "territory_id": str, "base_unit_id": str}
    assignments = read_table(folder / "assignments.csv", dtype=ids)
    territories = read_table(folder / "territories.csv", dtype=ids, keep_default_na=False,
                              na_values={"workload": [""]})
    return Member(entry, scenario, ready, folder, summary, assignments, territories, reused=reused)


@dataclass
class Comparison:
    """The written comparison: its rows, the members and where the files are."""

    rows: pd.DataFrame
    members: list[Member]
    folder: Path

    def lines(self) -> list[str]:
        """What ``territory compare`` prints: one line per scenario, then the files."""
        out = []
        for row in self.rows.itertuples(index=False):
            if row.status not in PLANNED:
                out.append(f"{row.scenario}: {row.status} ({row.note})")
                continue
            out.append(f"{row.scenario}: {row.status}, max deviation {row.max_deviation_pct:.1f} %, "
                       f"travel {row.weighted_travel_km:.1f} km, {int(row.units_moved)} units moved "
                       f"({row.workload_moved_pct:.1f} % of workload){' [reused]' if row.reused else ''}")
        return out + [f"written     {self.folder}/ (comparison.csv, report.html)"]


def compare_entries(entries: list[Entry], out: Path, *, runs_dir: Path | None = None, fresh: bool = False,
                    progress: Progress = lambda _: None) -> Comparison:
    """Run or reuse every entry (base first) and write ``comparison.csv`` and ``report.html`` to ``out``."""
    if len(entries) < 2:
        raise InputError("compare", "name the base and at least one what-if", "territory compare BASE WHATIF...")
    runs_dir = runs_dir or out / "runs"
    members = [obtain(entry, runs_dir, fresh, progress) for entry in entries]
    _refuse_clashes(members)
    if members[0].assignments is None:
        raise InputError(members[0].entry.text, f"the base has no plan: {members[0].failure}",
                         "fix the base scenario first")
    changes = changes_from_base(members)
    rows = comparison_rows(members, changes)
    from optimizer.compare.page import render_report

    page = render_report(members, rows, changes)
    _write_files(out, rows, page)
    return Comparison(rows=rows, members=members, folder=out)


def _write_files(out: Path, rows: pd.DataFrame, page: str) -> None:
    """Write both files beside their final names, then rename them (``out`` may also hold the runs)."""
    out.mkdir(parents=True, exist_ok=True)
    partial = {name: out / f".{name}.partial-{os.getpid()}" for name in ("comparison.csv", "report.html")}
    try:
        write_table(rows, partial["comparison.csv"])
        partial["report.html"].write_text(page, encoding="utf-8")
    except BaseException:
        for path in partial.values():
            path.unlink(missing_ok=True)
        raise
    for name, path in partial.items():
        os.replace(path, out / name)


def _refuse_clashes(members: list[Member]) -> None:
    seen: dict[Path, str] = {}
    base_units = set(members[0].ready.units.ids)
    for member in members:
        if member.folder in seen:
            raise InputError(member.entry.text, f"is the same run as {seen[member.folder]}", "list each entry once")
        seen[member.folder] = member.entry.text
        if set(member.ready.units.ids) != base_units:
            raise InputError(member.entry.text, f"has {len(member.ready.units)} units, the base "
                             f"{len(base_units)}", "compare scenarios over the same units")


def changes_from_base(members: list[Member]) -> list[Change | None]:
    """What moved from the base in each member (``None`` for a member without a plan)."""
    base = members[0]
    unit_ids = base.ready.units.ids
    base_shares = share_matrix(base.assignments, unit_ids, base.territories["territory_id"].to_numpy())
    changes = []
    for member in members:
        if member.assignments is None:
            changes.append(None)
            continue
        shares = share_matrix(member.assignments, unit_ids, member.territories["territory_id"].to_numpy())
        changes.append(change_from_base(base_shares, shares, base.ready.units.workload))
    return changes


def comparison_rows(members: list[Member], changes: list[Change | None]) -> pd.DataFrame:
    """One row per member (see README "Comparing what-ifs" for the columns)."""
    workload = members[0].ready.units.workload
    rows = []
    for member, change in zip(members, changes):
        row = {"scenario": member.label, "entry": member.entry.text, "kind": member.scenario.kind,
               "status": member.summary["status"], "units": len(member.ready.units),
               "territories": member.scenario.territories.size}
        if change is not None:
            row |= spread(member.territories)
            row |= {"objective": member.summary["objective"],
                    "units_moved": int((change.moved > 0).sum()),
                    "workload_moved_pct": float(100 * (change.moved * workload).sum() / workload.sum()),
                    "gap": member.summary.get("gap"), "location_gap": member.summary.get("location_gap"),
                    "seconds": member.summary["seconds"]["total"],
                    "binding": binding_limits(member.summary, member.territories,
                                              member.scenario.solver.time_limit),
                    "broken_rules": len(member.summary.get("broken_rules") or [])}
        rows.append(row | {"reused": member.reused, "folder": str(member.folder),
                           "note": member.failure or member.made_because})
    return pd.DataFrame(rows, columns=COLUMNS)


COLUMNS = ["scenario", "entry", "kind", "status", "units", "territories", "max_deviation_pct", "workload_cv",
           "weighted_travel_km", "objective", "units_moved", "workload_moved_pct", "gap", "location_gap", "seconds", "binding",
           "broken_rules", "reused", "folder", "note"]

"""Plain-text summaries of sizing runs, in the shape of :func:`optimizer.outputs.report.summary_lines`.

``optimizer.outputs.report.print_summary`` reads alignment keys (band, shared units); until it dispatches on
``summary["kind"]``, ``territory run`` writes a sizing run folder completely and then cannot print
it. These functions are what it should call for ``kind: sizing`` and ``kind: sizing_joint``.
"""

from __future__ import annotations

from pathlib import Path


def _gap(summary: dict) -> str:
    gap = summary["gap"]
    if gap is None:
        return "bound       none"
    lin = summary["linearisation"]
    return (f"bound       {summary['bound']:,.0f}   gap {gap:.3%} (target {summary['target_gap']:.2%}; MIP gap "
            f"{(summary['mip_gap'] or 0):.3%}, linearisation error bound {lin['error_bound']:,.0f})")


def sizing_lines(summary: dict, folder: Path) -> list[str]:
    """Status, recommended headcount, near-best range, profit with bound and gap, phases, files."""
    low, high = summary["near_best"]["range"]
    lines = [
        f"scenario    {summary['scenario']}",
        (f"status      {summary['status']}  ({len(summary['segments'])} segments, headcount "
        f"{summary['headcount_range']['first_feasible']}-{summary['headcount_range']['max']})"),
        (f"headcount   {summary['recommended_headcount']} recommended; {low}-{high} within "
        f"{summary['near_best']['share']:.0%} of the best profit"),
        f"profit      {summary['objective']:,.0f} {summary['currency']} per year (true curves)",
        _gap(summary),
        "seconds     " + ", ".join(f"{k} {v:.2f}" for k, v in summary["seconds"].items()),
        f"checks      {len(summary['checks_passed'])} passed",
        f"written     {folder}/ (summary.json, sizing.csv, segments.csv, sizing.html)",
    ]
    return lines + [f"note        {note}" for note in summary["notes"]]


def joint_lines(summary: dict, folder: Path) -> list[str]:
    """Status, headcount and bases, profit with bound and gap, phases, files."""
    lines = [
        f"scenario    {summary['scenario']}",
        f"status      {summary['status']}  ({summary['units']} units, {summary['candidate_bases']} candidate bases)",
        f"plan        {summary['headcount']} reps at {summary['bases_open']} bases ({summary['plan_source']})",
        f"profit      {summary['objective']:,.0f} {summary['currency']} per year (true curves)",
        _gap(summary),
        "seconds     " + ", ".join(f"{k} {v:.2f}" for k, v in summary["seconds"].items()),
        f"checks      {len(summary['checks_passed'])} passed",
        f"written     {folder}/ (summary.json, assignments.csv, territories.csv, sizing.csv, map.html)",
    ]
    return lines + [f"note        {note}" for note in summary["notes"]]


def summary_lines(summary: dict, folder: Path) -> list[str]:
    """The lines of either sizing kind."""
    return joint_lines(summary, folder) if summary.get("kind") == "sizing_joint" else sizing_lines(summary, folder)

"""Printing a run's summary on the terminal (rich) or as plain text when piped."""

from __future__ import annotations

from pathlib import Path


def generic_lines(summary: dict, folder: Path) -> list[str]:
    """Lines any kind's summary supports: name, status, objective, bound, gap, phase times, folder."""
    gap = summary.get("gap")
    lines = [f"scenario    {summary.get('scenario', '?')}", f"status      {summary.get('status', '?')}"]
    if summary.get("objective") is not None:
        lines.append(f"objective   {summary['objective']:.6g} {summary.get('objective_unit', '')}".rstrip())
    if summary.get("bound") is not None and gap is not None:
        lines.append(f"bound       {summary['bound']:.6g}   gap {gap:.3%}")
    if isinstance(summary.get("seconds"), dict):
        lines.append("seconds     " + ", ".join(f"{k} {v:.2f}" for k, v in summary["seconds"].items()))
    return lines + [f"written     {folder}/"]


def summary_lines(summary: dict, folder: Path) -> list[str]:
    """The plain-text summary: status, objective, bound, gap, band, shared units, phase times, files."""
    if "band" not in summary or "shared_units" not in summary:
        return generic_lines(summary, folder)
    gap = summary["gap"]
    band = summary["band"]
    secs = summary["seconds"]
    lines = [
        f"scenario    {summary['scenario']}",
        f"status      {summary['status']}  ({summary['units']} units, {summary['territories']} territories)",
        f"objective   {summary['objective']:.3f} {summary['objective_unit']}",
        f"bound       {summary['bound']:.3f}   gap {gap:.3%} (target {summary['target_gap']:.2%}): {THESE_BASES}"
        if gap is not None else "bound       none",
        location_line(summary),
        f"balance     max deviation {band['max_abs_deviation_pct']:.2f}% (tolerance ±{band['tolerance']:.0%}); "
        f"outside band: {', '.join(band['territories_outside_band']) or 'none'}",
        f"shared      {', '.join(summary['shared_units']) or 'none'}",
        f"bases       {summary['bases']}",
        "seconds     " + ", ".join(f"{k} {v:.2f}" for k, v in secs.items()),
        f"checks      {len(summary['checks_passed'])} passed: {', '.join(summary['checks_passed'])}",
        f"written     {folder}/ (summary.json, assignments.csv, territories.csv, map.html)",
    ]
    if "moves" in summary:
        moves = summary["moves"]
        moved = ", ".join(f"{k.removesuffix('_moved_share')} {v:.1%}" for k, v in moves.items() if k.endswith("_share"))
        lines.insert(-1, f"moves       {moves['units_moved']} units changed territory ({moved} of the total); "
                         "see moves.csv")
    lines += [f"note        {note}" for note in summary["notes"]]
    return lines


THESE_BASES = "best plan with these bases"
ANY_BASES = "best plan with any bases"


def location_line(summary: dict) -> str:
    """The bound over every choice of bases, worded apart from the bound for the bases the plan uses."""
    value, gap = summary.get("location_bound"), summary.get("location_gap")
    if value is None or gap is None:
        return "location    none: the bases are given, so only the gap for these bases is proven"
    return f"location    {value:.3f}   gap {gap:.3%}: {ANY_BASES} ({summary.get('location_bound_scope', '')})"


def print_summary(summary: dict, folder: Path, rich: bool, lines_for=None) -> None:
    """Print the summary; with ``rich`` as a table, else as plain lines (safe for pipes).

    ``lines_for(summary, folder)`` gives a kind's own lines; the alignment lines are the default.
    """
    lines = (lines_for or summary_lines)(summary, folder)
    if not rich:
        print("\n".join(lines))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for line in lines:
        key, _, value = line.partition(" ")
        table.add_row(Text(key), Text(value.strip()))  # Text(): user strings are never read as markup
    Console(highlight=False).print(table)

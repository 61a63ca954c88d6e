"""One-way flow of a sizing run: scenario -> segments (from unit data, curves fitted) -> checks before the
solve -> envelopes -> one compiled model -> the curve over every headcount -> tables -> independent
checks -> sizing.csv, segments.csv, sizing.html, summary.json (written atomically)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.sizing import SizingData
from models.sizing_envelope import envelope
from optimizer.core.errors import NoPlanError
from optimizer.outputs.folders import staging_folder, write_json, write_table
from optimizer.core.run import PhaseTimer, Progress, RunOutcome
from optimizer.sizing.checks import SizingRules, check_sizing
from optimizer.sizing.curve import compile_sizing, solve_at, solve_curve
from optimizer.sizing.precheck import first_feasible_headcount, headcount_bounds
from optimizer.sizing.schema import SizingScenario
from optimizer.sizing.data import SegmentTable, build_segments, load_segment_units
from optimizer.sizing.summary import seconds_of, sizing_summary
from optimizer.sizing.tables import curve_table, recommend, segment_table
from optimizer.solver.highs import SolverOptions


@dataclass(frozen=True)
class PreparedSizing:
    """Everything known before the first solve."""

    segments: SegmentTable
    data: SizingData
    first: int
    notes: tuple[str, ...]


def prepare_sizing(scenario: SizingScenario, timer: PhaseTimer, progress: Progress) -> PreparedSizing:
    """Build the segments, refuse an unreachable headcount range and linearise the curves."""
    low, high = headcount_bounds(scenario.reps)
    progress("loading segments")
    with timer.phase("load"):
        units = load_segment_units(scenario)
        segments = build_segments(scenario, units, high)
    min_hours = sum(s.lo * s.hours for s in segments.segments)
    first, notes = first_feasible_headcount(min_hours, scenario.reps, low, high, "the segments' minimum effort")
    progress("linearising the response curves")
    with timer.phase("linearise"):
        envelopes = tuple(linearise(s.curve, s.lo, s.hi, scenario.linearisation) for s in segments.segments)
    seg = segments.segments
    data = SizingData(margin=np.array([s.margin for s in seg]), hours=np.array([s.hours for s in seg]),
                      effort_lo=np.array([s.lo for s in seg]), effort_hi=np.array([s.hi for s in seg]),
                      envelopes=envelopes, rep_hours=scenario.reps.hours, rep_cost=scenario.reps.cost,
                      headcount_lo=first, headcount_hi=high, budget=scenario.reps.budget)
    return PreparedSizing(segments=segments, data=data, first=first, notes=(*segments.notes, *notes))


def linearise(curve, lo: float, hi: float, spec):
    """The curve's envelope within ``spec.tolerance`` of its sales at maximum effort."""
    scale = max(abs(float(curve.value(hi))), 1e-9)
    return envelope(curve, lo, hi, spec.tolerance * scale, spec.max_cuts)


def validate_lines(scenario: SizingScenario) -> list[str]:
    """What ``territory validate`` prints for a sizing scenario (raises on any problem)."""
    ready = prepare_sizing(scenario, PhaseTimer(), lambda _: None)
    binaries = sum(len(e.pieces) for e in ready.data.envelopes if e.needs_binaries)
    lines = [(f"ok: {scenario.name}: {len(ready.segments.segments)} segments, headcount {ready.first}-"
             f"{ready.data.headcount_hi}, {sum(e.cuts for e in ready.data.envelopes)} envelope cuts, "
             f"{binaries} binaries per solve, linearisation error bound {ready.data.error_bound:,.0f} "
             f"{scenario.currency}")]
    return lines + [f"note: {note}" for note in ready.notes]


def run_sizing(scenario: SizingScenario, out: Path, *, keep_log: bool = False,
               progress: Progress = lambda _: None) -> RunOutcome:
    """Solve the sizing curve of ``scenario`` and write its run folder ``out`` atomically."""
    started, timer = time.perf_counter(), PhaseTimer()
    ready = prepare_sizing(scenario, timer, progress)
    data = ready.data
    with timer.phase("build"):
        sizing = compile_sizing(data)
    solver = scenario.solver
    options = SolverOptions(solver.time_limit, solver.target_gap, solver.threads, solver.seed)
    progress(f"solving headcounts {ready.first}-{data.headcount_hi}")
    with timer.phase("solve"):
        deadline = time.perf_counter() + solver.time_limit
        points, complete = solve_curve(sizing, range(ready.first, data.headcount_hi + 1), options)
        before = solve_at(sizing, ready.first - 1, _left(options, deadline)) if ready.first > 0 else None
        free = solve_at(sizing, None, _left(options, deadline))
    table = curve_table(points, ready.segments, data, before)
    if table.empty:
        raise NoPlanError("solver", "no headcount was solved within the time limit", "raise solver.time_limit")
    rec = recommend(table, scenario.recommend.near_best)
    segments = segment_table(table, ready.segments, data, rec.headcount)
    rules = _rules(scenario, ready)
    with staging_folder(out) as folder:
        with timer.phase("write"):
            write_table(table, folder / "sizing.csv")
            write_table(segments, folder / "segments.csv")
        progress("checking the curve")
        with timer.phase("check"):
            report = check_sizing(folder, rules, rec.headcount, rec.near_range)
            report.raise_if_failed()
        with timer.phase("write"):
            summary = sizing_summary(scenario, ready, table, rec, points, complete, free, report.passed, timer,
                                     started)
            from optimizer.sizing.page import write_sizing_page

            write_sizing_page(folder / "sizing.html", summary, table, segments, rec,
                              [s.name for s in ready.segments.segments])
        summary["seconds"] = seconds_of(timer, started)  # now that the page is written
        write_json(summary, folder / "summary.json")
    return RunOutcome(folder=out, summary=summary)


def _left(options: SolverOptions, deadline: float) -> SolverOptions:
    return SolverOptions(max(deadline - time.perf_counter(), 0.5), options.target_gap, options.threads, options.seed)


def _rules(scenario: SizingScenario, ready: PreparedSizing) -> SizingRules:
    return SizingRules(segments=ready.segments.segments, rep_hours=scenario.reps.hours, rep_cost=scenario.reps.cost,
                       budget=scenario.reps.budget, headcount_lo=ready.first, headcount_hi=ready.data.headcount_hi,
                       error_bound=ready.data.error_bound, near_best=scenario.recommend.near_best)

"""summary.json of a sizing run: status, true profit, bound and gap always, the linearisation error bound
beside the MIP gap, the recommendation, seconds per phase, versions, threads and seed."""

from __future__ import annotations

import math
import time
from importlib import metadata
from pathlib import Path

import pandas as pd

from models.response import describe
from optimizer.outputs.folders import file_hash as _file_hash, versions
from optimizer.sizing.curve import CurvePoint, relative
from optimizer.sizing.recommendation import Recommendation
from optimizer.solver.highs import SolveStatus

WARM_START_NOTE = ("a warm-started result whose objective is not that of its returned plan is rejected and "
                   "solved cold (HiGHS 1.16 presolve; see optimizer/sizing/curve.py)")
PHASES = ("load", "linearise", "build", "solve", "check", "write")


def finite(value: float | None) -> float | None:
    """JSON-safe number: None for NaN or infinity."""
    return None if value is None or not math.isfinite(value) else float(value)


def file_hash(path: Path | None) -> str | None:
    """First 16 hex digits of the file's sha256 (None without a file)."""
    return None if path is None else _file_hash(path)


def all_versions() -> dict[str, str]:
    """The run's package versions, with scipy and matplotlib (used for fitting and the charts)."""
    found = versions()
    for name in ("scipy", "matplotlib"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def seconds_of(timer, started: float) -> dict[str, float]:
    seconds = {name: round(timer.seconds.get(name, 0.0), 3) for name in PHASES}
    seconds["total"] = round(time.perf_counter() - started, 3)
    return seconds


def overall_bound(table: pd.DataFrame, points: list[CurvePoint], complete: bool, free: CurvePoint | None) -> float:
    """The least valid upper bound on the best true profit over the whole headcount range."""
    candidates = []
    if complete and all(p.status.has_plan for p in points):
        candidates.append(float(table["upper_bound"].max()))
    if free is not None and math.isfinite(free.upper) and free.status is not SolveStatus.ERROR:
        candidates.append(free.upper)
    return min(candidates) if candidates else math.nan


def sizing_summary(scenario, ready, table, rec: Recommendation, points, complete: bool, free: CurvePoint | None,
                   checks: list[str], timer, started: float) -> dict:
    """Everything a reader needs to trust, repeat and compare the run."""
    row = table.set_index("headcount").loc[rec.headcount]
    bound = overall_bound(table, points, complete, free)
    gap = relative(bound, rec.profit)
    model_profit = float(row["model_minus_true"] + row["profit"])
    error = ready.data.error_bound
    status = "optimal" if complete and all(p.status is SolveStatus.OPTIMAL for p in points) and \
        gap <= scenario.solver.target_gap + 1e-12 else "feasible"
    envelopes = ready.data.envelopes
    return {
        "scenario": scenario.name, "kind": "sizing", "description": scenario.description,
        "scenario_hash": scenario.digest(),
        "data_hash": file_hash(ready.segments.units.source if ready.segments.units else None),
        "status": status, "objective": rec.profit,
        "objective_unit": f"{scenario.currency} per year: margin x sales - rep cost, true curves at the chosen efforts",
        "bound": finite(bound), "gap": finite(gap), "target_gap": scenario.solver.target_gap,
        "mip_gap": finite(relative(float(row["upper_bound"]), model_profit)),
        "linearisation": {"tolerance": scenario.linearisation.tolerance, "error_bound": error,
                          "error_bound_share": finite(error / abs(rec.profit)) if rec.profit else None,
                          "model_minus_true": float(row["model_minus_true"]),
                          "cuts": sum(e.cuts for e in envelopes),
                          "binaries": sum(len(e.pieces) for e in envelopes if e.needs_binaries)},
        "recommended_headcount": rec.headcount,
        "near_best": {"share": rec.share, "range": list(rec.near_range), "headcounts": list(rec.near_best)},
        "headcount_range": {"min": scenario.reps.headcount.min, "max": ready.data.headcount_hi,
                            "first_feasible": ready.first, "solved": len(table), "complete": complete},
        "free_headcount_solve": _free(free),
        "currency": scenario.currency, "effort_unit": scenario.effort_unit,
        "segments": [_segment(s, e) for s, e in zip(ready.segments.segments, envelopes)],
        "notes": list(ready.notes) + ([] if complete else [_stopped(table)]),
        "checks_passed": checks, "seconds": seconds_of(timer, started),
        "solver": {"name": "HiGHS", "time_limit": scenario.solver.time_limit, "target_gap": scenario.solver.target_gap,
                   "threads": scenario.solver.threads, "seed": scenario.solver.seed,
                   "solves": len(points) + 2, "mip_per_headcount": any(e.needs_binaries for e in envelopes),
                   "warm_starts": {w: sum(p.warm_start == w for p in points) for w in ("used", "rejected")},
                   "warm_start_note": WARM_START_NOTE},
        "versions": all_versions(),
    }


def _stopped(table: pd.DataFrame) -> str:
    return f"the time limit stopped the curve at headcount {int(table['headcount'].max())}"


def _free(free: CurvePoint | None) -> dict | None:
    if free is None:
        return None
    return {"status": free.status.value, "headcount": free.headcount if free.status.has_plan else None,
            "model_profit": finite(free.model_profit), "bound": finite(free.upper)}


def _segment(s, env) -> dict:
    return {"id": s.id, "name": s.name, "units": len(s.unit_ids), "accounts": s.accounts, "margin": s.margin,
            "curve": describe(s.curve), "curve_as_written": describe(s.written), "concave": s.concave,
            "effort_min": s.lo, "effort_max": s.hi,
            "hours_per_effort": s.hours, "envelope_cuts": env.cuts, "envelope_pieces": len(env.pieces),
            "envelope_error": env.error, "fit": s.fit.as_dict() if s.fit else None}

"""Writing a sweep's outputs: sweep.csv (one row per scenario), sweep.html (trade-offs) and sweep.json.

Each file is written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.sweep.report import mark_non_dominated, write_tradeoff_html
from optimizer.core.safe_csv import table_text

if TYPE_CHECKING:
    from optimizer.sweep.result import SweepRun

METRICS = ("status", "objective", "bound", "gap", "weighted_distance_km", "max_abs_deviation_pct",
           "territories_outside_band", "shared_units", "units", "territories", "units_moved", "workload_moved_pct",
           "seconds", "task_seconds",
           "threads", "worker", "resumed", "non_dominated", "folder", "overrides", "error")


def write_outputs(run: SweepRun, sweep_path: Path) -> None:
    """Write sweep.csv, sweep.html and sweep.json into ``run.out``."""
    mark_non_dominated(run.rows)
    _atomic(run.out / "sweep.csv", lambda p: table_text(sweep_table(run), p))
    note = f"{len(run.rows)} scenarios from {sweep_path.name}."
    _atomic(run.out / "sweep.html", lambda p: write_tradeoff_html(run.rows, p, f"Sweep {run.spec.name}", note))
    _atomic(run.out / "sweep.json", lambda p: p.write_text(json.dumps(_meta(run, sweep_path), indent=2) + "\n",
                                                           encoding="utf-8"))


def sweep_table(run: SweepRun) -> Any:
    """One row per scenario: name, case, one column per grid key, then :data:`METRICS`."""
    import pandas as pd

    keys = list(run.spec.grid)
    records = []
    for row in run.rows:
        record: dict[str, Any] = {"scenario": row["scenario"], "case": row.get("case", "")}
        record.update({key: _plain(row.get("grid", {}).get(key)) for key in keys})
        record.update({column: row.get(column) for column in METRICS})
        record["overrides"] = json.dumps(row.get("overrides", {}), sort_keys=True)
        record["resumed"] = bool(row.get("resumed", False))
        record["error"] = row.get("error") or ""
        records.append(record)
    return pd.DataFrame.from_records(records, columns=["scenario", "case", *keys, *METRICS])


def _plain(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _meta(run: SweepRun, sweep_path: Path) -> dict[str, Any]:
    from optimizer.outputs.folders import versions

    statuses: dict[str, int] = {}
    for row in run.rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    return {
        "sweep": run.spec.name,
        "sweep_file": str(sweep_path.resolve()),
        "scenarios": len(run.rows),
        "statuses": statuses,
        "interrupted": run.interrupted,
        "retries": run.spec.retries,
        "cluster": run.cluster,
        "solver_threads": "per row (column `threads`): host cores // concurrent solves, unless fixed",
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": {**versions(), "dask": _version("dask"), "distributed": _version("distributed")},
    }


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _atomic(path: Path, write: Any) -> None:
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    write(partial)
    os.replace(partial, path)

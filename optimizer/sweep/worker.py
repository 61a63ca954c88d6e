"""What each Dask worker of a sweep does once, when it starts: import the engine.

A fresh worker process has only ``distributed`` imported; the alignment engine (pyomo, highspy, geopandas,
scipy, folium and the optimizer's modules) takes 1.2-1.5 s to import on this kind of machine. Without this
plugin every worker pays that inside its first scenario, after the sweep has submitted its tasks. With it
the imports run while the worker starts, that is while the sweep process is still reading the sweep file,
resumed rows and its own output modules (the cluster is started in the background, see
:mod:`optimizer.sweep.run`), and ``task_seconds`` in sweep.csv measures the scenario, not the imports.

Only the default (alignment) kind is imported ahead: the other kinds import their own modules in their
first scenario, as before. This module is imported by the sweep process only when it starts a cluster,
never by ``territory --help``.
"""

from __future__ import annotations

import time
from importlib import import_module
from typing import Any

from distributed import WorkerPlugin

# What an alignment scenario (with realignment, rules, limits.csv and its map) imports in a worker.
ENGINE = (
    "optimizer.sweep.task",
    "optimizer.core.kinds",
    "optimizer.alignment.pipeline",
    "optimizer.alignment.solve.rules",
    "optimizer.alignment.limits",
    "optimizer.areas.current_plan",
    "optimizer.areas.adjacency",
    "optimizer.maps.page",
    "optimizer.maps.territories",
)
NAME = "territory-engine-preload"


class EnginePreload(WorkerPlugin):
    """Import :data:`ENGINE` when a worker starts (also a worker that replaces one that died)."""

    idempotent = True  # registering it again on a long-lived worker of a shared scheduler is a no-op
    name = NAME

    def __init__(self) -> None:
        self.seconds: float | None = None

    def setup(self, worker: Any) -> None:
        began = time.perf_counter()
        for module in ENGINE:
            try:
                import_module(module)
            except Exception:  # noqa: BLE001 - a broken import shows up in the scenario that needs it
                pass
        self.seconds = round(time.perf_counter() - began, 3)


def preload_seconds(dask_worker: Any) -> float | None:
    """Seconds the preload took on this worker (run with ``client.run``); None when it did not run."""
    plugin = dask_worker.plugins.get(NAME)
    return getattr(plugin, "seconds", None)

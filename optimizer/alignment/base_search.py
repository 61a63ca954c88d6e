"""Bases good at every headcount: several seeded starts, each improved by relocation scored by the LP.

The balanced medoids of ``optimizer.bases`` depend on their seeded start, and on the shipped Texas data a
different start moved the mean travel of the final plan by up to a third from one headcount to the next
(issue 20). So when the bases are chosen (not listed, no plan of today to keep):

1. up to ``STARTS`` seeded balanced-medoid starts (seeds ``seed, seed + 1, ...``), the first being the
   heuristic's own bases;
2. each start is scored by the alignment LP over all pairs (``optimizer.align.price_full_lp``, within
   0.1-1 % of the plan it leads to) and improved by **relocation rounds**: every base moves to the unit
   that minimises the workload-weighted distance of the LP's shares of its territory (the shares stay
   feasible, so the LP at the new bases is no worse), until no base moves or the rounds run out;
3. the bases of the best LP are kept. Several territories may share a unit (a metro county).

Above ``MAX_PAIRS`` unit-territory pairs (national counties, ZIPs) the heuristic's bases are kept: there the
relocated bases cut travel (national counties x 100: 9,672 -> 7,863) but left the band so hard to meet with
whole counties that the certified pipeline took 100 s instead of 9 s and stopped at 1.3 %; making the
pipeline robust to such bases comes first. How many LPs (``LP_WORK / (units x territories)``) and so how
many starts is fixed by the instance's size, not by the clock, so the same scenario gives
the same bases in ``run``, ``evaluate``, ``compare`` and ``validate``; a share of the time limit is only a
safety net.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from optimizer.alignment.solve.align import price_full_lp
from optimizer.alignment.solve.restricted import AlignmentProblem, Clock
from optimizer.areas.bases import BaseTable, choose_balanced_medoids, table_for_units
from optimizer.core.errors import InfeasibleError, NoPlanError
from optimizer.solver.highs import SolverOptions

STARTS = 4
RELOCATE_ROUNDS = 6
LP_WORK = 300_000  # units x territories x LPs the search may spend (Texas x 20: 59 LPs)
MAX_PAIRS = 100_000  # units x territories above which the heuristic's bases are kept (see below)
TIME_SHARE = 0.5  # of solver.time_limit: a safety net only (the counts above decide, so runs repeat exactly)
MAX_SECONDS = 60.0
SHARE_EPS = 1e-6


@dataclass
class SearchRecord:
    """What the search tried: one entry per LP solved."""

    start: int
    round: int
    lp: float


def search_bases(spec, units, first: BaseTable, problem_for: Callable[[BaseTable], AlignmentProblem],
                 options: SolverOptions) -> tuple[BaseTable, list[SearchRecord]]:
    """The best bases found from ``first`` (the heuristic's) and further seeded starts; see the docstring."""
    if len(units.ids) * spec.size > MAX_PAIRS:
        return first, []
    budget = min(options.time_limit * TIME_SHARE, MAX_SECONDS)
    began = time.perf_counter()
    lps = LP_WORK // max(len(units.ids) * spec.size, 1)
    index = {uid: i for i, uid in enumerate(units.ids)}
    records: list[SearchRecord] = []
    best: tuple[float, np.ndarray] | None = None
    for k in range(int(min(STARTS, max(1, lps // RELOCATE_ROUNDS)))):
        chosen = _unit_order(first, index) if k == 0 else choose_balanced_medoids(
            units.xy, units.workload, spec.size, spec.selection.rounds, spec.selection.seed + k)
        for r in range(RELOCATE_ROUNDS):
            left = budget - (time.perf_counter() - began)
            if (left <= 0 and (k or r)) or len(records) >= lps:
                break
            table = table_for_units(units, chosen, "")
            problem = problem_for(table)
            value, shares = _lp(problem, options, max(left, 1.0))
            if value is None:
                break
            records.append(SearchRecord(k, r, value))
            order = _unit_order(table, index)
            if best is None or value < best[0] - 1e-9:
                best = (value, order)
            moved = _relocate(units, order, shares, problem.load)
            if np.array_equal(np.sort(moved), np.sort(order)):
                break
            chosen = moved
    if best is None:
        return first, records
    method = (f"chosen by balanced medoids from {len({r.start for r in records})} seeded starts (seed "
              f"{spec.selection.seed} on), each improved by relocating bases scored by the LP; best of "
              f"{len(records)} LPs kept (see optimizer/alignment/base_search.py)")
    return table_for_units(units, best[1], method), records


def _lp(problem: AlignmentProblem, options: SolverOptions, seconds: float):
    try:
        lp, _ = price_full_lp(problem, SolverOptions(seconds, options.target_gap, options.threads, options.seed),
                              Clock(seconds))
    except (InfeasibleError, NoPlanError):
        return None, None
    return lp.value, lp.shares


def _unit_order(table: BaseTable, index: dict) -> np.ndarray:
    """The base unit of each territory, in the table's order."""
    return np.array([index[u] for u in table.frame["base_unit_id"]])


def _relocate(units, bases: np.ndarray, shares: np.ndarray, load: np.ndarray) -> np.ndarray:
    """Each territory's base moved to the unit minimising the weighted distance of its LP shares
    (candidates: the units it serves; a unit may host several bases)."""
    moved = bases.copy()
    for t in range(len(bases)):
        members = np.flatnonzero(shares[:, t] > SHARE_EPS)
        if members.size == 0:
            continue
        weight = load[members] * shares[members, t]
        xy = units.xy[members] / 1000.0
        spread = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)) @ weight
        moved[t] = int(members[int(np.argmin(spread))])
    return moved

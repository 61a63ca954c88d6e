"""What each limit costs: the plan's objective against a re-solve with that one limit loosened (``limits.csv``).

Each limit the scenario sets is loosened on its own, in a copy of the scenario: the balance tolerance and
every further band doubled, the move budget doubled and removed, all locks removed (and each lock, when
there are few), each together or apart group removed, contiguity dropped. The copy is solved by the
same pieces as the run (``problem.alignment_problem``, ``rule_set.build_rule_set``, ``problem.solve_plan``) with a
share of the time limit. Loosening a limit keeps the plan feasible, so ``objective_loosened`` is the better
of the re-solve and the plan itself, and ``difference = objective - objective_loosened`` is what the limit
costs (within the gaps of both solves; ``gap_loosened`` is the re-solve's).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pandas as pd

from optimizer.core.errors import InfeasibleError, NoPlanError
from optimizer.alignment.rule_set import build_rule_set
from optimizer.solver.highs import SolverOptions

LOOSEN_FACTOR = 2.0
MAX_TOLERANCE = 0.95
COLUMNS = ("limit", "setting", "loosened_setting", "objective", "objective_loosened", "difference",
           "difference_pct", "gap_loosened", "status_loosened", "kept_plan", "seconds")


@dataclass(frozen=True)
class Loosened:
    """One limit: its key, its setting, how it is loosened, and the scenario with it loosened."""

    limit: str
    setting: str
    loosened: str
    scenario: object  # optimizer.alignment.schema.Scenario


def _update(section, **changes):
    return section.model_copy(update=changes)


def _doubled(tolerance: float) -> float:
    return min(tolerance * LOOSEN_FACTOR, MAX_TOLERANCE)


def loosened_scenarios(scenario, each_lock_up_to: int = 10) -> list[Loosened]:
    """Every limit of ``scenario``, each loosened on its own in a copy of the scenario."""
    def copy(**sections):
        return scenario.model_copy(update=sections)

    balance, rules, spec = scenario.balance, scenario.rules, scenario.realignment
    found = [Loosened("balance.tolerance", f"±{balance.tolerance:.1%}", f"±{_doubled(balance.tolerance):.1%}",
                      copy(balance=_update(balance, tolerance=_doubled(balance.tolerance))))]
    for column, tol in balance.measures.items():
        measures = {**balance.measures, column: _doubled(tol)}
        found.append(Loosened(f"balance.measures.{column}", f"±{tol:.1%}", f"±{_doubled(tol):.1%}",
                              copy(balance=_update(balance, measures=measures))))
    for key in ("max_moved_units", "max_moved_share"):
        value = getattr(spec, key) if spec is not None else None
        if value is None:
            continue
        more = min(value * LOOSEN_FACTOR, 1.0) if key == "max_moved_share" else int(value * LOOSEN_FACTOR)
        found.append(Loosened(f"realignment.{key}", f"{value:g}", f"{more:g}",
                              copy(realignment=_update(spec, **{key: more}))))
        found.append(Loosened(f"realignment.{key}", f"{value:g}", "removed",
                              copy(realignment=_update(spec, **{key: None}))))
    if scenario.contiguity.required:
        found.append(Loosened("contiguity.required", "true", "false",
                              copy(contiguity=_update(scenario.contiguity, required=False))))
    if rules.locks:
        found.append(Loosened("rules.locks", f"{len(rules.locks)} locks", "none", copy(rules=_update(rules, locks=[]))))
    if 1 < len(rules.locks) <= each_lock_up_to:
        for i, lock in enumerate(rules.locks):
            others = [other for j, other in enumerate(rules.locks) if j != i]
            found.append(Loosened(f"rules.locks.{i}", f"{lock.unit} in {lock.territory}", "removed",
                                  copy(rules=_update(rules, locks=others))))
    for key in ("together", "apart"):
        groups = getattr(rules, key)
        for i, group in enumerate(groups):
            others = [other for j, other in enumerate(groups) if j != i]
            found.append(Loosened(f"rules.{key}.{i}", ", ".join(group), "removed",
                                  copy(rules=_update(rules, **{key: others}))))
    return found


def limits_table(scenario, ready, solution, options: SolverOptions) -> tuple[pd.DataFrame, dict]:
    """``limits.csv`` for a solved plan, and the ``limits`` entry of ``summary.json``."""
    from optimizer.alignment.problem import alignment_problem, solve_plan

    report = scenario.report
    share = report.limit_time_share if report is not None else 0.25
    each = SolverOptions(options.time_limit * share, options.target_gap, options.threads, options.seed)
    rows, began = [], time.perf_counter()
    for limit in loosened_scenarios(scenario, report.each_lock_up_to if report is not None else 10):
        started = time.perf_counter()
        problem, _ = alignment_problem(limit.scenario, ready)
        try:
            loose = solve_plan(problem, build_rule_set(limit.scenario, ready, problem), each)
            status, value, gap = loose.status.value, loose.objective, loose.gap
        except (InfeasibleError, NoPlanError) as exc:  # a relaxation stays feasible: only a time limit lands here
            status, value, gap = f"no plan ({exc.line()})", math.inf, math.nan
        best = min(value, solution.objective)
        rows.append({"limit": limit.limit, "setting": limit.setting, "loosened_setting": limit.loosened,
                     "objective": solution.objective, "objective_loosened": best,
                     "difference": solution.objective - best,
                     "difference_pct": 100.0 * (solution.objective - best) / solution.objective
                     if solution.objective else 0.0,
                     "gap_loosened": None if math.isnan(gap) else gap, "status_loosened": status,
                     "kept_plan": value >= solution.objective, "seconds": round(time.perf_counter() - started, 3)})
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    entry = {"rows": len(table), "seconds": round(time.perf_counter() - began, 3),
             "time_limit_each": each.time_limit, "plan_gap": None if math.isnan(solution.gap) else solution.gap,
             "costliest": _costliest(table)}
    return table, entry


def _costliest(table: pd.DataFrame) -> str | None:
    """The limit whose loosening gains the most, if any gains anything."""
    if table.empty or table["difference"].max() <= 0:
        return None
    row = table.loc[table["difference"].idxmax()]
    return f"{row['limit']} ({row['setting']} -> {row['loosened_setting']})"

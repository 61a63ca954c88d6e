"""summary.json of a joint run: status, true profit, bound and gap always, the linearisation error bound
beside the MIP gap, the plan's headcount and bases, stages, seconds per phase, versions, threads, seed."""

from __future__ import annotations

import time

import pandas as pd

from optimizer.sizing.curve import relative
from optimizer.sizing.joint_data import JointInputs
from optimizer.sizing.joint_solve import JointModel, JointSolution
from optimizer.sizing.joint_tables import Plan
from optimizer.sizing.summary import PHASES, all_versions, file_hash, finite


def joint_summary(inputs: JointInputs, jm: JointModel, solution: JointSolution, plan: Plan, table: pd.DataFrame,
                  territories: pd.DataFrame, checks: list[str], timer, started: float) -> dict:
    """Everything a reader needs to trust, repeat and compare the run."""
    scenario, data = inputs.scenario, inputs.data
    row = table[table["basis"].str.startswith("joint plan")].iloc[0]
    profit, bound = float(row["profit"]), solution.upper
    gap = relative(bound, profit)
    status = "optimal" if gap <= scenario.solver.target_gap + 1e-12 else "feasible"
    seconds = {name: round(timer.seconds.get(name, 0.0), 3) for name in PHASES if name != "linearise"}
    seconds["total"] = round(time.perf_counter() - started, 3)
    compiled = jm.compiled
    return {
        "scenario": scenario.name, "kind": "sizing_joint", "description": scenario.description,
        "scenario_hash": scenario.digest(), "data_hash": file_hash(inputs.units.source),
        "status": status, "objective": profit,
        "objective_unit": f"{scenario.currency} per year: margin x sales - rep cost - base cost, true curves",
        "bound": finite(bound), "gap": finite(gap), "target_gap": scenario.solver.target_gap,
        "mip_gap": finite(relative(bound, solution.model_profit)),
        "linearisation": {"tolerance": scenario.linearisation.tolerance, "error_bound": data.error_bound,
                          "error_bound_share": finite(data.error_bound / abs(profit)) if profit else None,
                          "model_minus_true": float(row["model_minus_true"])},
        "plan_source": solution.source,
        "headcount": plan.headcount, "bases_open": len(territories),
        "marginal_profit_last_rep": finite(float(row["marginal_profit"])),
        "marginal_profit_next_rep": _next_marginal(table, plan.headcount),
        "units": len(inputs.items), "candidate_bases": len(inputs.bases),
        "eligible_pairs": len(data.pair_unit),
        "model_size": {"rows": int(compiled.matrix.shape[0]), "columns": int(compiled.matrix.shape[1]),
                       "integer_columns": int(compiled.integer.sum())},
        "bound_scope": (f"the model over every unit-base pair within travel.max_distance_km "
                        f"({scenario.travel.max_distance_km:g} km), a rule of the scenario; the envelopes lie on or "
                        "above the curves, so the bound holds for the true curves"),
        "stages": solution.stages, "currency": scenario.currency, "effort_unit": scenario.effort_unit,
        "notes": list(inputs.notes), "checks_passed": checks, "seconds": seconds,
        "solver": {"name": "HiGHS", "time_limit": scenario.solver.time_limit, "target_gap": scenario.solver.target_gap,
                   "threads": scenario.solver.threads, "seed": scenario.solver.seed},
        "versions": all_versions(),
    }


def _next_marginal(table: pd.DataFrame, headcount: int) -> float | None:
    """The marginal profit of one rep more than the plan (same bases and units), when it was solved."""
    following = table[table["headcount"] == headcount + 1]
    return finite(float(following["marginal_profit"].iloc[0])) if len(following) else None

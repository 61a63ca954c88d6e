"""Independent checks of a written account plan.

They read ``assignments.csv``, ``territories.csv`` and ``moves.csv`` back and verify them against the
input tables and the scenario's rules with their own arithmetic (their own great-circle formula, their
own family grouping, their own lock list), never with the model or the solver's values. A failed check
on a solved plan is an error (:meth:`CheckReport.raise_if_failed`); a hand-edited plan gets the list.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.accounts.schema import AccountsScenario
from optimizer.core.checks import CheckReport
from optimizer.core.safe_csv import read_table

HOURS_TOLERANCE = 1e-6
RELATIVE_TOLERANCE = 1e-5


def read_plan(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The three written tables; ids and rep columns stay text (blank = none)."""
    def read(name: str) -> pd.DataFrame:
        return read_table(folder / name, dtype=str, keep_default_na=False)
    return read("assignments.csv"), read("territories.csv"), read("moves.csv")


def check_plan(folder: Path, accounts: pd.DataFrame, reps: pd.DataFrame, scenario: AccountsScenario,
               reported_objective: float | None) -> CheckReport:
    """Check the plan in ``folder``; ``accounts`` and ``reps`` are the input tables (reps: active only)."""
    plan, territories, moves = read_plan(folder)
    report = CheckReport()
    report.record("known ids", _known_ids(plan, accounts, reps))
    report.record("every account once or uncovered and listed", _coverage(plan, accounts, scenario))
    if not report.ok:
        return report
    rows = accounts.set_index("account_id").loc[plan["account_id"]].reset_index()
    rep_of = plan["rep_id"].to_numpy()
    hours, minutes = _hours(rows, reps, rep_of, scenario, folder)
    report.record("eligibility", _eligibility(rows, reps, rep_of, minutes, scenario))
    report.record("families together", _families(rows, rep_of))
    report.record("locks kept", _locks(rows, reps, rep_of, scenario))
    used = pd.Series(hours).groupby(rep_of).sum().reindex(reps["rep_id"], fill_value=0.0)
    report.record("capacity held", _capacity(used, reps))
    if scenario.balance.tolerance is not None and scenario.balance.soft_penalty is None:
        report.record("utilisation inside the band", _band(used, reps, scenario.balance.tolerance))
    report.record("territory table matches the plan", _territories(territories, used, plan, reps))
    report.record("moves are the difference from the current reps", _moves(moves, rows, rep_of))
    if scenario.continuity.max_moved_share is not None:
        report.record("moves within the budget", _budget(rows, rep_of, scenario))
    if reported_objective is not None:
        cost = _objective(rows, rep_of, hours, minutes, used, reps, scenario)
        if not math.isclose(cost, reported_objective, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-6):
            report.record("objective recomputed", [f"reported {reported_objective:.6f} but the plan's is {cost:.6f}"])
        else:
            report.record("objective recomputed", [])
    return report


def _known_ids(plan, accounts, reps) -> list[str]:
    bad_accounts = sorted(set(plan["account_id"]) - set(accounts["account_id"]))
    bad_reps = sorted(set(plan["rep_id"]) - set(reps["rep_id"]) - {""})
    return [f"unknown account {a}" for a in bad_accounts[:5]] + [f"unknown or excluded rep {r}" for r in bad_reps[:5]]


def _coverage(plan, accounts, scenario) -> list[str]:
    problems = [f"account {a} is listed {n} times" for a, n in plan["account_id"].value_counts().items() if n > 1]
    problems += [f"account {a} is missing" for a in sorted(set(accounts["account_id"]) - set(plan["account_id"]))]
    uncovered = plan.loc[plan["rep_id"] == "", "account_id"]
    if len(uncovered) and not scenario.coverage.allow_uncovered:
        problems.append(f"{len(uncovered)} accounts are uncovered (e.g. {uncovered.iloc[0]}) but coverage is required")
    return problems


def _chord_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance through 3-D unit vectors (not the engine's haversine)."""
    def unit(lat, lon):
        la, lo = np.radians(lat), np.radians(lon)
        return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)
    a, b = unit(lat1, lon1), unit(lat2, lon2)
    return 6371.0088 * np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), (a * b).sum(axis=-1))


def _minutes_to(rows, reps, rep_ids, scenario, folder) -> np.ndarray:
    """One-way minutes from each rep in ``rep_ids`` (blank: none) to its account row."""
    travel = scenario.travel
    base = reps.set_index("rep_id").reindex(rep_ids)
    minutes = _chord_km(rows["lat"].to_numpy(float), rows["lon"].to_numpy(float), base["lat"].to_numpy(float),
                        base["lon"].to_numpy(float)) * travel.road_factor / travel.speed_kmh * 60.0
    if travel.table is not None:
        table = pd.read_csv(scenario.data_path(travel.table), dtype={"from_id": str, "to_id": str})
        given = table.set_index([table["from_id"].str.strip(), table["to_id"].str.strip()])["minutes"]
        keys = pd.MultiIndex.from_arrays([pd.Index(rep_ids), pd.Index(rows["account_id"])])
        looked_up = given.reindex(keys).to_numpy(float)
        minutes = np.where(np.isnan(looked_up), minutes, looked_up)
    return np.where(pd.isna(base["lat"]).to_numpy(), np.nan, minutes)


def _hours(rows, reps, rep_of, scenario, folder) -> tuple[np.ndarray, np.ndarray]:
    minutes = _minutes_to(rows, reps, rep_of, scenario, folder)
    trips = 2.0 if scenario.travel.round_trip else 1.0
    calls = rows["calls_per_year"].to_numpy(float)
    hours = calls * (rows["call_hours"].to_numpy(float) + trips * minutes / 60.0)
    return np.where(rep_of == "", 0.0, hours), minutes


def _eligibility(rows, reps, rep_of, minutes, scenario) -> list[str]:
    segments = reps.set_index("rep_id")["segments"].to_dict()
    limit = scenario.eligibility.max_travel_minutes
    problems = []
    for k, rep in enumerate(rep_of):
        if rep == "":
            continue
        serves = rows["segment"].iloc[k] in segments[rep] or "*" in segments[rep]
        if scenario.eligibility.match_segments and not serves:
            problems.append(f"{rows['account_id'].iloc[k]} ({rows['segment'].iloc[k]}) is with {rep}, who does not serve it")
        elif limit is not None and minutes[k] > limit + 1e-6 and rows["current_rep"].iloc[k] != rep:
            problems.append(f"{rows['account_id'].iloc[k]} is {minutes[k]:.0f} min from {rep} (limit {limit:g})")
    return problems


def _families(rows, rep_of) -> list[str]:
    root = {a: a for a in rows["account_id"]}

    def find(a: str) -> str:
        while root[a] != a:
            root[a] = root[root[a]]
            a = root[a]
        return a
    for account, parent in zip(rows["account_id"], rows["parent_id"]):
        if parent:
            root[find(account)] = find(parent)
    family = pd.Series([find(a) for a in rows["account_id"]])
    reps_per_family = pd.Series(rep_of).groupby(family.to_numpy()).nunique()
    return [f"family {f} is split over {n} reps (or some uncovered)" for f, n in reps_per_family.items() if n > 1]


def _locks(rows, reps, rep_of, scenario) -> list[str]:
    active = rows["current_rep"].isin(set(reps["rep_id"])).to_numpy()
    value = rows["value"].to_numpy(float)
    ranked = sorted(np.flatnonzero(active), key=lambda k: (-value[k], k))[: scenario.continuity.lock_top]
    return [f"locked account {rows['account_id'].iloc[k]} left {rows['current_rep'].iloc[k]}"
            for k in ranked if rep_of[k] != rows["current_rep"].iloc[k]]


def _capacity(used: pd.Series, reps) -> list[str]:
    capacity = reps.set_index("rep_id")["capacity_hours"].astype(float)
    return [f"{r} works {used[r]:,.1f} h of {capacity[r]:,.1f} h" for r in used.index
            if used[r] > capacity[r] * (1 + HOURS_TOLERANCE) + HOURS_TOLERANCE]


def _band(used: pd.Series, reps, tolerance: float) -> list[str]:
    capacity = reps.set_index("rep_id")["capacity_hours"].astype(float).reindex(used.index)
    average = used.sum() / capacity.sum()
    ratio = (used / capacity) / average
    return [f"{r} is at {ratio[r]:.4f}x the average utilisation (band ±{tolerance:.0%})" for r in ratio.index
            if not (1 - tolerance - 1e-6 <= ratio[r] <= 1 + tolerance + 1e-6)]


def _territories(territories, used, plan, reps) -> list[str]:
    if sorted(territories["rep_id"]) != sorted(reps["rep_id"]):
        return ["territories.csv does not list exactly the active reps"]
    table = territories.set_index("rep_id")
    counts = plan["rep_id"].value_counts()
    problems = []
    for rep in reps["rep_id"]:
        hours = float(table.loc[rep, "hours_used"])
        if not math.isclose(hours, used[rep], rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-6):
            problems.append(f"{rep}: hours_used {hours:.6g} in territories.csv but {used[rep]:.6g} from the plan")
        if int(table.loc[rep, "accounts"]) != int(counts.get(rep, 0)):
            problems.append(f"{rep}: {table.loc[rep, 'accounts']} accounts in territories.csv, {counts.get(rep, 0)} in the plan")
    return problems


def _moves(moves, rows, rep_of) -> list[str]:
    current = rows["current_rep"].to_numpy()
    expected = {(a, c, r) for a, c, r in zip(rows["account_id"], current, rep_of) if c and c != r}
    listed = set(zip(moves["account_id"], moves["from_rep"], moves["to_rep"]))
    problems = [f"move {a}: {c} -> {r or 'uncovered'} is not in moves.csv" for a, c, r in sorted(expected - listed)]
    return problems + [f"moves.csv lists {a}: {c} -> {r or 'uncovered'}, which is not a change"
                       for a, c, r in sorted(listed - expected)]


def _moved_mask(rows, rep_of) -> np.ndarray:
    current = rows["current_rep"].to_numpy()
    return (current != "") & (current != rep_of)


def _budget(rows, rep_of, scenario) -> list[str]:
    has = (rows["current_rep"] != "").to_numpy()
    weight = rows["value"].to_numpy(float) if scenario.continuity.budget_measure == "value" else np.ones(len(rows))
    budget = scenario.continuity.max_moved_share * float(weight[has].sum())
    used = float(weight[_moved_mask(rows, rep_of)].sum())
    return [] if used <= budget * (1 + 1e-9) + 1e-9 else [f"moves use {used:,.1f} of a budget of {budget:,.1f}"]


def _objective(rows, rep_of, hours, minutes, used, reps, scenario) -> float:
    covered = rep_of != ""
    trips = 2.0 if scenario.travel.round_trip else 1.0
    calls = rows["calls_per_year"].to_numpy(float)
    travel = float((calls * trips * minutes / 60.0)[covered].sum()) * scenario.objective.travel_cost_per_hour
    value = rows["value"].to_numpy(float)
    moves = scenario.continuity
    disruption = float(((moves.move_cost + moves.move_cost_value_share * value) * _moved_mask(rows, rep_of)).sum())
    lost = 0.0
    if scenario.coverage.allow_uncovered:
        lost = float((scenario.objective.value_weight * value + scenario.coverage.uncovered_penalty)[~covered].sum())
    return travel + disruption + lost + _imbalance(used, reps, scenario)


def _imbalance(used: pd.Series, reps, scenario) -> float:
    if scenario.balance.soft_penalty is None or scenario.balance.tolerance is None:
        return 0.0
    capacity = reps.set_index("rep_id")["capacity_hours"].astype(float).reindex(used.index)
    target = capacity * used.sum() / capacity.sum()
    tol = scenario.balance.tolerance
    outside = np.maximum((1 - tol) * target - used, 0) + np.maximum(used - (1 + tol) * target, 0)
    return scenario.balance.soft_penalty * float(outside.sum())

"""Rules a sales team adopts: contiguity, realignment with a move budget, locks, groups, further bands."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from optimizer.core.errors import InputError
from optimizer.alignment.prepare import prepare
from optimizer.alignment.pipeline import run_scenario
from optimizer.alignment.problem import alignment_problem
from optimizer.core.run import PhaseTimer
from optimizer.core.scenario import load_scenario
from tests.conftest import grid_units, write_scenario

# A 3 x 3 grid whose best balanced plan (bases in opposite corners, +-10 %) is cut in two.
WEIGHTS = [1.0, 8.0, 9.0, 6.0, 2.0, 2.0, 1.0, 4.0, 8.0]
BASES = [{"id": "A", "unit": "U000"}, {"id": "B", "unit": "U008"}]


@pytest.fixture
def strip(tmp_path):
    frame = grid_units(3, 3)
    frame["labor_force"] = WEIGHTS
    path = tmp_path / "grid.gpkg"
    frame.to_file(path, layer="units")
    return path


def rook_graph() -> nx.Graph:
    graph = nx.grid_2d_graph(3, 3)
    return nx.Graph([(a[0] * 3 + a[1], b[0] * 3 + b[1]) for a, b in graph.edges()])


def brute_force(scenario, contiguous: bool) -> tuple[float, np.ndarray]:
    ready = prepare(scenario, PhaseTimer(), lambda _: None)
    problem, _ = alignment_problem(scenario, ready)
    graph, best = rook_graph(), (np.inf, None)
    for owners in itertools.product(range(2), repeat=9):
        owners = np.asarray(owners)
        if owners[0] != 0 or owners[8] != 1:
            continue
        loads = np.bincount(owners, weights=problem.load, minlength=2)
        if np.any(loads < problem.lower - 1e-9) or np.any(loads > problem.upper + 1e-9):
            continue
        if contiguous and not all(nx.is_connected(graph.subgraph(np.flatnonzero(owners == t))) for t in range(2)):
            continue
        cost = problem.cost[np.arange(9), owners].sum()
        if cost < best[0]:
            best = (cost, owners)
    return best


def scenario_on(tmp_path, dataset, **sections):
    base = {"territories": {"bases": BASES}, "objective": {"distance": "projected"}}
    base.update(sections)
    return load_scenario(write_scenario(tmp_path, dataset, **base))


def test_contiguity_cuts_the_best_plan_that_is_in_two_pieces(tmp_path, strip):
    loose = scenario_on(tmp_path, strip)
    free_cost, free_plan = brute_force(loose, contiguous=False)
    pieces = nx.number_connected_components(rook_graph().subgraph(np.flatnonzero(free_plan == 1)))
    assert pieces == 2, "precondition: without contiguity the best plan is cut in two"

    tight = scenario_on(tmp_path, strip, contiguity={"required": True})
    expected, _ = brute_force(tight, contiguous=True)
    outcome = run_scenario(tight, tmp_path / "run")
    assert outcome.summary["objective"] == pytest.approx(expected, rel=1e-6)
    assert expected > free_cost + 1e-6
    assert "territories connected" in outcome.summary["checks_passed"]
    rows = pd.read_csv(outcome.folder / "assignments.csv", dtype=str)
    for _, group in rows.groupby("territory_id"):
        members = [int(u[1:]) for u in group["unit_id"]]
        assert nx.is_connected(rook_graph().subgraph(members))


def test_locks_and_groups_are_kept(tmp_path, grid_dataset):
    rules = {"locks": [{"unit": "U012", "territory": "T03"}], "together": [["U000", "U024"]],
             "apart": [["U001", "U002", "U003"]]}
    scenario = load_scenario(write_scenario(tmp_path, grid_dataset, rules=rules))
    outcome = run_scenario(scenario, tmp_path / "run")
    rows = pd.read_csv(outcome.folder / "assignments.csv", dtype=str).set_index("unit_id")["territory_id"]
    assert rows["U012"] == "T03"
    assert rows["U000"] == rows["U024"]
    assert len({rows["U001"], rows["U002"], rows["U003"]}) == 3
    assert {"locks kept", "groups kept together", "groups kept apart"} <= set(outcome.summary["checks_passed"])


def test_a_further_measure_is_balanced_with_its_own_tolerance(tmp_path, grid_dataset):
    scenario = load_scenario(write_scenario(tmp_path, grid_dataset, balance={"tolerance": 0.1,
                                                                           "measures": {"establishments": 0.15}}))
    outcome = run_scenario(scenario, tmp_path / "run")
    territories = pd.read_csv(outcome.folder / "territories.csv")
    mean = territories["establishments"].mean()
    assert (territories["establishments"] / mean - 1).abs().max() <= 0.15 + 1e-6
    assert "establishments inside its band" in outcome.summary["checks_passed"]


def current_plan(tmp_path, units: int = 25) -> str:
    path = tmp_path / "current.csv"
    pd.DataFrame({"unit_id": [f"U{i:03d}" for i in range(units)],
                  "territory_id": [f"T0{1 + (i % 5) // 2}" for i in range(units)]}).to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("budget", [0.1, 0.3])
def test_realignment_holds_its_move_budget_and_lists_every_move(tmp_path, grid_dataset, budget):
    realign = {"current_plan": current_plan(tmp_path), "max_moved_share": budget}
    scenario = load_scenario(write_scenario(tmp_path, grid_dataset, realignment=realign))
    outcome = run_scenario(scenario, tmp_path / "run")
    moves = pd.read_csv(outcome.folder / "moves.csv", dtype={"unit_id": str})
    assert outcome.summary["moves"]["workload_moved_share"] <= budget + 1e-6
    assert len(moves) == outcome.summary["moves"]["units_moved"]
    assert {"moves.csv is the difference of the plans", "move budget held"} <= set(outcome.summary["checks_passed"])
    page = (outcome.folder / "map.html").read_text()
    if len(moves):
        assert "Moved units" in page and f"moved from {moves['from_territory'].iloc[0]}" in page


def test_a_tighter_move_budget_never_gives_a_better_plan(tmp_path, grid_dataset):
    costs = []
    for budget in (0.4, 0.1):
        realign = {"current_plan": current_plan(tmp_path), "max_moved_share": budget}
        scenario = load_scenario(write_scenario(tmp_path, grid_dataset, realignment=realign,
                                                solver={"target_gap": 0.0, "time_limit": 30}))
        costs.append(run_scenario(scenario, tmp_path / f"run{budget}").summary["objective"])
    assert costs[1] >= costs[0] - 1e-6


def test_realignment_with_one_more_territory_adds_it(tmp_path, grid_dataset):
    realign = {"current_plan": current_plan(tmp_path), "move_penalty": 50.0}
    scenario = load_scenario(write_scenario(tmp_path, grid_dataset, realignment=realign,
                                            territories={"count": 4}))
    outcome = run_scenario(scenario, tmp_path / "run")
    territories = pd.read_csv(outcome.folder / "territories.csv")
    assert territories["territory_id"].tolist() == ["T01", "T02", "T03", "NEW01"]
    assert "today's 3 territories kept" in outcome.summary["bases"]


@pytest.mark.parametrize("sections, needle", [
    ({"rules": {"locks": [{"unit": "X1", "territory": "T01"}]}}, "rules.locks.0.unit"),
    ({"rules": {"locks": [{"unit": "U001", "territory": "T9"}]}}, "rules.locks.0.territory"),
    ({"rules": {"together": [["U001", "Nope"]]}}, "rules.together.0"),
    ({"contiguity": {"required": True, "links": [["U001", "Z"]]}}, "contiguity.links"),
    ({"balance": {"tolerance": 0.1, "measures": {"employees": 0.1}}}, "balance.measures.employees"),
])
def test_rules_naming_unknown_things_are_refused(tmp_path, grid_dataset, sections, needle):
    scenario = load_scenario(write_scenario(tmp_path, grid_dataset, **sections))
    with pytest.raises(InputError, match=needle.replace(".", r"\.")):
        run_scenario(scenario, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_current_plan_with_unknown_units_is_refused(tmp_path, grid_dataset):
    path = tmp_path / "current.csv"
    path.write_text("unit_id,territory_id\nU001,T01\n9999,T02\n")
    scenario = load_scenario(write_scenario(tmp_path, grid_dataset, realignment={"current_plan": str(path)}))
    with pytest.raises(InputError, match=r"9999 \(row 3\)"):
        run_scenario(scenario, tmp_path / "run")


def test_rules_over_priced_pairs_keep_a_valid_bound(tmp_path, grid_dataset, monkeypatch):
    import optimizer.alignment.solve.rules as align_rules

    sections = {"contiguity": {"required": True}, "solver": {"time_limit": 60, "target_gap": 0.0}}
    exact = run_scenario(load_scenario(write_scenario(tmp_path, grid_dataset, **sections)), tmp_path / "all")
    monkeypatch.setattr(align_rules, "ALL_PAIRS_LIMIT", 0)  # as on national data: only LP-cheap pairs
    monkeypatch.setattr(align_rules, "CHEAPEST_PAIRS", 1)
    priced = run_scenario(load_scenario(write_scenario(tmp_path, grid_dataset, **sections)), tmp_path / "priced")
    assert "of 75 allowed unit-territory pairs" in priced.summary["bound_scope"]
    assert priced.summary["bound"] <= exact.summary["objective"] + 1e-6 <= priced.summary["objective"] + 2e-6
    assert "territories connected" in priced.summary["checks_passed"]


def test_an_infeasible_request_names_the_limits_that_conflict(tmp_path, grid_dataset):
    from optimizer.core.errors import InfeasibleError

    rules = {"locks": [{"unit": f"U{i:03d}", "territory": "T01"} for i in range(14)]}  # over half the workload
    scenario = load_scenario(write_scenario(tmp_path, grid_dataset, rules=rules, balance={"tolerance": 0.05}))
    with pytest.raises(InfeasibleError) as err:
        run_scenario(scenario, tmp_path / "run")
    message = err.value.line()
    assert "a plan exists once any one of these is loosened: rules.locks 14 locks -> none" in message
    assert not (tmp_path / "run").exists()


def test_chosen_bases_match_brute_force_over_candidates_and_plans(tmp_path, strip):
    candidates = ["U000", "U002", "U004", "U006", "U008"]
    scenario = load_scenario(write_scenario(
        tmp_path, strip, territories={"count": 2, "candidates": {"units": candidates}},
        objective={"distance": "projected"}, solver={"time_limit": 60, "target_gap": 0.0}))
    ready = prepare(scenario, PhaseTimer(), lambda _: None)
    xy = ready.units.xy / 1000.0
    load = ready.units.workload / (ready.units.workload.sum() / 2)
    index = [int(c[1:]) for c in candidates]
    best = np.inf
    for pair in itertools.combinations(index, 2):
        dist = np.hypot(*(xy[:, None, :] - xy[list(pair)][None, :, :]).transpose(2, 0, 1))
        for owners in itertools.product(range(2), repeat=9):
            owners = np.asarray(owners)
            loads = np.bincount(owners, weights=load, minlength=2)
            if np.all(np.abs(loads - 1) <= 0.1 + 1e-9):
                best = min(best, float((load * dist[np.arange(9), owners]).sum()))
    outcome = run_scenario(scenario, tmp_path / "run")
    assert outcome.summary["objective"] == pytest.approx(best, rel=1e-6)
    assert "chosen from 5 candidates" in outcome.summary["bases"]
    chosen = set(pd.read_csv(outcome.folder / "territories.csv", dtype=str)["base_unit_id"])
    assert chosen <= set(candidates) and len(chosen) == 2

"""Contiguity: a connected first plan from any plan, kept as the incumbent of the cut rounds, with a valid gap."""

from __future__ import annotations

import itertools
import time

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest

from optimizer.alignment.contiguity.repair import connected_plan, rules_objective
from optimizer.alignment.prepare import prepare
from optimizer.alignment.pipeline import run_scenario
from optimizer.alignment.problem import alignment_problem
from optimizer.core.run import PhaseTimer
from optimizer.alignment.rule_set import build_rule_set
from optimizer.core.scenario import load_scenario
from tests.conftest import SCENARIOS, grid_units, write_scenario

ROOT_SHARE = 0.01


def setup(scenario):
    ready = prepare(scenario, PhaseTimer(), lambda _: None)
    problem, _ = alignment_problem(scenario, ready)
    return ready, problem, build_rule_set(scenario, ready, problem)


def polygon_graph(frame: gpd.GeoDataFrame) -> nx.Graph:
    """Queen adjacency by a spatial join: independent of optimizer.areas.adjacency."""
    cells = frame[["geometry"]].reset_index(drop=True)
    pairs = gpd.sjoin(cells, cells, predicate="intersects")
    graph = nx.Graph()
    graph.add_nodes_from(range(len(cells)))
    graph.add_edges_from((a, b) for a, b in zip(pairs.index, pairs["index_right"]) if a != b)
    return graph


def assert_connected_in_band(grid, problem, graph):
    assert np.allclose(grid.sum(axis=1), 1.0)
    for t in range(grid.shape[1]):
        members = np.flatnonzero(grid[:, t] > 1e-6)
        assert members.size and nx.is_connected(graph.subgraph(members.tolist())), f"territory {t} is in pieces"
    loads = problem.load @ grid
    assert np.all(loads >= problem.lower - 1e-6) and np.all(loads <= problem.upper + 1e-6)


@pytest.fixture
def grid10(tmp_path):
    frame = grid_units(10, 10, seed=3)
    path = tmp_path / "grid10.gpkg"
    frame.to_file(path, layer="units")
    return frame, path


def test_a_checkerboard_plan_becomes_connected_and_balanced(tmp_path, grid10):
    frame, path = grid10
    scenario = load_scenario(write_scenario(tmp_path, path, territories={"count": 4}, balance={"tolerance": 0.1},
                                            contiguity={"required": True}, units={"dataset": str(path),
                                                                                  "sharing": {"allow": False}}))
    _, problem, rules = setup(scenario)
    start = np.zeros((100, 4))
    start[np.arange(100), np.arange(100) % 4] = 1.0  # every territory in dozens of pieces
    repaired = connected_plan(problem, rules, start, 10.0, ROOT_SHARE)
    assert repaired is not None
    assert_connected_in_band(repaired.grid, problem, polygon_graph(frame))
    assert repaired.objective == pytest.approx(rules_objective(problem, rules, repaired.grid))
    for t, root in enumerate(rules.roots):
        assert repaired.grid[root, t] == 1.0


def test_the_rounded_texas_lp_becomes_a_connected_plan_in_the_band(tmp_path):
    from optimizer.alignment.solve.align import price_full_lp
    from optimizer.alignment.solve.repair import round_lp
    from optimizer.alignment.solve.restricted import Clock
    from optimizer.solver.highs import SolverOptions

    scenario = load_scenario(SCENARIOS / "texas_counties_contiguous.yaml")
    ready, problem, rules = setup(scenario)
    lp, _ = price_full_lp(problem, SolverOptions(30, 0.01), Clock(30))
    began = time.perf_counter()
    repaired = connected_plan(problem, rules, round_lp(lp.shares, problem.shared), 10.0, ROOT_SHARE)
    assert time.perf_counter() - began < 5.0
    assert repaired is not None
    assert_connected_in_band(repaired.grid, problem, polygon_graph(ready.units.frame))
    assert repaired.objective >= lp.value - 1e-6  # a plan never beats the LP bound
    assert repaired.objective <= 1.03 * lp.value  # and the first plan is already close to it


def brute_force_contiguous(problem, graph, roots) -> float:
    n, k = problem.distance_km.shape
    best = np.inf
    for owners in itertools.product(range(k), repeat=n):
        owners = np.asarray(owners)
        if any(owners[r] != t for t, r in enumerate(roots)):
            continue
        loads = np.bincount(owners, weights=problem.load, minlength=k)
        if np.any(loads < problem.lower - 1e-9) or np.any(loads > problem.upper + 1e-9):
            continue
        cost = problem.cost[np.arange(n), owners].sum()
        if cost < best and all(nx.is_connected(graph.subgraph(np.flatnonzero(owners == t).tolist()))
                               for t in range(k)):
            best = cost
    return best


@pytest.mark.parametrize("priced", [False, True])
def test_the_reported_bound_never_exceeds_the_exact_contiguous_optimum(tmp_path, monkeypatch, priced):
    import optimizer.alignment.solve.rules as align_rules

    frame = grid_units(3, 4, seed=7)
    path = tmp_path / "g.gpkg"
    frame.to_file(path, layer="units")
    bases = [{"id": "A", "unit": "U000"}, {"id": "B", "unit": "U011"}, {"id": "C", "unit": "U004"}]
    scenario = load_scenario(write_scenario(
        tmp_path, path, territories={"bases": bases}, balance={"tolerance": 0.25}, objective={"distance": "projected"},
        contiguity={"required": True}, units={"dataset": str(path), "sharing": {"allow": False}},
        solver={"time_limit": 30, "target_gap": 0.2}))
    _, problem, rules = setup(scenario)
    exact = brute_force_contiguous(problem, polygon_graph(frame), rules.roots)
    assert np.isfinite(exact)
    if priced:  # as on national data: LP-priced pairs, the rounded LP repaired first
        monkeypatch.setattr(align_rules, "ALL_PAIRS_LIMIT", 0)
        monkeypatch.setattr(align_rules, "CHEAPEST_PAIRS", 1)
    summary = run_scenario(scenario, tmp_path / "run").summary
    assert summary["bound"] <= exact + 1e-6 <= summary["objective"] + 2e-6
    assert summary["gap"] <= 0.2 + 1e-9
    assert "territories connected" in summary["checks_passed"]


def test_a_short_time_limit_gives_a_connected_plan_with_its_gap(tmp_path, monkeypatch):
    """Texas contiguous with 1 s and no gap to reach: the cut rounds cannot finish (the old loop ended with
    exit code 4); the repaired plan is returned as feasible with its certified gap."""
    import optimizer.alignment.solve.rules as align_rules

    monkeypatch.setattr(align_rules, "ALL_PAIRS_LIMIT", 0)  # the national path: LP-priced pairs
    scenario = load_scenario(SCENARIOS / "texas_counties_contiguous.yaml",
                             {"solver.time_limit": 1.0, "solver.target_gap": 0.0})
    began = time.perf_counter()
    summary = run_scenario(scenario, tmp_path / "run").summary
    assert time.perf_counter() - began < 20
    assert summary["status"] in ("feasible", "optimal")
    assert "territories connected" in summary["checks_passed"]
    assert 0.0 <= summary["gap"] < 0.05
    assert summary["bound"] >= summary["lp_bound"] - 1e-6
    assert any(stage["stage"] == "first connected plan" for stage in summary["stages"])


def line_rules(roots):
    from optimizer.alignment.rule_set import RuleSet

    n = 5
    neighbours = [np.array([j for j in (i - 1, i + 1) if 0 <= j < n]) for i in range(n)]
    return RuleSet(allowed=np.ones((n, 2), bool), locks={}, extra_bands=(), together=(), apart=(),
                   roots=np.array(roots), neighbours=neighbours, current=None, moved_weight=None, max_moved=None,
                   move_penalty=None)


def test_cuts_never_stand_on_a_shared_unit():
    """A shared unit may hold a tiny share, so ``x[i,t] <= x[shared,t]`` would cut off connected plans: the
    piece is grown over shared border units first, and no cut is made when that swallows the base."""
    from optimizer.alignment.solve.rules import _contiguity_cuts

    def cuts_of(grid, roots, shared):
        found = _contiguity_cuts(grid, line_rules(roots), np.array(shared))
        return sorted((unit, t, border.tolist()) for unit, t, border in found)

    grid = np.zeros((5, 2))  # units on a line 0-1-2-3-4
    grid[[0, 3], 0] = 1.0  # territory 0: base 0 and a piece {3}, whose border {2, 4} holds shared unit 2
    grid[[1, 2, 4], 1] = 1.0
    assert cuts_of(grid, [0, 4], [False, False, True, False, False]) == [(1, 1, [0, 3]), (2, 1, [0, 3]),
                                                                        (3, 0, [1, 4])]
    grid = np.zeros((5, 2))
    grid[[1, 3], 0] = [0.5, 1.0]  # territory 0: base 1 (shared) and a piece {3} behind shared unit 2
    grid[[0, 1, 2, 4], 1] = [1.0, 0.5, 1.0, 1.0]
    assert cuts_of(grid, [1, 0], [False, True, True, False, False]) == [(4, 1, [3])]


def test_the_large_instance_road_repairs_the_plain_plan_and_keeps_a_valid_bound(tmp_path, monkeypatch):
    """Above LARGE_PAIRS (ZIP level) rules are met by repairing the plain model's plan; its bound must still be
    at most the exact contiguous optimum (checked here on a grid small enough to enumerate)."""
    import optimizer.alignment.solve.rules as align_rules

    frame = grid_units(3, 4, seed=7)
    path = tmp_path / "g.gpkg"
    frame.to_file(path, layer="units")
    bases = [{"id": "A", "unit": "U000"}, {"id": "B", "unit": "U011"}, {"id": "C", "unit": "U004"}]
    scenario = load_scenario(write_scenario(
        tmp_path, path, territories={"bases": bases}, balance={"tolerance": 0.25},
        objective={"distance": "projected"}, contiguity={"required": True},
        units={"dataset": str(path), "sharing": {"allow": False}}, solver={"time_limit": 30, "target_gap": 0.2}))
    _, problem, rules = setup(scenario)
    exact = brute_force_contiguous(problem, polygon_graph(frame), rules.roots)
    monkeypatch.setattr(align_rules, "LARGE_PAIRS", 0)
    summary = run_scenario(scenario, tmp_path / "run").summary
    assert any(stage["stage"] == "rules repair" for stage in summary["stages"])
    assert summary["bound"] <= exact + 1e-6 <= summary["objective"] + 2e-6
    assert "territories connected" in summary["checks_passed"]

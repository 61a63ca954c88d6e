"""Solving an alignment with adoption rules: locks, groups, further bands, disruption and contiguity.

The MIP is built over every allowed pair (locks remove the others), so HiGHS's bound is the full
model's. Contiguity is exact and lazy: solve, find each territory's pieces in the adjacency graph, add
for every unit ``i`` of a piece ``S`` cut off from the base the cut ``x[i,t] <= sum of x[j,t]`` over the
units ``j`` bordering ``S``, and solve again from the last plan, until every territory is in one piece.
Each round's model is a relaxation of the contiguous one, so its bound stays valid.
"""

from __future__ import annotations

import math

import numpy as np

from models.alignment_rules import AlignmentRules
from optimizer.adjacency import components
from optimizer.align import SHARE_EPS, AlignmentSolution, plan_rows, price_full_lp
from optimizer.repair import nearest
from optimizer.errors import InfeasibleError, NoPlanError
from optimizer.restricted import AlignmentProblem, Clock, restrict
from optimizer.rule_set import RuleSet
from optimizer.solver import SolverOptions, SolveStatus, relative_gap, solve

ALL_PAIRS_LIMIT = 60_000  # above this, the MIP uses the pairs the LP prices as cheap (bound kept valid)
CHEAPEST_PAIRS = 6  # pairs per unit by reduced cost in that case
ROOT_SHARE = 0.01  # a shared base unit (or locked shared unit) keeps at least this share in its territory
MAX_CUT_ROUNDS = 200
ROUND_GAP = 0.05  # gap of the contiguity rounds before the plan is in one piece


def solve_with_rules(problem: AlignmentProblem, rules: RuleSet, options: SolverOptions) -> AlignmentSolution:
    """Solve to the target gap (or the time limit) with every rule, contiguity by rounds of cuts."""
    clock = Clock(options.time_limit)
    pairs, lp, stages = _pairs(problem, rules, options, clock)
    everything = rules.allowed | problem.shared[:, None]
    cuts: list[tuple[int, int, np.ndarray]] = []  # unit, territory, border units
    grid, logs, result, bound = None, [], None, -math.inf
    tight = rules.neighbours is None  # cut rounds aim at a looser gap until the plan is in one piece
    for round_ in range(MAX_CUT_ROUNDS):
        gap = options.target_gap if tight else max(options.target_gap, ROUND_GAP)
        pair_id = np.full(pairs.shape, -1)
        pair_id[pairs] = np.arange(int(pairs.sum()))
        model = restrict(problem, pairs, clock, problem.penalty, _model_rules(problem, rules, pair_id, cuts))
        start = model.start(problem, grid) if grid is not None else None
        result = solve(model.compiled, SolverOptions(max(clock.left(), 0.05), gap, options.threads,
                                                     options.seed, options.keep_log), start=start)
        clock.solve += result.seconds
        logs.append(result.log)
        stages.append({"stage": f"rules {round_ + 1}", "pairs": int(pairs.sum()), "cuts": len(cuts),
                       "seconds": round(result.seconds, 3), "status": result.status.value,
                       "objective": result.objective, "bound": result.bound})
        if result.status is SolveStatus.INFEASIBLE and not np.array_equal(pairs, everything):
            pairs, bound, grid = everything, -math.inf, None  # infeasible over the cheap pairs only: use all
            continue
        if not result.status.has_plan:
            _raise_no_plan(result.status, rules)
        grid = model.grid(result.values)
        if math.isfinite(result.bound):  # every round relaxes the final model: each bound holds for it
            bound = max(bound, result.bound)
        new_cuts = _contiguity_cuts(grid, rules) if rules.neighbours is not None else []
        if not new_cuts:
            if tight or relative_gap(result.objective, bound) <= options.target_gap or clock.left() <= 1.0:
                break
            tight = True  # in one piece at the looser gap: now close the gap, adding cuts as needed
            continue
        if clock.left() <= 0.05:
            raise NoPlanError("contiguity", f"territories were still in pieces after {round_ + 1} rounds of cuts "
                              "when the time limit was reached", "raise solver.time_limit")
        cuts += new_cuts
    if lp is not None:  # a plan using a pair left out costs at least the LP bound plus its reduced cost
        excluded = lp.reduced[rules.allowed & ~pairs]
        bound = max(lp.value, min(bound, lp.value + float(excluded.min()) if excluded.size else math.inf))
    return _solution(problem, grid, result, bound, stages, logs, clock, options, int(pairs.sum()), len(cuts),
                     int(everything.sum()))


def _pairs(problem: AlignmentProblem, rules: RuleSet, options: SolverOptions, clock: Clock):
    """Every allowed pair for small instances; else the pairs the plain model's LP prices as cheap.

    Every rule only removes plans, so the plain model's LP bound and reduced costs still bound any plan
    that meets the rules: the bound stays valid for the model over all allowed pairs.
    """
    everything = rules.allowed | problem.shared[:, None]
    if everything.sum() <= ALL_PAIRS_LIMIT:
        return everything, None, []
    lp, lp_stages = price_full_lp(problem, options, clock)
    pairs = (nearest(lp.reduced, CHEAPEST_PAIRS) | (lp.shares > SHARE_EPS)) & rules.allowed
    pairs |= problem.shared[:, None] & rules.allowed
    for unit, territory in rules.locks.items():
        pairs[unit, territory] = True
    for territory, root in enumerate(rules.roots):
        if root >= 0:
            pairs[root, territory] = True
    if rules.current is not None:
        known = rules.current >= 0
        pairs[np.flatnonzero(known), rules.current[known]] = True
    return pairs & everything, lp, lp_stages


def _model_rules(problem: AlignmentProblem, rules: RuleSet, pair_id: np.ndarray, cuts) -> AlignmentRules:
    together = []
    for group in rules.together:
        for a, b in zip(group[:-1], group[1:]):
            together += [(int(pair_id[a, t]), int(pair_id[b, t])) for t in range(pair_id.shape[1])
                         if pair_id[a, t] >= 0 and pair_id[b, t] >= 0]
            together += [(int(pair_id[u, t]), -1) for u, v in ((a, b), (b, a)) for t in range(pair_id.shape[1])
                         if pair_id[u, t] >= 0 > pair_id[v, t]]
    apart = tuple(ids[ids >= 0] for group in rules.apart for ids in pair_id[group].T if (ids >= 0).sum() > 1)
    roots = [(int(pair_id[r, t]), 1.0 if not problem.shared[r] else ROOT_SHARE)
             for t, r in enumerate(rules.roots) if r >= 0 and rules.neighbours is not None and pair_id[r, t] >= 0]
    roots += [(int(pair_id[u, t]), ROOT_SHARE) for u, t in rules.locks.items() if problem.shared[u]]
    current_pair = None
    if rules.current is not None:
        current_pair = np.array([pair_id[i, t] if t >= 0 else -1 for i, t in enumerate(rules.current)])
    return AlignmentRules(extra_bands=rules.extra_bands, together=tuple(p for p in together if p[1] >= 0),
                          apart=apart, root_shares=tuple(roots),
                          cuts=_cut_pairs(cuts, pair_id) + tuple((p, np.array([], int)) for p, q in together if q < 0),
                          current_pair=current_pair, moved_weight=rules.moved_weight, max_moved=rules.max_moved,
                          move_penalty=rules.move_penalty)


def _cut_pairs(cuts, pair_id: np.ndarray) -> tuple:
    """Cuts in the pair indices of the current model; border units without a pair there are at zero anyway."""
    found = []
    for unit, territory, border in cuts:
        if pair_id[unit, territory] >= 0:
            ids = pair_id[border, territory]
            found.append((int(pair_id[unit, territory]), ids[ids >= 0]))
    return tuple(found)


def _contiguity_cuts(grid: np.ndarray, rules: RuleSet) -> list[tuple[int, int, np.ndarray]]:
    cuts = []
    for t in range(grid.shape[1]):
        members = np.flatnonzero(grid[:, t] > SHARE_EPS)
        pieces = components(members, rules.neighbours)
        if len(pieces) <= 1:
            continue
        root = rules.roots[t]
        main = next((p for p in pieces if root in set(p.tolist())), max(pieces, key=len))
        for piece in pieces:
            if piece is main:
                continue
            inside = set(piece.tolist())
            border = np.array(sorted({j for i in piece for j in rules.neighbours[i].tolist() if j not in inside}),
                              dtype=int)
            cuts += [(int(i), t, border) for i in piece]
    return cuts


def _raise_no_plan(status: SolveStatus, rules: RuleSet) -> None:
    if status is SolveStatus.INFEASIBLE:
        named = [name for name, present in (("locks", rules.locks), ("together groups", rules.together),
                                            ("apart groups", rules.apart), ("further bands", rules.extra_bands),
                                            ("contiguity", rules.neighbours is not None),
                                            ("the move budget", rules.max_moved is not None)) if present]
        raise InfeasibleError("rules", "no plan meets the band together with " + ", ".join(named or ["the band"]),
                              "loosen one of them; `limits.csv` of a feasible variant shows what each costs")
    raise NoPlanError("solver", "the time limit was reached before any plan met every rule",
                      "raise solver.time_limit (or --time-limit)")


def _solution(problem, grid, result, bound, stages, logs, clock, options, pairs, cuts, allowed) -> AlignmentSolution:
    unit, territory, share = plan_rows(grid, problem.shared)
    proven = relative_gap(result.objective, bound) <= options.target_gap + 1e-12
    if pairs >= allowed:
        note = f"the MIP used all {pairs:,} allowed unit-territory pairs"
    else:
        note = (f"the MIP used {pairs:,} of {allowed:,} allowed unit-territory pairs; the bound adds the LP reduced "
                "cost of every pair left out, so it holds for the model over all of them")
    note += f" and {cuts} contiguity cuts" if cuts else ""
    return AlignmentSolution(unit_index=unit, territory_index=territory, share=share,
                             status=SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE,
                             objective=result.objective, bound=min(bound, result.objective), lp_bound=math.nan,
                             seconds={"build": clock.build, "solve": clock.solve}, stages=stages,
                             restriction=note, log="\n".join(filter(None, logs)))

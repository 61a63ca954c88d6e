"""Solving an alignment with adoption rules: locks, groups, further bands, disruption and contiguity.

The MIP is built over every allowed pair (locks remove the others) or, for large instances, over the pairs
the LP prices as cheap with every left-out pair's reduced cost counted in the bound, so the bound is the
full model's. Contiguity is exact and lazy: solve, find each territory's pieces in the adjacency graph, add
for every unit ``i`` of a piece ``S`` cut off from the base the cut ``x[i,t] <= sum of x[j,t]`` over the
whole units ``j`` bordering ``S`` (see :func:`_contiguity_cuts`), and solve again. Each round's model is a
relaxation of the contiguous one, so its bound stays valid.

Plans come from two sides. A round's plan in one piece is a plan of the contiguous model; a plan in pieces
is repaired into a connected one by ``optimizer.alignment.contiguity.repair`` (so is the rounded LP when there is
one, before the first round). The best connected plan is the incumbent: it warm-starts every later round
(it meets every cut, so HiGHS prunes with it and stops once its bound certifies it), and it is the answer
when the gap is reached, when rounds stop improving either side, or when time runs out; the reported gap
is ``(incumbent - best bound) / incumbent``.

Large instances (more than ``LARGE_PAIRS`` unit-territory pairs, e.g. 31,000 ZIPs x 500) take a shorter
road: the plain model is solved by the certified pipeline of ``optimizer.alignment.solve.align`` (no rules), its plan is
repaired into one meeting every rule, and the plain model's bound is reported. Every rule only restricts
plans or adds a non-negative cost, so the plain model relaxes the model with rules and its bound holds.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from models.alignment_rules import AlignmentRules
from optimizer.areas.adjacency import components
from optimizer.alignment.solve.align import (LARGE_PAIRS, SHARE_EPS, AlignmentSolution, plan_rows, price_full_lp,
                                            solve_alignment)
from optimizer.alignment.contiguity.repair import connected_plan, is_connected_plan, rules_objective
from optimizer.alignment.solve.repair import nearest, round_lp
from optimizer.core.errors import InfeasibleError, NoPlanError
from optimizer.alignment.solve.restricted import AlignmentProblem, Clock, restrict
from optimizer.alignment.rule_set import RuleSet
from optimizer.solver.highs import SolverOptions, SolveStatus, relative_gap, solve

ALL_PAIRS_LIMIT = 60_000  # above this, the MIP uses the pairs the LP prices as cheap (bound kept valid)
CHEAPEST_PAIRS = 6  # pairs per unit by reduced cost in that case
ROOT_SHARE = 0.01  # a shared base unit (or locked shared unit) keeps at least this share in its territory
MAX_CUT_ROUNDS = 200
ROUND_GAP = 0.05  # gap of the contiguity rounds before any plan is in one piece
REPAIR_SECONDS = 20.0  # most a repair of one round's plan may take (see optimizer.alignment.contiguity.repair)
REPAIR_TIME_SHARE = 0.2  # and at most this share of the time left
LP_REPAIR_SHARE = 0.5  # the rounded LP (often far outside the band) gets half of that
ROUND_SECONDS = 60.0  # a round with an incumbent runs at least this long (time permitting) ...
ROUND_TIME_SHARE = 0.25  # ... or this share of the time left, whichever is longer
STALL_ROUNDS = 3  # stop after this many rounds that improve neither the connected plan nor the bound
STALL_PROGRESS = 1e-4  # by more than this share
LARGE_PLAIN_SHARE = 0.4  # of the time limit, for the plain model's plan and bound


@dataclass
class _Rounds:
    """The best connected plan so far (the incumbent), the best valid bound, and the record of each round."""

    problem: AlignmentProblem
    rules: RuleSet
    lp: object
    clock: Clock
    grid: np.ndarray | None = None
    objective: float = math.inf
    bound: float = -math.inf
    first_plan_seconds: float | None = None
    stages: list = field(default_factory=list)

    def offer(self, grid: np.ndarray, objective: float, source: str) -> None:
        if objective < self.objective - 1e-9:
            self.grid, self.objective = grid, objective
            if self.first_plan_seconds is None:
                self.first_plan_seconds = self.clock.limit - self.clock.left()
            self.stages.append({"stage": f"connected plan ({source})", "objective": objective,
                                "at_seconds": round(self.clock.limit - self.clock.left(), 3)})

    def learn_bound(self, round_bound: float, pairs: np.ndarray) -> None:
        """A round over ``pairs`` bounds the model over every allowed pair once the pairs left out are priced."""
        if not math.isfinite(round_bound):
            return
        if self.lp is not None:
            excluded = self.lp.reduced[self.rules.allowed & ~pairs]
            round_bound = min(round_bound, self.lp.value + float(excluded.min()) if excluded.size else math.inf)
        self.bound = max(self.bound, round_bound)

    def repair(self, grid: np.ndarray, source: str, share: float = 1.0) -> None:
        """Offer the connected plan the heuristic makes of ``grid`` (``optimizer.alignment.contiguity.repair``)."""
        seconds = share * min(REPAIR_SECONDS, max(self.clock.left() * REPAIR_TIME_SHARE, 0.5))
        began = time.perf_counter()
        repaired = connected_plan(self.problem, self.rules, grid, seconds, ROOT_SHARE)
        self.stages.append({"stage": f"repair ({source})", "seconds": round(time.perf_counter() - began, 3),
                            "objective": repaired.objective if repaired else None,
                            "status": "no connected plan" if repaired is None else "connected, in band"
                            if repaired.feasible else f"connected, {len(repaired.violated)} territories outside band"})
        if repaired is not None and repaired.feasible:
            self.offer(repaired.grid, repaired.objective, source)

    def certified(self, target_gap: float) -> bool:
        return self.grid is not None and relative_gap(self.objective, self.bound) <= target_gap


def solve_with_rules(problem: AlignmentProblem, rules: RuleSet, options: SolverOptions) -> AlignmentSolution:
    """Solve to the target gap (or the time limit) with every rule, contiguity by rounds of cuts.

    With contiguity, every round's plan that is in pieces is also repaired into a connected plan
    (``optimizer.alignment.contiguity.repair``); the best of those is the incumbent that warm-starts every later
    round (it meets every cut), and the answer when time runs out.
    """
    if problem.distance_km.size > LARGE_PAIRS:
        return _solve_large(problem, rules, options)
    clock = Clock(options.time_limit)
    pairs, lp, stages = _pairs(problem, rules, options, clock)
    everything = rules.allowed | problem.shared[:, None]
    contiguous = rules.neighbours is not None
    rounds = _Rounds(problem, rules, lp, clock, stages=stages)
    if lp is not None:
        rounds.bound = lp.value
        if contiguous:
            rounds.repair(round_lp(lp.shares, problem.shared), "rounded LP", LP_REPAIR_SHARE)
    cuts: list[tuple[int, int, np.ndarray]] = []  # unit, territory, border units
    grid, logs, result, stalled, last = None, [], None, 0, (math.inf, -math.inf)
    tight = not contiguous  # cut rounds aim at a looser gap until some plan is in one piece
    for round_ in range(MAX_CUT_ROUNDS):
        if rounds.grid is not None:
            pairs = pairs | ((rounds.grid > SHARE_EPS) & everything)  # the incumbent must fit as a warm start
        gap = options.target_gap if tight or rounds.grid is not None else max(options.target_gap, ROUND_GAP)
        pair_id = np.full(pairs.shape, -1)
        pair_id[pairs] = np.arange(int(pairs.sum()))
        model = restrict(problem, pairs, clock, problem.penalty, _model_rules(problem, rules, pair_id, cuts))
        warm = rounds.grid if rounds.grid is not None else grid
        start = model.start(problem, warm) if warm is not None else None
        seconds = max(clock.left(), 0.05)
        if contiguous and rounds.grid is not None:  # leave time to repair this round's plan and run more rounds
            seconds = max(min(clock.left() - REPAIR_SECONDS, max(ROUND_SECONDS, ROUND_TIME_SHARE * clock.left())),
                          min(clock.left(), 1.0), 0.05)
        result = solve(model.compiled, SolverOptions(seconds, gap, options.threads, options.seed, options.keep_log),
                       start=start)
        clock.solve += result.seconds
        logs.append(result.log)
        stages.append({"stage": f"rules {round_ + 1}", "pairs": int(pairs.sum()), "cuts": len(cuts),
                       "seconds": round(result.seconds, 3), "status": result.status.value,
                       "objective": result.objective, "bound": result.bound})
        if result.status is SolveStatus.INFEASIBLE and not np.array_equal(pairs, everything):
            pairs, grid = everything, None  # infeasible over the cheap pairs only: use all
            continue
        if not result.status.has_plan:
            if rounds.grid is not None:
                break
            _raise_no_plan(result.status, rules)
        grid = model.grid(result.values)
        rounds.learn_bound(result.bound, pairs)  # every round relaxes the final model: each bound holds for it
        new_cuts = _contiguity_cuts(grid, rules, problem.shared) if contiguous else []
        pieces = contiguous and not is_connected_plan(grid, rules.neighbours)
        if not pieces:
            rounds.offer(grid, rules_objective(problem, rules, grid), f"round {round_ + 1}")
            if rounds.certified(options.target_gap) or clock.left() <= 1.0 or (tight and not contiguous):
                break
            if not tight:
                tight = True  # in one piece at the looser gap: now close the gap, adding cuts as needed
                continue
        else:
            rounds.repair(grid, f"round {round_ + 1}")
        if rounds.certified(options.target_gap):
            break
        progress = (rounds.objective, rounds.bound)
        moved = progress[0] < last[0] * (1 - STALL_PROGRESS) or progress[1] > last[1] + STALL_PROGRESS * abs(last[1])
        stalled, last = (0 if moved else stalled + 1), progress
        if rounds.grid is not None and (stalled >= STALL_ROUNDS or not new_cuts):
            stages.append({"stage": "stop", "reason": "no new cuts" if not new_cuts else
                           f"no progress in {STALL_ROUNDS} rounds"})
            break
        if clock.left() <= 0.05:
            if rounds.grid is not None:
                break
            raise NoPlanError("contiguity", f"territories were still in pieces after {round_ + 1} rounds of cuts "
                              "when the time limit was reached", "raise solver.time_limit")
        cuts += new_cuts
    if rounds.grid is None:  # only without contiguity, or after MAX_CUT_ROUNDS with every plan in pieces
        if contiguous:
            raise NoPlanError("contiguity", f"no plan in one piece after {MAX_CUT_ROUNDS} rounds of cuts",
                              "raise solver.time_limit or widen balance.tolerance")
        rounds.offer(grid, rules_objective(problem, rules, grid), "last round")
    if rounds.first_plan_seconds is not None:
        stages.append({"stage": "first connected plan" if contiguous else "first plan",
                       "at_seconds": round(rounds.first_plan_seconds, 3)})
    return _solution(problem, rounds, options, clock, logs, int(pairs.sum()), len(cuts), int(everything.sum()))


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


def _contiguity_cuts(grid: np.ndarray, rules: RuleSet, shared: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """Cuts ``x[i,t] <= sum of x[j,t] over j on the border of S'`` for every unit ``i`` of a piece ``S`` cut off
    from territory ``t``'s base.

    ``S'`` is ``S`` grown by the shared units on its border until its border holds whole units only: any
    connected plan with ``i`` in ``t`` leaves ``S'`` towards the base through a border unit in ``t``, and a
    whole unit there counts 1 (a shared one could hold a tiny share, so it may not stand on the border).
    Without a base unit, or when ``S'`` swallows the base, no cut is valid and none is added.
    """
    cuts = []
    for t in range(grid.shape[1]):
        root = int(rules.roots[t])
        members = np.flatnonzero(grid[:, t] > SHARE_EPS)
        pieces = components(members, rules.neighbours)
        if len(pieces) <= 1 or root < 0:
            continue
        for piece in pieces:
            if root in set(piece.tolist()):
                continue
            border = _whole_border(set(piece.tolist()), rules.neighbours, shared, root)
            if border is not None:
                cuts += [(int(i), t, border) for i in piece]
    return cuts


def _whole_border(inside: set, neighbours: list[np.ndarray], shared: np.ndarray, root: int) -> np.ndarray | None:
    while True:
        border = {j for i in inside for j in neighbours[i].tolist() if j not in inside}
        grow = {j for j in border if shared[j]}
        if not grow:
            return np.array(sorted(border), dtype=int)
        if root in grow:
            return None
        inside |= grow


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


def _solve_large(problem: AlignmentProblem, rules: RuleSet, options: SolverOptions) -> AlignmentSolution:
    """The plain model's certified plan, repaired to meet every rule; the plain model's bound."""
    clock = Clock(options.time_limit)
    plain = solve_alignment(problem, SolverOptions(options.time_limit * LARGE_PLAIN_SHARE, options.target_gap,
                                                   options.threads, options.seed, options.keep_log))
    grid = np.zeros(problem.distance_km.shape)
    grid[plain.unit_index, plain.territory_index] = plain.share
    repaired = connected_plan(problem, rules, grid, max(clock.left() - 1.0, 1.0), ROOT_SHARE)
    found = repaired is not None
    stages = plain.stages + [clock.stage("rules repair", seconds=round(repaired.seconds, 3) if found else None,
                                         objective=repaired.objective if found else None,
                                         outside_band=repaired.outside if found else None)]
    if repaired is None or repaired.outside > 0:
        what = "territories in one piece" if rules.neighbours is not None else "every rule"
        raise NoPlanError("rules", f"no plan with {what} inside the band was found from the plain plan in the "
                          "time limit", "raise solver.time_limit, widen balance.tolerance or loosen a rule")
    unit, territory, share = plan_rows(repaired.grid, problem.shared)
    bound = min(plain.bound, repaired.objective)
    proven = relative_gap(repaired.objective, bound) <= options.target_gap + 1e-12
    note = ("the bound is the plain model's (no rules; certified over all unit-territory pairs), a relaxation of "
            "the model with rules, so it holds for it")
    return AlignmentSolution(unit_index=unit, territory_index=territory, share=share,
                             status=SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE,
                             objective=repaired.objective, bound=bound, lp_bound=plain.lp_bound,
                             seconds={"build": plain.seconds["build"], "solve": plain.seconds["solve"]},
                             stages=stages, restriction=note, log=plain.log)


def _solution(problem, rounds: _Rounds, options, clock, logs, pairs, cuts, allowed) -> AlignmentSolution:
    unit, territory, share = plan_rows(rounds.grid, problem.shared)
    bound = min(rounds.bound, rounds.objective)
    proven = relative_gap(rounds.objective, bound) <= options.target_gap + 1e-12
    if pairs >= allowed:
        note = f"the MIP used all {pairs:,} allowed unit-territory pairs"
    else:
        note = (f"the MIP used {pairs:,} of {allowed:,} allowed unit-territory pairs; the bound adds the LP reduced "
                "cost of every pair left out, so it holds for the model over all of them")
    note += f" and {cuts} contiguity cuts" if cuts else ""
    return AlignmentSolution(unit_index=unit, territory_index=territory, share=share,
                             status=SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE,
                             objective=rounds.objective, bound=bound,
                             lp_bound=rounds.lp.value if rounds.lp is not None else math.nan,
                             seconds={"build": clock.build, "solve": clock.solve}, stages=rounds.stages,
                             restriction=note, log="\n".join(filter(None, logs)))

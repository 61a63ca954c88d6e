"""Why no plan exists: which single limit, loosened, makes the request feasible.

When the rules MIP proves a request infeasible, each limit the scenario sets is loosened on its own
(the same loosenings as ``limits.csv``: tolerance and further bands doubled, the move budget doubled and
removed, each lock and group removed, contiguity dropped) and solved with a short time limit. The
limits whose loosening yields a plan are named, in the user's terms, in the error message; if none does
alone, the message says that several limits conflict together.
"""

from __future__ import annotations

from optimizer.core.errors import InfeasibleError, NoPlanError
from optimizer.alignment.limits import loosened_scenarios
from optimizer.alignment.rule_set import build_rule_set
from optimizer.solver.highs import SolverOptions

EXPLAIN_TIME_SHARE = 0.5  # of the scenario's time limit, split among the loosened solves
MAX_NAMED = 6


def explain_infeasible(scenario, ready, error: InfeasibleError) -> InfeasibleError:
    """The same error, naming each limit that alone makes the request feasible when loosened."""
    from optimizer.alignment.problem import alignment_problem, solve_plan

    candidates = loosened_scenarios(scenario)
    if not candidates:
        return error
    seconds = max(scenario.solver.time_limit * EXPLAIN_TIME_SHARE / len(candidates), 1.0)
    options = SolverOptions(seconds, max(scenario.solver.target_gap, 0.05), scenario.solver.threads,
                            scenario.solver.seed)
    freeing = []
    for candidate in candidates:
        try:
            problem, _ = alignment_problem(candidate.scenario, ready)
            solve_plan(problem, build_rule_set(candidate.scenario, ready, problem), options)
        except (InfeasibleError, NoPlanError):
            continue
        freeing.append(f"{candidate.limit} {candidate.setting} -> {candidate.loosened}")
    if not freeing:
        return InfeasibleError(error.where, error.what + "; no single limit loosened on its own gives a plan, so "
                               "several conflict together", error.fix)
    named = "; ".join(freeing[:MAX_NAMED]) + (f"; and {len(freeing) - MAX_NAMED} more" if len(freeing) > MAX_NAMED
                                                else "")
    return InfeasibleError(error.where, f"{error.what}; a plan exists once any one of these is loosened: {named}",
                           "loosen one of them")

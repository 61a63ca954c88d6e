"""The pipeline's certified gap holds for the FULL model (every unit-base pair), checked independently.

A generated instance (3,000 clustered units x 30 territories, seeded) is solved by the code ``territory run``
calls; the full model is then rebuilt here from the generator's own arrays (workload, coordinates) and the
bases in the run folder, with numpy straight into highspy (``benchmarks/bench_scale.py``: no Pyomo, no
``optimizer`` code), and solved by HiGHS:

- its LP relaxation over all pairs must equal the pipeline's ``lp_bound`` (the priced all-pairs LP);
- cold HiGHS on the full MIP for a bounded time: the pipeline's bound must not exceed any full-model plan
  HiGHS finds, and the pipeline's plan must not beat HiGHS's proven bound;
- the pipeline's plan, re-costed in these arrays, must have the reported objective and meet the band;
- the certified gap must be at or below the scenario's target.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmarks.bench_scale import (instance_from_arrays, model_arrays, new_highs, pass_arrays, rel_gap,
                                    solve_cold)
from benchmarks.synthetic import InstanceSpec, generate_points, write_instance

SPEC = InstanceSpec(units=3000, territories=30, seed=0, time_limit=30.0, target_gap=0.01, threads=2)
COLD_SECONDS = 12.0
TOLERANCE = 1e-6  # relative, for comparing objective values computed in two places


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """The generated instance solved as ``territory run`` does: (points, summary, assignments, territories)."""
    from optimizer.core.kinds import kind_of, resolve
    from optimizer.core.scenario import load_scenario

    root = tmp_path_factory.mktemp("scale")
    scenario = load_scenario(write_instance(SPEC, root / "instance"))
    outcome = resolve(kind_of(scenario).runner)(scenario, root / "run")
    assignments = pd.read_csv(outcome.folder / "assignments.csv", dtype={"unit_id": str, "territory_id": str})
    territories = pd.read_csv(outcome.folder / "territories.csv", dtype={"territory_id": str, "base_unit_id": str})
    return generate_points(SPEC), outcome.summary, assignments, territories


@pytest.fixture(scope="module")
def full_model(solved):
    """The full model in the generator's arrays, and the pipeline's plan as index arrays."""
    points, _, assignments, territories = solved
    position = {uid: i for i, uid in enumerate(points["unit_id"])}
    base = np.array([position[uid] for uid in territories["base_unit_id"]])
    inst = instance_from_arrays(points["potential"], points["lat"], points["lon"], points["lat"][base],
                                points["lon"][base], SPEC.tolerance)
    terr = {tid: t for t, tid in enumerate(territories["territory_id"])}
    plan = (np.array([position[u] for u in assignments["unit_id"]]),
            np.array([terr[t] for t in assignments["territory_id"]]), assignments["share"].to_numpy(float))
    return inst, plan


def _relative(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(b))


def test_pipeline_certifies_its_target_gap(solved):
    _, summary, _, _ = solved
    assert summary["status"] == "optimal", summary["status"]
    assert summary["units"] == SPEC.units and summary["territories"] == SPEC.territories
    assert summary["bound"] <= summary["objective"] * (1 + TOLERANCE)
    assert rel_gap(summary["objective"], summary["bound"]) <= SPEC.target_gap + 1e-9
    assert summary["gap"] <= summary["target_gap"] + 1e-9


def test_plan_is_a_full_model_plan_with_the_reported_cost(solved, full_model):
    _, summary, assignments, _ = solved
    inst, (unit, territory, share) = full_model
    assert np.bincount(unit, weights=share, minlength=SPEC.units) == pytest.approx(np.ones(SPEC.units), abs=1e-9)
    assert set(np.unique(share)) == {1.0}, "no unit of this instance may be shared"
    assert inst.band_violation(unit, territory, share) <= 1e-9
    assert _relative(inst.plan_cost(unit, territory, share), summary["objective"]) <= TOLERANCE
    assert len(assignments) == SPEC.units


def test_lp_bound_is_the_all_pairs_lp(solved, full_model):
    _, summary, _, _ = solved
    inst, _ = full_model
    arrays, built = model_arrays(inst)
    assert built.pairs == SPEC.units * SPEC.territories
    arrays["integrality"] = np.zeros_like(arrays["integrality"])
    highs = new_highs(threads=SPEC.threads, seed=0, time_limit=60.0, target_gap=0.0)
    pass_arrays(highs, arrays)
    highs.run()
    assert highs.modelStatusToString(highs.getModelStatus()) == "Optimal"
    full_lp = highs.getInfo().objective_function_value
    assert _relative(summary["lp_bound"], full_lp) <= TOLERANCE, (summary["lp_bound"], full_lp)
    assert summary["bound"] >= full_lp * (1 - TOLERANCE), "the MIP-based bound may only improve on the LP"


def test_bound_holds_against_cold_highs_on_the_full_model(solved, full_model):
    _, summary, _, _ = solved
    inst, _ = full_model
    arrays, _ = model_arrays(inst)
    highs = new_highs(threads=SPEC.threads, seed=0, time_limit=COLD_SECONDS, target_gap=0.0)
    pass_arrays(highs, arrays)
    cold = solve_cold(highs, COLD_SECONDS, stop_gap=0.0)
    assert math.isfinite(cold.bound), f"cold HiGHS proved no bound in {COLD_SECONDS} s ({cold.status})"
    assert summary["objective"] >= cold.bound * (1 - TOLERANCE), (summary["objective"], cold.bound)
    plans = [primal for _, primal, _ in cold.trajectory if math.isfinite(primal)]
    for primal in plans:  # every plan cold HiGHS found on the full model costs at least the certified bound
        assert summary["bound"] <= primal * (1 + TOLERANCE), (summary["bound"], primal)

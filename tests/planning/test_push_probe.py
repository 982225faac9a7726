"""The push-separation probe with the simulator as the predictor: it must agree with itself, and the three plans
must do what their names say (towards moves the object along the push, still and away leave it)."""

from __future__ import annotations

import numpy as np
import pytest

from sim_tasks.planning_probe import PLANS, probe_push_separation, summarize_probe


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    from exporters.usd import export_usd
    from sim_tasks.demo_scene import make_demo_scene
    from sim_tasks.rollout import RolloutConfig, TaskRunner

    usd = export_usd(make_demo_scene(), tmp_path_factory.mktemp("scene") / "demo_scene.usda")
    return TaskRunner(usd, "push", RolloutConfig(cameras=None))


@pytest.mark.slow
def test_probe_with_the_simulator_ranks_the_plans(runner):
    from sim_tasks.sim_predictor import SimulatorPredictor

    rows = probe_push_separation(runner, [50_000],
                                 lambda inst: SimulatorPredictor(runner.backend, inst.target_object))
    for r in rows:
        for k in PLANS:  # the same simulator from the same snapshot: the same answer
            assert r.predicted_m[k] == pytest.approx(r.simulated_m[k], abs=1e-6)
        assert r.simulated_m["towards"] > 0.02  # 12 steps at 0.13 m/s push it several cm
        assert abs(r.simulated_m["still"]) < 0.005 and abs(r.simulated_m["away"]) < 0.005
    s = summarize_probe(rows)
    assert s["towards_cheapest"] == 1.0 and s["cost_gap_away_minus_towards_mm"]["simulated"] > 20
    assert s["cost_gap_away_minus_towards_mm"]["predicted"] == pytest.approx(
        s["cost_gap_away_minus_towards_mm"]["simulated"])


def test_summary_counts_towards_cheapest_only_when_strictly_cheaper():
    from sim_tasks.planning_probe import ProbeRow

    good = ProbeRow(0, {}, {}, {"towards": 0.05, "still": 0.10, "away": 0.11}, {})
    flat = ProbeRow(1, {}, {}, {"towards": 0.10, "still": 0.10, "away": 0.10}, {})
    for r in (good, flat):
        r.predicted_m = r.simulated_m = {k: 0.0 for k in PLANS}
        r.simulated_cost_m = dict(r.predicted_cost_m)
    s = summarize_probe([good, flat])
    assert s["towards_cheapest"] == 0.5
    assert s["cost_gap_away_minus_towards_mm"]["predicted"] == pytest.approx(30.0)
    assert np.isfinite(s["predicted_displacement_mm"]["towards"])

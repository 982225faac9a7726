"""Planners on toy problems whose optimum is known."""

from __future__ import annotations

import numpy as np
import pytest

from gwm.planning.planners import PlannerConfig, plan, shift_plan


def _quadratic(target):
    def cost(x):  # (K, H, D) -> (K,)
        return ((x - target) ** 2).sum(axis=(1, 2))
    return cost


@pytest.mark.parametrize("method", ["cem", "mppi"])
def test_planner_finds_the_known_optimum(method):
    rng = np.random.default_rng(0)
    target = rng.uniform(-0.8, 0.8, (4, 2))
    cfg = PlannerConfig(method=method, samples=64, iterations=12, elites=8, seed=1)
    res = plan(_quadratic(target), 4, 2, cfg)
    assert res.evaluations == 64 * 12
    assert np.abs(res.plan - target).max() < 0.1, (res.plan, target)
    assert res.history[-1] <= res.history[0]  # the best cost never gets worse


def test_cem_beats_random_shooting_at_equal_budget():
    """8-D toy: CEM gets close to the optimum, uniform random shooting of the same budget does not."""
    target = np.array([[0.5, -0.3], [0.2, 0.7], [-0.6, 0.1], [0.0, -0.9]])
    cem = [plan(_quadratic(target), 4, 2, PlannerConfig("cem", 48, 6, seed=s)).cost for s in range(5)]
    rnd = [plan(_quadratic(target), 4, 2, PlannerConfig("random", 48, 6, seed=s)).cost for s in range(5)]
    assert np.mean(cem) < 0.1 and np.mean(rnd) > 5 * np.mean(cem), (cem, rnd)


def test_planner_respects_the_box_and_a_warm_start_at_the_optimum_is_kept():
    target = np.full((3, 2), 2.0)  # outside the box: the best feasible plan is the corner (1, 1)
    res = plan(_quadratic(target), 3, 2, PlannerConfig("cem", 32, 12, seed=0))
    assert np.all(np.abs(res.plan) <= 1.0) and np.abs(res.plan - 1.0).max() < 0.4 and res.plan.mean() > 0.85
    opt = np.array([[0.1, 0.2], [0.3, -0.4], [0.0, 0.5]])
    res = plan(_quadratic(opt), 3, 2, PlannerConfig("cem", 16, 1, seed=0), warm_start=opt)
    assert res.cost == 0.0 and np.array_equal(res.plan, opt)


def test_shift_plan_and_bad_config():
    p = np.arange(8.0).reshape(4, 2)
    np.testing.assert_array_equal(shift_plan(p, 1), [[2, 3], [4, 5], [6, 7], [6, 7]])
    with pytest.raises(ValueError, match="planner method"):
        PlannerConfig(method="gradient")
    with pytest.raises(ValueError, match="elites"):
        PlannerConfig(samples=4, elites=8)

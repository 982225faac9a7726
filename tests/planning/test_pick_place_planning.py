"""Pick-and-place planning: the primitive against the scripted demonstrator, the planner on a toy model whose
optimum is known, and the CLI's messages."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from gwm.planning import PlannerConfig
from pipelines.cli_main import app
from sim_tasks.pick_place_primitive import (GRASP_PARAMS, PrimitiveConfig, PrimitiveStart, grasp_primitive,
                                            place_primitive)
from sim_tasks.planning_pick_place import PickPlaceMPCConfig, plan_grasp, run_pick_place_mpc


@pytest.fixture(scope="module")
def runner(scene_usd):
    from sim_tasks.rollout import RolloutConfig, TaskRunner

    return TaskRunner(scene_usd, "pick_place", RolloutConfig(cameras=None))


@pytest.mark.parametrize("seed", [3, 50_001])
def test_primitive_at_zero_is_the_demonstrators_plan(runner, seed):
    """Where each of the demonstrator's phases ends its command (descend, lift, place) is where the primitive's
    waypoints are at zero: built when the approach ends, and for the place phases from the state after the lift."""
    be, task = runner.backend, runner.task
    inst = task.sample(seed)
    obs = be.reset(inst.seed, inst.object_poses)
    demo = task.demonstrator(inst, be.body_names, be.control_dt)
    grasp = place = None
    ends = {}
    for _ in range(task.max_steps):
        phase = demo.phase
        action = demo.act(obs)
        if grasp is None and demo.phase == "descend":
            grasp = grasp_primitive(np.zeros((1, 6)), PrimitiveStart.from_demonstrator(demo, obs), task, inst,
                                    be.control_dt)
        if demo.phase != phase:
            ends[phase] = demo._cmd_pos.copy()
            if phase == "lift":
                place = place_primitive(np.zeros((1, 2)), obs, demo._cmd_pos, demo._cmd_yaw, be.body_names, task,
                                        inst, be.control_dt)
        obs = be.step(action)
    assert demo.done and not demo.timeouts and demo.regrasps == 0
    np.testing.assert_allclose(grasp.waypoints["grasp"][0], ends["descend"], atol=1e-3)
    np.testing.assert_allclose(grasp.waypoints["yaw"][0], demo._grasp_yaw, atol=1e-6)
    np.testing.assert_allclose(grasp.waypoints["lift"][0, :2], ends["lift"][:2], atol=1e-3)
    # the demonstrator's lift height adds the held object's height span, measured as it tilts in the grasp
    np.testing.assert_allclose(grasp.waypoints["lift"][0, 2], ends["lift"][2], atol=5e-3)
    np.testing.assert_allclose(place.waypoints["move"][0], ends["move"], atol=1e-3)
    np.testing.assert_allclose(place.waypoints["place"][0], ends["place"], atol=3e-3)  # the held object sways
    # the plan made before the grasp assumes the object is held where it was grasped
    np.testing.assert_allclose(grasp.waypoints["place"][0, :2], ends["place"][:2], atol=5e-3)


def test_primitive_at_zero_places_the_object(runner):
    """The zero plan (a 1-sample CEM scores only its mean, zero) executed in the simulator succeeds."""
    cfg = PickPlaceMPCConfig(planner=PlannerConfig(samples=1, iterations=1, elites=1))
    from sim_tasks.sim_predictor import SimulatorPredictor

    for seed in (50_000, 50_002):
        inst = runner.task.sample(seed)
        o = run_pick_place_mpc(runner.backend, runner.task, inst, SimulatorPredictor(runner.backend,
                                                                                    inst.target_object), cfg)
        assert o.success and o.final_error < 0.03, (seed, o.final_error)
        assert len(o.replan_seconds) == 2 and o.steps <= cfg.max_steps


class ToyPredictor:
    """A model whose optimum is known: the object is carried only by a grasp within 1 cm of a sweet spot (the
    object's centre + `spot`), and lands `drift` off where it is released."""

    name = "toy"

    def __init__(self, obj: np.ndarray, spot: np.ndarray, drift: np.ndarray):
        self.obj, self.spot, self.drift = obj, spot, drift
        self.calls, self.seconds = 0, 0.0

    def observe(self, history):
        pass

    def predict(self, actions):
        k, length = actions.shape[:2]
        out = np.broadcast_to(self.obj[:3], (k, length, 3)).copy()
        for i in range(k):
            closed = np.flatnonzero(actions[i, :, 7] < 0.04)
            first = closed[0]
            tool = actions[i, first, :3]
            if np.linalg.norm(tool[:2] - (self.obj[:2] + self.spot)) > 0.01:
                continue
            offset = self.obj[:3] - tool
            for j in range(first, closed[-1] + 1):
                out[i, j] = actions[i, j, :3] + offset
            out[i, closed[-1] + 1:] = out[i, closed[-1]] + np.r_[self.drift, 0.0]
        self.calls += k * length
        return out


def test_planner_finds_the_toy_models_optimum(demo_scene):
    from sim_tasks.tasks import make_task

    task = make_task("pick_place", demo_scene)
    inst = task.sample(7)
    obj = inst.object_poses[inst.target_object]
    start = PrimitiveStart(np.r_[obj[:2], obj[2] + 0.15], 0.3, 0.3, obj)
    spot, drift = np.array([0.02, -0.015]), np.array([0.025, 0.01])
    cfg = PickPlaceMPCConfig(planner=PlannerConfig(samples=64, iterations=6, elites=8))
    res, seq = plan_grasp(ToyPredictor(obj, spot, drift), start, float(obj[2]), task, inst, 0.05, cfg,
                          np.random.default_rng(0))
    assert res.cost < 0.008  # lifted, and released within 8 mm of where it lands on the goal
    np.testing.assert_allclose(seq.waypoints["grasp"][0, :2] - obj[:2], spot, atol=0.01)
    # place: the drift undone (the hold offset is the grasp's, so the place numbers carry only the drift)
    place = res.plan[0, GRASP_PARAMS.index("place_x"):] * PrimitiveConfig().place_offset
    np.testing.assert_allclose(place, -drift, atol=0.008)
    # the same budget of random plans: nothing this precise in a 6-d box (its best is no better)
    rnd = PickPlaceMPCConfig(planner=PlannerConfig(method="random", samples=64, iterations=6))
    res_r, _ = plan_grasp(ToyPredictor(obj, spot, drift), start, float(obj[2]), task, inst, 0.05, rnd,
                          np.random.default_rng(0))
    assert res_r.cost >= res.cost


def test_plan_pick_place_without_a_graspable_object_says_so_in_one_line(tmp_path):
    from exporters.usd import export_usd
    from sim_tasks.demo_scene import DemoBlock, DemoSceneConfig, make_demo_scene

    wide = DemoSceneConfig(blocks=(DemoBlock("crate", (0.12, 0.12, 0.08), 0.5, 1.0, (0.6, 0.4, 0.2), (0.45, 0.0)),))
    usd = export_usd(make_demo_scene(wide), tmp_path / "wide.usda")
    res = CliRunner().invoke(app, ["plan", "pick_place", str(usd), "--method", "oracle"])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no object narrower than" in lines[0], res.output


def test_plan_pick_place_needs_a_model_for_world_model_methods(scene_usd):
    res = CliRunner().invoke(app, ["plan", "pick_place", str(scene_usd), "--method", "world_model"])
    assert res.exit_code != 0 and "give --model" in res.output


def test_exploratory_pick_place_is_the_primitive_at_seeded_random_numbers(runner):
    """pick_place_explore: the same seed gives the same episode; other seeds grasp elsewhere (the planner's box)."""
    a = runner.run_episode(1, task="pick_place_explore", render=False)
    b = runner.run_episode(1, task="pick_place_explore", render=False)
    c = runner.run_episode(2, task="pick_place_explore", render=False)
    np.testing.assert_array_equal(a.frames["action"], b.frames["action"])
    assert "primitive" in [p for _, p in a.phase_log]

    def grasp_offset(r):  # the command where the gripper first closes, from the object's centre
        act = r.frames["action"]
        obj = r.frames["observation.body_poses"][0, list(runner.backend.body_names).index(r.instance.target_object)]
        return act[np.flatnonzero(act[:, 7] < 0.04)[0], :2] - obj[:2]

    off_a, off_c = grasp_offset(a), grasp_offset(c)
    assert np.linalg.norm(off_a - off_c) > 5e-3  # not the demonstrator's centred grasp every time
    assert max(np.abs(off_a).max(), np.abs(off_c).max()) <= PrimitiveConfig().grasp_offset * np.sqrt(2) + 1e-3


def test_pick_place_probe_of_the_simulator_against_itself_finds_no_gap(runner):
    from sim_tasks.planning_probe import probe_pick_place, summarize_pick_place_probe
    from sim_tasks.sim_predictor import SimulatorPredictor

    rows = probe_pick_place(runner, [50_003], lambda inst: SimulatorPredictor(runner.backend, inst.target_object),
                            grasps=2)
    s = summarize_pick_place_probe(rows)
    assert s["held_agreement"] == 1.0 and rows[0].lift_simulated_m[0] > 0.03  # the demonstrator's grasp holds
    assert s["final_gap_mm_median_demonstrator_plan"] < 1e-6 and s["place_gap_mm_median_after_lift"] < 1e-6

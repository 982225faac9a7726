"""Workspace geometry, task sampling and success criteria (no simulator needed)."""

import numpy as np
import pytest

from sim_tasks.kinematics import pose7_to_matrix
from sim_tasks.tasks import TaskConfig, make_task, task_names
from sim_tasks.workspace import Workspace


def test_registered_tasks():
    assert {"pick_place", "pick_place_bowl", "push"} <= set(task_names())


def test_unknown_task_lists_the_registered_ones(demo_scene):
    with pytest.raises(KeyError, match="pick_place_bowl"):
        make_task("stack", demo_scene)


def test_surface_height_on_and_off_the_table(demo_scene):
    ws = Workspace(demo_scene)
    assert ws.surface_height(np.array([0.45, 0.1])) == pytest.approx(0.75, abs=1e-6)
    assert np.isnan(ws.surface_height(np.array([3.0, 0.0])))


@pytest.mark.parametrize("name", ["pick_place", "pick_place_bowl", "push"])
def test_sampling_is_deterministic_reachable_and_collision_free(demo_scene, name):
    task = make_task(name, demo_scene)
    a, b, c = task.sample(7), task.sample(7), task.sample(8)
    for k in a.object_poses:
        np.testing.assert_array_equal(a.object_poses[k], b.object_poses[k])
    np.testing.assert_array_equal(a.goal_position, b.goal_position)
    assert not np.allclose(a.object_poses[a.target_object], c.object_poses[c.target_object])
    ws = task.workspace
    names = list(a.object_poses)
    for k in names:
        pose = a.object_poses[k]
        assert ws.in_reach(pose[:2]), f"{k} placed out of reach"
        # resting on the table: the hull's lowest point touches the surface
        bottom = ws.world_hull(k, pose7_to_matrix(pose))[:, 2].min()
        assert bottom == pytest.approx(0.75, abs=1e-6)
        np.testing.assert_allclose(np.linalg.norm(pose[3:]), 1.0, atol=1e-9)
    for i, k in enumerate(names):
        for m in names[i + 1:]:
            gap = np.linalg.norm(a.object_poses[k][:2] - a.object_poses[m][:2])
            assert gap > ws.footprint_radius(k) + ws.footprint_radius(m), f"{k} and {m} overlap"


def test_target_and_container_choice(demo_scene):
    task = make_task("pick_place_bowl", demo_scene)
    assert task.container == "tray"  # by name
    assert task.target_object == "red_cube"  # first object narrow enough to grasp
    with pytest.raises(ValueError, match="objects are"):
        make_task("pick_place", demo_scene, object_name="mug")


def test_pick_place_success_needs_goal_rest_and_release(demo_scene):
    task = make_task("pick_place", demo_scene)
    inst = task.sample(3)
    poses = dict(inst.object_poses)
    at_goal = poses[inst.target_object].copy()
    at_goal[:2] = inst.goal_position[:2] + [0.01, -0.01]
    poses[inst.target_object] = at_goal
    assert task.success(inst, poses, gripper_width=0.08)
    assert not task.success(inst, poses, gripper_width=0.05)  # still held
    far = at_goal.copy()
    far[:2] = inst.goal_position[:2] + [0.04, 0.0]
    assert not task.success(inst, {**poses, inst.target_object: far}, 0.08)
    lifted = at_goal.copy()
    lifted[2] += 0.03
    assert not task.success(inst, {**poses, inst.target_object: lifted}, 0.08)


def test_container_success_needs_the_object_on_the_container(demo_scene):
    task = make_task("pick_place_bowl", demo_scene)
    inst = task.sample(1)
    tray = inst.object_poses["tray"]
    on_tray = inst.object_poses[inst.target_object].copy()
    on_tray[:2] = tray[:2] + [0.02, 0.01]
    on_tray[2] = 0.75 + 0.02 + 0.025  # cube (5 cm) resting on the 2 cm tray
    poses = {**inst.object_poses, inst.target_object: on_tray}
    assert task.success(inst, poses, 0.08)
    beside = on_tray.copy()
    beside[:2] = tray[:2] + [0.11, 0.0]  # past the tray's 8 cm half width
    assert not task.success(inst, {**poses, inst.target_object: beside}, 0.08)
    above = on_tray.copy()
    above[2] += 0.05
    assert not task.success(inst, {**poses, inst.target_object: above}, 0.08)


def test_push_goal_distance_in_range(demo_scene):
    cfg = TaskConfig()
    task = make_task("push", demo_scene, cfg)
    for seed in range(5):
        inst = task.sample(seed)
        d = np.linalg.norm(inst.goal_position[:2] - inst.object_poses[inst.target_object][:2])
        assert cfg.push_distance[0] - 1e-9 <= d <= cfg.push_distance[1] + 1e-9

"""The exploratory push policy, driven without a simulator (the tool follows its command, objects stay put):
deterministic per seed, different across seeds, planar at push height inside its reach disc, at the planner's
speeds, and covering pushes towards the object as well as motions away from it."""

from __future__ import annotations

import numpy as np
import pytest

from sim_tasks.backend import GRIPPER_CLOSED
from sim_tasks.push_explore_policy import ExplorePushDemonstrator
from sim_tasks.tasks import make_task

DT = 0.05


def _drive(task, seed: int, steps: int = 150):
    inst = task.sample(seed)
    names = tuple(inst.object_poses)
    demo = task.demonstrator(inst, names, DT)
    assert isinstance(demo, ExplorePushDemonstrator)
    poses = np.stack([inst.object_poses[n] for n in names]).astype(np.float32)
    ee = np.array([0.3, 0.0, 1.2, 0.0, 1.0, 0.0, 0.0], np.float32)  # tool z down
    actions, phases = [], []
    for _ in range(steps):
        a = demo.act({"body_poses": poses, "ee_pose": ee, "gripper": np.array([GRIPPER_CLOSED], np.float32)})
        ee = np.r_[a[:3], a[3:7]].astype(np.float32)  # a perfect position servo
        actions.append(a)
        phases.append(demo.phase)
    return inst, demo, np.stack(actions), phases


@pytest.fixture(scope="module")
def task(demo_scene):
    return make_task("push_explore", demo_scene)


def test_explore_is_deterministic_per_seed_and_varies_across_seeds(task):
    a0 = _drive(task, 3)[2]
    np.testing.assert_array_equal(a0, _drive(task, 3)[2])
    assert np.abs(a0 - _drive(task, 4)[2]).max() > 0.01


def test_explore_moves_planar_within_reach_at_planner_speeds_in_every_direction(task):
    headings, pushes_toward, speeds = [], [], []
    for seed in range(6):
        inst, demo, acts, phases = _drive(task, seed)
        assert "explore" in phases and "push" not in phases[phases.index("explore"):]
        k = phases.index("explore")
        xy, z = acts[k:, :2].astype(np.float64), acts[k:, 2]
        assert np.ptp(z) < 1e-6  # planar, at the push height the descent reached
        assert np.linalg.norm(xy - demo._origin, axis=1).max() <= demo.explore.max_reach + 1e-6
        v = np.diff(xy, axis=0) / DT
        s = np.linalg.norm(v, axis=1)
        speeds.extend(s)
        moving = s > 1e-4
        d = demo._push_dir
        headings.extend(np.arctan2(v[moving, 1], v[moving, 0]) - np.arctan2(d[1], d[0]))
        to_obj = inst.object_poses[inst.target_object][:2] - xy[:-1]
        pushes_toward.extend(np.sum(v[moving] * to_obj[moving], axis=1) > 0)
    speeds = np.asarray(speeds)
    assert speeds.max() <= demo.explore.speed[1] + 1e-6
    assert (speeds < 1e-6).mean() > 0.05  # some holds
    along = np.cos(np.asarray(headings))
    assert (along > 0.5).mean() > 0.25 and (along < -0.5).mean() > 0.05  # with and against the demonstrator's push
    assert 0.3 < np.mean(pushes_toward) < 0.95  # mostly towards the object, not only

"""The kinematic baseline on simulated episodes: exact for the robot when no object moves."""

from __future__ import annotations

import numpy as np

from sim_tasks.kinematic_baseline import KinematicBaseline, KinematicBaselineConfig


class _Recorded:
    """A recorded episode in the read API's shape (the baseline reads body_names, roles, fps, spec)."""

    def __init__(self, runner, frames):
        from types import SimpleNamespace

        spec = runner.dataset_spec()
        self.body_names, self.fps, self.spec = spec.body_names, spec.fps, spec
        self.body_roles = dict(zip(spec.body_names, spec.body_roles)) if isinstance(spec.body_roles, tuple) \
            else spec.roles
        self.frames = frames
        self.ns = SimpleNamespace

    def episode(self, e, keys):
        return {k: self.frames[k] for k in keys}


def _free_space_episode(runner, steps=48):
    """The tool sweeps a smooth loop 15-25 cm above the table, opening and closing: nothing is touched."""
    be = runner.backend
    obs = be.reset(0)
    start = obs["ee_pose"].astype(np.float64)
    frames = {"observation.state": [], "observation.body_poses": [], "action": []}
    for k in range(steps):
        phase = 2 * np.pi * k / steps
        a = start.copy()
        a[:3] += [0.08 * np.sin(phase), 0.10 * (1 - np.cos(phase)), 0.03 * np.sin(2 * phase)]
        action = np.concatenate([a, [0.08 if (k // 12) % 2 == 0 else 0.03]]).astype(np.float32)
        frames["observation.state"].append(np.concatenate([obs["joint_pos"][:7], obs["gripper"]]))
        frames["observation.body_poses"].append(obs["body_poses"])
        frames["action"].append(action)
        obs = be.step(action)
    frames["observation.state"].append(np.concatenate([obs["joint_pos"][:7], obs["gripper"]]))
    frames["observation.body_poses"].append(obs["body_poses"])
    return {k: np.stack(v) for k, v in frames.items()}


def test_kinematic_baseline_is_exact_for_the_robot_without_object_motion(runner):
    frames = _free_space_episode(runner)
    ds = _Recorded(runner, frames)
    poses = frames["observation.body_poses"]
    base = KinematicBaseline(ds)
    links = base.link_index
    objects = base.object_index
    assert objects and np.abs(poses[:, objects] - poses[0, objects]).max() < 1e-3  # nothing was touched (settling: 0.1 mm)
    errs, means = [], []
    for t in (0, 8, 16, 24, 31):
        pred = base(0, t, frames["action"][t:t + 16])  # (16, B, 7) after each action
        truth = poses[t + 1:t + 17]
        e = np.linalg.norm(pred[:, links[1:8], :3] - truth[:, links[1:8], :3], axis=-1)  # (16, 7) arm links
        errs.append(e.max())
        means.append(e.mean())
        np.testing.assert_array_equal(pred[:, objects], np.broadcast_to(poses[t, objects], pred[:, objects].shape))
        np.testing.assert_allclose(pred[:, links[0]], truth[:, links[0]], atol=1e-6)  # the base never moves
    # arm links within a few mm of the simulator at every horizon step up to 16: the kinematics are exact
    # (test_panda_chain: 0.2 mm), what is left is the joint servos' lag behind the IK command
    assert max(errs) < 0.01 and np.mean(means) < 0.005, (errs, means)
    # copy-last, for scale: the robot moves centimetres over these windows
    copy = max(np.linalg.norm(poses[t + 16, links[1:8], :3] - poses[t, links[1:8], :3], axis=-1).max()
               for t in (0, 8, 16, 24, 31))
    assert copy > 0.05


def test_carry_variant_moves_a_held_object_with_the_tool():
    """A synthetic grasp: an object at the tool point between closed fingers follows the tool rigidly."""
    from types import SimpleNamespace

    from gwm.geometry import matrix_to_pose7
    from sim_tasks.panda_chain import panda_chain
    from sim_tasks.panda_model import LINK_RECORD_NAMES

    names = ("background", "cube", *LINK_RECORD_NAMES)
    spec = SimpleNamespace(features={"observation.state": 0, "observation.body_poses": 0, "action": 0})
    ds = SimpleNamespace(body_names=names, body_roles={"cube": "object"}, fps=20, spec=spec)
    chain = panda_chain()
    base = np.eye(4)
    q0 = np.array([0.0, -0.4, 0.0, -2.3, 0.0, 2.0, 0.8])
    poses0 = np.zeros((len(names), 7))
    poses0[:, 3] = 1
    for i, m in enumerate(chain.link_poses(q0, 0.04, base)):
        poses0[2 + i] = matrix_to_pose7(m)
    tool0 = chain.tool_pose(q0, base)
    poses0[1] = matrix_to_pose7(tool0)
    poses0[1, :3] += [0.0, 0.0, -0.01]  # a centimetre below the tool point
    target = tool0.copy()
    target[:3, 3] += [0.0, 0.05, 0.10]
    act = np.concatenate([matrix_to_pose7(target), [0.0]])
    actions = np.repeat(act[None], 30, 0)
    still = KinematicBaseline(ds).predict(q0, 0.04, poses0, actions)
    carried = KinematicBaseline(ds, KinematicBaselineConfig(carry=True)).predict(q0, 0.04, poses0, actions)
    np.testing.assert_array_equal(still[-1, 1], poses0[1])
    tool_end = chain.tool_pose(q0, base)  # unused start; compare displacement with the tool's
    moved_tool = carried[-1, 2 + 7, :3] - poses0[2 + 7, :3]  # link7 carries the tool
    np.testing.assert_allclose(carried[-1, 1, :3] - poses0[1, :3], moved_tool, atol=0.01)
    assert np.linalg.norm(carried[-1, 1, :3] - poses0[1, :3]) > 0.08
    del tool_end


"""Baselines that know the action: the robot posed by its own kinematics from the commanded targets.

Actions are absolute tool targets, so the robot's own motion is nearly given by the action. A baseline
that ignores that (copy-last never moves the robot) flatters any learned model. These baselines:

- `kinematic`: from the joint state of the last context frame, each commanded tool target goes through
  the controller's IK (warm-started at the previous solution, the joint step rate-limited as the
  simulator's controller does, sim_tasks.newton_backend), then FK poses every link
  (sim_tasks.panda_chain); the fingers move towards the commanded opening at FINGER_SPEED. Objects stay
  where they were in the last context frame.
- `kinematic_carry`: the same, and an object held at the last context frame (between closed fingers,
  its centre near the tool point) moves rigidly with the tool until the command opens the gripper.

Called like the simulator replay in gwm.model.validate: (episode, start step, actions (H*S, A)) ->
poses (H*S, B, 7) of every dataset body after each action, from the recorded episode's frame `start`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gwm.geometry import matrix_to_pose7, pose7_to_matrix, quat_to_rotmat
from sim_tasks.kinematics import IKConfig
from sim_tasks.panda_chain import panda_chain
from sim_tasks.panda_model import LINK_RECORD_NAMES

OBJECT_ROLES = ("object", "container")


@dataclass(frozen=True)
class KinematicBaselineConfig:
    carry: bool = False  # move a held object with the tool
    ik_iterations: int = 20  # per action (the controller runs 8 warm-started at its previous command)
    max_joint_speed: float = 2.5  # rad/s, the simulator controller's rate limit (NewtonSimConfig)
    finger_speed: float = 0.2  # m/s of opening change (a kinematic guess; the fingers are position servos)
    hold_radius: float = 0.05  # m: an object centre this close to the tool point, with the fingers closed
    hold_max_width: float = 0.075  # m: ... below this opening (closed on something), counts as held


class KinematicBaseline:
    """The robot by IK + FK of the commanded tool targets; objects copied (or carried when held)."""

    def __init__(self, ds, config: KinematicBaselineConfig = KinematicBaselineConfig()):
        names = list(ds.body_names)
        missing = [n for n in LINK_RECORD_NAMES if n not in names]
        if missing:
            raise ValueError(f"the kinematic baseline needs the Panda's links in the dataset; {missing} are missing")
        for key in ("observation.state", "observation.body_poses", "action"):
            if key not in ds.spec.features:
                raise ValueError(f"the kinematic baseline needs the feature {key!r}; the dataset has "
                                 f"{sorted(ds.spec.features)}")
        self.ds, self.config = ds, config
        self.link_index = [names.index(n) for n in LINK_RECORD_NAMES]
        roles = ds.body_roles
        self.object_index = [i for i, n in enumerate(names) if roles.get(n) in OBJECT_ROLES]
        self.dt = 1.0 / float(ds.fps)
        self.chain = panda_chain()
        self._cache: dict[int, dict] = {}

    @property
    def name(self) -> str:
        return "kinematic_carry" if self.config.carry else "kinematic"

    def _episode(self, e: int) -> dict:
        if e not in self._cache:
            if len(self._cache) > 4:
                self._cache.clear()
            self._cache[e] = self.ds.episode(e, ["observation.state", "observation.body_poses"])
        return self._cache[e]

    def __call__(self, episode: int, start: int, actions: np.ndarray) -> np.ndarray:
        ep = self._episode(episode)
        state = np.asarray(ep["observation.state"][start], np.float64)
        poses0 = np.asarray(ep["observation.body_poses"][start], np.float64)
        return self.predict(state[:7], float(state[7]), poses0, np.asarray(actions, np.float64))

    def predict(self, q0: np.ndarray, width0: float, poses0: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Joint state (7,), gripper opening, every body's pose (B, 7) now, actions (K, 8) -> poses (K, B, 7)."""
        cfg, chain = self.config, self.chain
        base = pose7_to_matrix(poses0[self.link_index[0]])  # panda_link0 is the robot base
        q, width = np.asarray(q0, float).copy(), float(width0)
        held, obj_in_tool = None, None
        if cfg.carry:
            held, obj_in_tool = self._held_object(q, width, poses0, base, actions[0])
        ik_cfg = IKConfig()
        out = np.repeat(poses0[None], len(actions), axis=0)
        max_step = cfg.max_joint_speed * self.dt
        for k, a in enumerate(actions):
            target = np.eye(4)
            target[:3, :3] = quat_to_rotmat(a[3:7])
            target[:3, 3] = a[:3]
            q_new = chain.ik(target, q, base, ik_cfg, max_iterations=cfg.ik_iterations)
            dq = q_new - q
            q = q + dq * min(1.0, max_step / max(float(np.abs(dq).max()), 1e-12))
            width += float(np.clip(np.clip(a[7], 0.0, 0.08) - width, -cfg.finger_speed * self.dt,
                                   cfg.finger_speed * self.dt))
            links = chain.link_poses(q, width, base)
            for j, m in zip(self.link_index, links):
                out[k, j] = matrix_to_pose7(m)
            if held is not None:
                if a[7] > width + 0.01:  # the command opens the gripper: let go, the object stays
                    held = None
                else:
                    out[k:, held] = matrix_to_pose7(chain.tool_pose(q, base) @ obj_in_tool)
        return out

    def _held_object(self, q, width, poses0, base, first_action):
        """(body index, object pose in the tool frame) of the object held now, else (None, None)."""
        cfg = self.config
        if width > cfg.hold_max_width or first_action[7] > width + 0.01 or not self.object_index:
            return None, None
        tool = self.chain.tool_pose(q, base)
        dist = [np.linalg.norm(poses0[i, :3] - tool[:3, 3]) for i in self.object_index]
        j = int(np.argmin(dist))
        if dist[j] > cfg.hold_radius:
            return None, None
        i = self.object_index[j]
        return i, np.linalg.inv(tool) @ pose7_to_matrix(poses0[i])


def kinematic_baselines(ds) -> dict[str, KinematicBaseline]:
    """Both variants, by report name."""
    return {b.name: b for b in (KinematicBaseline(ds), KinematicBaseline(ds, KinematicBaselineConfig(carry=True)))}


__all__ = ["KinematicBaseline", "KinematicBaselineConfig", "kinematic_baselines"]

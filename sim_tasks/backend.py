"""What every simulator backend offers: reset, step, body poses, joint state, tool pose.

Action (8,): tool-site target in the world frame, position xyz (3) + quaternion w,x,y,z (4),
then the gripper opening target in metres (1, 0 = closed .. 0.08 = open). Backends turn it
into joint commands (Newton: damped-least-squares IK; Isaac Lab: its differential IK action).

Observation (a dict of numpy arrays, quaternions w-first):
    joint_pos (9,)   7 arm joints + 2 finger joints (m)
    joint_vel (9,)
    gripper (1,)     opening width (m) = sum of the finger joints
    ee_pose (7,)     tool site xyz + quat wxyz, world frame
    body_poses (B,7) every body in `body_names` (background first, then objects, then links)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

import numpy as np

ACTION_DIM = 8
ACTION_NAMES = ["x", "y", "z", "qw", "qx", "qy", "qz", "gripper_width"]
JOINT_NAMES = [f"panda_joint{i}" for i in range(1, 8)] + ["panda_finger_joint1", "panda_finger_joint2"]
BACKGROUND_BODY = "background"
GRIPPER_OPEN = 0.08  # m
GRIPPER_CLOSED = 0.0


def body_roles(body_names, scene) -> tuple[str, ...]:
    """The role (gwm.roles) of each observed body: the background, each scene object's role (from the
    scene file or its shape, carried in the USD), the robot's links and tool (sim_tasks.panda_model)."""
    from sim_tasks.panda_model import LINK_ROLES

    objects = {o.name: o.role for o in scene.objects}
    roles = []
    for name in body_names:
        if name == BACKGROUND_BODY:
            roles.append("background")
        elif name in objects:
            roles.append(objects[name])
        elif name in LINK_ROLES:
            roles.append(LINK_ROLES[name])
        else:
            raise ValueError(f"body {name!r} is neither the background, a scene object {sorted(objects)} nor a "
                             f"robot link {sorted(LINK_ROLES)}")
    return tuple(roles)


def make_action(position: np.ndarray, quat_wxyz: np.ndarray, gripper_width: float) -> np.ndarray:
    """Pack an action; the quaternion is normalised and its sign made canonical (w >= 0)."""
    q = np.asarray(quat_wxyz, np.float64)
    q = q / np.linalg.norm(q)
    if q[0] < 0:
        q = -q
    return np.concatenate([np.asarray(position, np.float64), q, [float(gripper_width)]]).astype(np.float32)


def check_action(action: np.ndarray) -> np.ndarray:
    a = np.asarray(action, np.float64).reshape(-1)
    if a.shape != (ACTION_DIM,):
        raise ValueError(f"action must have {ACTION_DIM} values {ACTION_NAMES}, got shape {np.shape(action)}")
    if not np.isfinite(a).all():
        raise ValueError(f"action has NaN or inf: {a}")
    norm = np.linalg.norm(a[3:7])
    if not 0.5 < norm < 1.5:
        raise ValueError(f"action quaternion (w,x,y,z) {a[3:7]} is not close to unit length (|q| = {norm:.3f})")
    return a


class SimBackend(ABC):
    """A physics simulator with the Panda and the scene's rigid objects."""

    #: bodies whose poses are observed: "background", the scene objects, then the robot links
    body_names: tuple[str, ...]
    #: the scene's movable objects (a subset of body_names)
    object_names: tuple[str, ...]
    #: seconds of simulated time per step()
    control_dt: float

    @abstractmethod
    def reset(self, seed: int, object_poses: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Restart: robot at home, objects at object_poses (name -> xyz + quat wxyz; others at their
        scene pose). Returns the first observation."""

    @abstractmethod
    def step(self, action: np.ndarray) -> dict[str, np.ndarray]:
        """Apply one action for control_dt seconds; returns the observation after it."""

    @abstractmethod
    def body_poses(self) -> np.ndarray:
        """(len(body_names), 7) xyz + quat wxyz, world frame."""

    @abstractmethod
    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Joint positions and velocities, each (9,): arm then fingers."""

    @abstractmethod
    def ee_pose(self) -> np.ndarray:
        """(7,) tool site xyz + quat wxyz, world frame."""

    def observe(self) -> dict[str, np.ndarray]:
        q, qd = self.joint_state()
        return {
            "joint_pos": q.astype(np.float32),
            "joint_vel": qd.astype(np.float32),
            "gripper": np.array([q[7] + q[8]], np.float32),
            "ee_pose": self.ee_pose().astype(np.float32),
            "body_poses": self.body_poses().astype(np.float32),
        }

    def object_pose(self, name: str) -> np.ndarray:
        """(7,) pose of one object."""
        return self.body_poses()[self.body_names.index(name)]


__all__ = [
    "ACTION_DIM", "ACTION_NAMES", "BACKGROUND_BODY", "GRIPPER_CLOSED", "GRIPPER_OPEN", "JOINT_NAMES",
    "SimBackend", "body_roles", "check_action", "make_action",
]

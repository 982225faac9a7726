"""The Panda's kinematic chain in numpy: forward kinematics of every recorded link, and DLS IK.

Parsed from the same MJCF the simulator loads (sim_tasks.panda_model), so the link frames are the
simulator's (tests compare them with recorded link poses). No simulator is needed: the kinematic
baseline (sim_tasks.kinematic_baseline) poses the robot from commanded end-effector targets with it,
and the planners use it to keep a planned tool path reachable.

    chain = panda_chain()
    links = chain.link_poses(q7, gripper_width, base)   # (10, 4, 4) in LINK_RECORD_NAMES order
    q = chain.ik(target_tool (4,4), q_start, base)
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np

from gwm.geometry import quat_to_rotmat
from sim_tasks.kinematics import IKConfig, rotation_error
from sim_tasks.panda_model import ARM_JOINTS, FINGER_JOINTS, FINGER_MAX, LINK_BODIES, TOOL_SITE, franka_assets_dir


def _euler_xyz(a: np.ndarray) -> np.ndarray:
    """MuJoCo's default eulerseq 'xyz' (lower case: axes that move with the frame): Rx @ Ry @ Rz."""
    cx, cy, cz = np.cos(a)
    sx, sy, sz = np.sin(a)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rx @ ry @ rz


def _local_frame(el) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = np.array(el.get("pos", "0 0 0").split(), float)
    if el.get("quat") is not None:
        m[:3, :3] = quat_to_rotmat(np.array(el.get("quat").split(), float))
    elif el.get("euler") is not None:
        m[:3, :3] = _euler_xyz(np.array(el.get("euler").split(), float))
    return m


@dataclass
class _Link:
    name: str
    parent: int  # index into the chain's links, -1 for the root
    offset: np.ndarray  # (4,4) parent frame -> this body's frame at joint zero
    joint: str | None
    axis: np.ndarray  # (3,) in the body frame
    slide: bool


class PandaChain:
    """FK of the Panda's bodies (arm joints q (7,), finger opening), and DLS IK of the tool site."""

    def __init__(self, links: list[_Link], tool_body: int, body_from_tool: np.ndarray, lower, upper):
        self.links = links
        self.tool_body = tool_body
        self.body_from_tool = body_from_tool
        self.lower, self.upper = np.asarray(lower, float), np.asarray(upper, float)
        names = [lk.name for lk in links]
        self.record_index = [names.index(n) for n in LINK_BODIES]
        self.arm_link = [next(i for i, lk in enumerate(links) if lk.joint == j) for j in ARM_JOINTS]

    @classmethod
    def from_mjcf(cls) -> "PandaChain":
        root = ET.parse(franka_assets_dir() / "chain.xml").getroot()
        links: list[_Link] = []
        tool = {}
        lower, upper = [], []

        def walk(el, parent: int) -> None:
            joint = el.find("joint")
            name = joint.get("name") if joint is not None else None
            slide = joint is not None and joint.get("type") == "slide"
            axis = np.array((joint.get("axis") if joint is not None and joint.get("axis") else "0 0 1").split(), float)
            links.append(_Link(el.get("name"), parent, _local_frame(el), name, axis, slide))
            me = len(links) - 1
            if name in ARM_JOINTS:
                lo, hi = (float(x) for x in joint.get("range").split())
                lower.append(lo)
                upper.append(hi)
            for site in el.findall("site"):
                if site.get("name") == TOOL_SITE:
                    tool["body"], tool["offset"] = me, _local_frame(site)
            for child in el.findall("body"):
                walk(child, me)

        walk(root.find("body"), -1)
        if "body" not in tool:
            raise ValueError(f"the Panda MJCF has no site {TOOL_SITE!r}")
        return cls(links, tool["body"], tool["offset"], lower, upper)

    # forward kinematics ---------------------------------------------------------------------------
    def body_frames(self, q: np.ndarray, gripper, base: np.ndarray) -> np.ndarray:
        """World frames (L,4,4) of every body. gripper: the opening width (m, split evenly between the
        fingers, as the controller commands them) or the two finger joint positions (2,)."""
        values = dict(zip(ARM_JOINTS, np.asarray(q, float)))
        g = np.asarray(gripper, float).reshape(-1)
        fingers = np.repeat(g / 2.0, 2) if g.size == 1 else g
        values.update({j: float(np.clip(f, 0.0, FINGER_MAX)) for j, f in zip(FINGER_JOINTS, fingers)})
        frames = np.empty((len(self.links), 4, 4))
        for i, lk in enumerate(self.links):
            m = (base if lk.parent < 0 else frames[lk.parent]) @ lk.offset
            if lk.joint is not None:
                v = values[lk.joint]
                motion = np.eye(4)
                if lk.slide:
                    motion[:3, 3] = lk.axis * v
                else:
                    motion[:3, :3] = _axis_angle(lk.axis, v)
                m = m @ motion
            frames[i] = m
        return frames

    def link_poses(self, q: np.ndarray, gripper, base: np.ndarray) -> np.ndarray:
        """(10, 4, 4) world poses of the recorded links (panda_link0..7, left and right finger)."""
        return self.body_frames(q, gripper, base)[self.record_index]

    def tool_pose(self, q: np.ndarray, base: np.ndarray) -> np.ndarray:
        return self.body_frames(q, 0.0, base)[self.tool_body] @ self.body_from_tool

    def jacobian(self, q: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tool pose (4,4) and its 6x7 geometric Jacobian [linear; angular] in the world frame."""
        frames = self.body_frames(q, 0.0, base)
        tool = frames[self.tool_body] @ self.body_from_tool
        jac = np.empty((6, 7))
        for c, i in enumerate(self.arm_link):
            axis = frames[i][:3, :3] @ self.links[i].axis
            jac[:3, c] = np.cross(axis, tool[:3, 3] - frames[i][:3, 3])
            jac[3:, c] = axis
        return tool, jac

    # inverse kinematics ---------------------------------------------------------------------------
    def ik(self, target: np.ndarray, q_start: np.ndarray, base: np.ndarray, config: IKConfig = IKConfig(),
           max_iterations: int | None = None, rest_q: np.ndarray | None = None) -> np.ndarray:
        """Damped-least-squares IK of the tool site to target (4,4), warm-started at q_start (the
        simulator's controller: sim_tasks.kinematics.PandaIK, same settings)."""
        q = np.asarray(q_start, float).copy()
        rest = q.copy() if rest_q is None else np.asarray(rest_q, float)
        w = np.array([1, 1, 1] + [config.rotation_weight] * 3)
        for _ in range(max_iterations or config.max_iterations):
            tool, jac = self.jacobian(q, base)
            err = np.concatenate([target[:3, 3] - tool[:3, 3], rotation_error(target[:3, :3], tool[:3, :3])])
            if np.linalg.norm(err[:3]) < config.position_tolerance and np.linalg.norm(err[3:]) < config.rotation_tolerance:
                break
            jw = jac * w[:, None]
            pinv = jw.T @ np.linalg.inv(jw @ jw.T + config.damping**2 * np.eye(6))
            dq = pinv @ (w * err) + config.nullspace_gain * (np.eye(7) - pinv @ jw) @ (rest - q)
            q = np.clip(q + np.clip(dq, -config.max_joint_step, config.max_joint_step), self.lower, self.upper)
        return q


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    a = axis / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


@functools.lru_cache(maxsize=1)
def panda_chain() -> PandaChain:
    return PandaChain.from_mjcf()


__all__ = ["PandaChain", "panda_chain"]

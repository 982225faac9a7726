"""Scripted demonstrations: a state machine over tool waypoints, executed through the backend's IK.

`ScriptedDemonstrator` holds what every scripted policy shares (commanded tool motion at bounded
speed, top-down tool orientation and its yaw rate, phases with dwell and timeout); each task owns
its policy (`Task.policy`, built by `task.demonstrator(...)`): sim_tasks/pick_place_policy.py and
sim_tasks/push_policy.py implement `_policy_step`, one control step of their phase machine.

Waypoints are reached by moving a commanded tool position at a bounded speed; a phase ends
when the command has arrived and the measured tool is within tolerance (then its dwell runs),
or when the phase times out (the demo carries on; the task judges success at the end).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gwm.geometry import pose7_to_matrix, rotmat_to_quat, yaw_of, yaw_rotation
from sim_tasks.backend import GRIPPER_OPEN, make_action

if TYPE_CHECKING:
    from sim_tasks.tasks import Task, TaskInstance

# The fingertips are 0.05 m beyond the Panda's tool site (along its z axis); the finger pads
# span from 0.01 m behind the site to the tips.
FINGERTIP_OFFSET = 0.05
FINGER_PAD_CENTRE = 0.016  # pad centre below the site
CLOSED_FINGER_HALF_WIDTH = 0.016  # closed fingertips reach this far from the tool axis along tool x (m)


@dataclass(frozen=True)
class DemoConfig:
    speed: float = 0.45  # m/s, free motion of the commanded tool position
    slow_speed: float = 0.18  # m/s near objects (descend, place)
    push_speed: float = 0.10  # m/s
    yaw_speed: float = 2.0  # rad/s
    clearance: float = 0.07  # m: fingertips this far above the object top when approaching
    lift_height: float = 0.12  # m: fingertips above the start surface after the grasp
    tip_above_surface: float = 0.008  # m: lowest fingertip height while grasping
    push_tip_above_surface: float = 0.015  # m: fingertip height while pushing (no drag on the table)
    push_clearance: float = 0.06  # m: fingertips above the object when moving to (another) push start
    push_lead: float = 0.025  # m: most the pushing command may lead the measured tool
    push_slow_distance: float = 0.04  # m: slow the push down over this distance before the goal ...
    push_min_speed: float = 0.03  # m/s ... to this speed (a tall object stopped abruptly tips over)
    push_settle: float = 0.3  # s easing off after a push before backing off (the object comes to rest)
    push_ease_off: float = 0.008  # m the tool eases back (slowly) while settling
    push_max_side: float = 0.15  # the push's sideways re-aiming per metre forwards (push_policy.steer)
    tolerance: float = 0.012  # m: measured tool distance that counts as arrived
    descend_lag: float = 0.006  # m: the grasp descent waits below the object's top while the tool is farther off
    grasp_dwell: float = 0.45  # s closing the gripper
    release_dwell: float = 0.3  # s opening it
    phase_timeout: float = 2.0  # s per phase before moving on anyway
    max_regrasps: int = 1
    place_gap: float = 0.006  # m: release with the object this far above its resting height
    push_goal_tolerance: float = 0.006  # m: a push pass ends this close to the goal (along the push)
    # m: push again if the object stopped farther than this from the goal (well inside the task's 3 cm;
    # every extra pass on a tall object risks toppling one that had already arrived)
    push_redo_distance: float = 0.02
    max_push_passes: int = 3


class ScriptedDemonstrator(ABC):
    """Produces one action per control step from observations (poses by body name)."""

    initial_gripper = GRIPPER_OPEN

    def __init__(self, task: Task, instance: TaskInstance, body_names: tuple[str, ...], control_dt: float,
                 config: DemoConfig = DemoConfig()):
        self.task, self.instance, self.config = task, instance, config
        self.body_names = tuple(body_names)
        self.dt = control_dt
        self.ws = task.workspace
        self.target = instance.target_object
        self.phase = "approach"
        self.phase_log: list[tuple[int, str]] = []
        self.timeouts: list[str] = []
        self.regrasps = 0
        self.push_passes = 1
        self._cmd_pos: np.ndarray | None = None
        self._cmd_yaw: float | None = None
        self._phase_time = 0.0
        self._dwell = 0.0
        self._entered = False
        self._step = 0
        self._gripper = self.initial_gripper
        self._grasp_yaw = 0.0
        self._hold_offset = None  # object centre minus tool position while held
        self._lift_start_z = 0.0

    # helpers ------------------------------------------------------------------------------
    def _poses(self, obs) -> dict[str, np.ndarray]:
        return {n: obs["body_poses"][i].astype(np.float64) for i, n in enumerate(self.body_names)}

    def _bottom_top(self, name: str, pose: np.ndarray) -> tuple[float, float]:
        z = self.ws.world_hull(name, pose7_to_matrix(pose))[:, 2]
        return float(z.min()), float(z.max())

    def _tool_rotation(self, yaw: float) -> np.ndarray:
        """Top-down tool orientation: z (approach) straight down, turned by yaw about world z."""
        return yaw_rotation(yaw) @ np.diag([1.0, -1.0, -1.0])

    def _set_phase(self, name: str) -> None:
        self.phase = name
        self.phase_log.append((self._step, name))
        self._phase_time = 0.0
        self._dwell = 0.0
        self._entered = False

    def _entering(self) -> bool:
        """True on the first step spent in the current phase."""
        first, self._entered = not self._entered, True
        return first

    def _move(self, goal: np.ndarray, speed: float) -> float:
        """Advance the commanded position towards goal; returns the remaining distance."""
        delta = goal - self._cmd_pos
        dist = float(np.linalg.norm(delta))
        step = speed * self.dt
        self._cmd_pos = goal.copy() if dist <= step else self._cmd_pos + delta * (step / dist)
        return max(0.0, dist - step)

    def _arrived(self, goal, tool_pos, speed, tolerance=None) -> bool:
        remaining = self._move(goal, speed)
        tol = self.config.tolerance if tolerance is None else tolerance
        return remaining == 0.0 and np.linalg.norm(tool_pos - goal) <= tol

    def _timed_out(self) -> bool:
        if self._phase_time > self.config.phase_timeout:
            self.timeouts.append(self.phase)
            return True
        return False

    # control ------------------------------------------------------------------------------
    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        poses = self._poses(obs)
        tool = obs["ee_pose"].astype(np.float64)
        tool_pos = tool[:3]
        if self._cmd_pos is None:
            self._cmd_pos = tool_pos.copy()
            self._cmd_yaw = yaw_of(pose7_to_matrix(tool)[:3, :3])
            self.phase_log.append((0, self.phase))
        yaw_goal = self._policy_step(poses, tool_pos, float(obs["gripper"][0]))
        if yaw_goal is not None:
            dy = wrap_angle(yaw_goal - self._cmd_yaw)
            self._cmd_yaw += float(np.clip(dy, -self.config.yaw_speed * self.dt, self.config.yaw_speed * self.dt))
        self._phase_time += self.dt
        self._step += 1
        quat = rotmat_to_quat(self._tool_rotation(self._cmd_yaw))
        return make_action(self._cmd_pos, quat, self._gripper)

    @abstractmethod
    def _policy_step(self, poses: dict[str, np.ndarray], tool_pos: np.ndarray, gripper_width: float) -> float | None:
        """One control step of the phase machine: moves the command; returns the tool yaw to turn to (or None)."""

    @property
    def done(self) -> bool:
        return self.phase == "done"


def wrap_angle(angle: float) -> float:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def closest_mod_pi(angle: float, reference: float) -> float:
    """angle + k*pi closest to reference."""
    return reference + wrap_angle(2 * (angle - reference)) / 2


__all__ = ["CLOSED_FINGER_HALF_WIDTH", "DemoConfig", "FINGER_PAD_CENTRE", "FINGERTIP_OFFSET", "ScriptedDemonstrator",
           "closest_mod_pi", "wrap_angle"]

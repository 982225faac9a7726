"""Scripted demonstrations: a state machine over tool waypoints, executed through the backend's IK.

Pick-and-place phases: approach (above the object, gripper open and turned to the object's
narrow axis) -> descend -> grasp (close, dwell) -> lift -> move (above the goal) -> place
(lower until the object would touch) -> release (open, dwell) -> retreat -> done.
If the object did not come up with the gripper after the lift, the demonstrator tries again
from approach (at most `max_regrasps` times). Push phases: approach (behind the object,
gripper closed, tool x axis along the push) -> descend -> push (re-aimed every step
at the line through the object towards the goal, slowing down near it) -> settle (ease off while
the object comes to rest) -> back off -> rise -> (a corrective push
from approach if the object stopped off the goal, at most `max_push_passes` in all) ->
retreat -> done.

Each task names the skill it is scripted with (Task.skill: "pick_place" or "push") and, for
pick-and-place, where the held object goes (Task.place_target); the demonstrator never asks which
task class it runs.

Waypoints are reached by moving a commanded tool position at a bounded speed; a phase ends
when the command has arrived and the measured tool is within tolerance (then its dwell runs),
or when the phase times out (the demo carries on; the task judges success at the end).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gwm.geometry import pose7_to_matrix, rotmat_to_quat, yaw_rotation
from sim_tasks.backend import GRIPPER_CLOSED, GRIPPER_OPEN, make_action
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


class ScriptedDemonstrator:
    """Produces one action per control step from observations (poses by body name)."""

    def __init__(self, task: Task, instance: TaskInstance, body_names: tuple[str, ...], control_dt: float,
                 config: DemoConfig = DemoConfig()):
        self.task, self.instance, self.config = task, instance, config
        self.body_names = tuple(body_names)
        self.dt = control_dt
        self.ws = task.workspace
        self.target = instance.target_object
        if task.skill not in ("pick_place", "push"):
            raise ValueError(f"task {task.name!r} asks for scripted skill {task.skill!r}; the demonstrator has "
                             "'pick_place' and 'push'")
        self.is_push = task.skill == "push"
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
        self._gripper = GRIPPER_CLOSED if self.is_push else GRIPPER_OPEN
        self._grasp_yaw = 0.0
        self._hold_offset = None  # object centre minus tool position while held
        self._lift_start_z = 0.0

    # helpers ------------------------------------------------------------------------------
    def _poses(self, obs) -> dict[str, np.ndarray]:
        return {n: obs["body_poses"][i].astype(np.float64) for i, n in enumerate(self.body_names)}

    def _bottom_top(self, name: str, pose: np.ndarray) -> tuple[float, float]:
        z = self.ws.world_hull(name, pose7_to_matrix(pose))[:, 2]
        return float(z.min()), float(z.max())

    def _narrow_axis_yaw(self, name: str, pose: np.ndarray, reference: float) -> float:
        """Tool yaw that puts the finger travel axis across the object's narrowest horizontal width,
        chosen (mod pi) closest to the reference yaw."""
        hull = self.ws.world_hull(name, pose7_to_matrix(pose))[:, :2]
        angles = np.linspace(0, np.pi, 72, endpoint=False)
        proj = hull @ np.stack([np.cos(angles), np.sin(angles)])
        widths = proj.max(0) - proj.min(0)  # (72,)
        finger_axis = angles[int(np.argmin(widths))]
        # Tool yaw psi has its finger (y) axis at psi - pi/2 (see tool_rotation).
        return _closest_mod_pi(finger_axis + np.pi / 2, reference)

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
            r = pose7_to_matrix(tool)[:3, :3]
            self._cmd_yaw = math.atan2(r[1, 0], r[0, 0])
            self.phase_log.append((0, self.phase))
        if self.is_push:
            yaw_goal = self._push_step(poses, tool_pos)
        else:
            yaw_goal = self._pick_place_step(poses, tool_pos, float(obs["gripper"][0]))
        if yaw_goal is not None:
            dy = _wrap(yaw_goal - self._cmd_yaw)
            self._cmd_yaw += float(np.clip(dy, -self.config.yaw_speed * self.dt, self.config.yaw_speed * self.dt))
        self._phase_time += self.dt
        self._step += 1
        quat = rotmat_to_quat(self._tool_rotation(self._cmd_yaw))
        return make_action(self._cmd_pos, quat, self._gripper)

    @property
    def done(self) -> bool:
        return self.phase == "done"

    def _pick_place_step(self, poses, tool_pos, gripper_width) -> float | None:
        cfg = self.config
        obj = poses[self.target]
        bottom, top = self._bottom_top(self.target, obj)
        surface = bottom  # the object rests on the surface before the grasp
        phase = self.phase
        if phase == "approach":
            if self._entering():
                self._grasp_yaw = self._narrow_axis_yaw(self.target, obj, self._cmd_yaw)
            goal = np.array([obj[0], obj[1], top + cfg.clearance + FINGERTIP_OFFSET])
            self._gripper = GRIPPER_OPEN
            yaw_ok = abs(_wrap(self._grasp_yaw - self._cmd_yaw)) < 0.03
            if (self._arrived(goal, tool_pos, cfg.speed) and yaw_ok) or self._timed_out():
                self._set_phase("descend")
            return self._grasp_yaw
        if phase == "descend":
            z = max(surface + cfg.tip_above_surface + FINGERTIP_OFFSET, 0.5 * (bottom + top) + FINGER_PAD_CENTRE)
            goal = np.array([obj[0], obj[1], z])
            # Lower the fingers past the object's top only while the measured tool is over it: a tool
            # lagging sideways (the arm folded near its reach limit) catches the object with a finger
            # and tilts it in the grasp; a tilted narrow-based object then topples when released.
            lag = float(np.linalg.norm(tool_pos[:2] - goal[:2]))
            if lag > cfg.descend_lag and self._cmd_pos[2] - FINGERTIP_OFFSET < top + 0.01:
                goal[2] = max(goal[2], self._cmd_pos[2])  # hold the height, keep moving sideways
            if self._arrived(goal, tool_pos, cfg.slow_speed, tolerance=0.006) or self._timed_out():
                self._set_phase("grasp")
            return self._grasp_yaw
        if phase == "grasp":
            self._gripper = GRIPPER_CLOSED
            self._dwell += self.dt
            if self._dwell >= cfg.grasp_dwell:
                self._hold_offset = obj[:3] - tool_pos
                self._lift_start_z = obj[2]
                self._surface_at_grasp = surface
                self._set_phase("lift")
            return None
        if phase == "lift":
            goal = self._cmd_pos.copy()
            goal[2] = self._surface_at_grasp + cfg.lift_height + FINGERTIP_OFFSET + (top - bottom)
            if self._arrived(goal, tool_pos, cfg.speed) or self._timed_out():
                lifted = obj[2] - self._lift_start_z > 0.03 and gripper_width > 0.005
                if not lifted and self.regrasps < cfg.max_regrasps:
                    self.regrasps += 1
                    self._set_phase("approach")
                else:
                    self._hold_offset = obj[:3] - tool_pos
                    self._set_phase("move")
            return None
        place_xy, rest_bottom = self.task.place_target(self.instance, poses)
        if phase == "move":
            goal = np.array([place_xy[0] - self._hold_offset[0], place_xy[1] - self._hold_offset[1], self._cmd_pos[2]])
            if self._arrived(goal, tool_pos, cfg.speed) or self._timed_out():
                self._set_phase("place")
            return None
        if phase == "place":
            # Lower until the held object's bottom is place_gap above where it will rest.
            tool_minus_bottom = tool_pos[2] - bottom
            goal_z = rest_bottom + cfg.place_gap + tool_minus_bottom
            goal = np.array([place_xy[0] - self._hold_offset[0], place_xy[1] - self._hold_offset[1], goal_z])
            if self._arrived(goal, tool_pos, cfg.slow_speed, tolerance=0.008) or self._timed_out():
                self._set_phase("release")
            return None
        if phase == "release":
            self._gripper = GRIPPER_OPEN
            self._dwell += self.dt
            if self._dwell >= cfg.release_dwell:
                self._retreat_goal = tool_pos + np.array([0.0, 0.0, 0.10])
                self._set_phase("retreat")
            return None
        if phase == "retreat":
            # Slowly: the open fingers are still around the object.
            if self._arrived(self._retreat_goal, tool_pos, cfg.slow_speed) or self._timed_out():
                self._set_phase("done")
            return None
        return None  # done: hold

    def _push_step(self, poses, tool_pos) -> float | None:
        cfg = self.config
        obj = poses[self.target]
        goal_xy = self.instance.goal_position[:2]
        bottom, top = self._bottom_top(self.target, obj)
        to_goal = goal_xy - obj[:2]
        dist = float(np.linalg.norm(to_goal))
        direction = to_goal / max(dist, 1e-9)
        hull = self.ws.world_hull(self.target, pose7_to_matrix(obj))[:, :2] - obj[:2]
        back = float(-(hull @ direction).min())  # object extent behind its centre along the push
        push_z = bottom + cfg.push_tip_above_surface + FINGERTIP_OFFSET
        phase = self.phase
        if phase == "approach":
            if self._entering():
                self._push_dir = direction
                # Tool x along the push: the closed fingers lead with their capsule ends, a 5 cm wide
                # face of nearly constant depth (their travel-axis sides thicken towards the hand and
                # catch the object's top edge, pressing it into the table).
                self._push_yaw = _closest_mod_pi(math.atan2(direction[1], direction[0]), self._cmd_yaw)
            start = obj[:2] - self._push_dir * (back + CLOSED_FINGER_HALF_WIDTH + 0.03)
            goal = np.array([start[0], start[1], top + cfg.push_clearance + FINGERTIP_OFFSET])
            yaw_ok = abs(_wrap(self._push_yaw - self._cmd_yaw)) < 0.03
            if (self._arrived(goal, tool_pos, cfg.speed) and yaw_ok) or self._timed_out():
                self._set_phase("descend")
            return self._push_yaw
        if phase == "descend":
            goal = np.array([self._cmd_pos[0], self._cmd_pos[1], push_z])
            if self._arrived(goal, tool_pos, cfg.slow_speed, tolerance=0.006) or self._timed_out():
                self._push_start_dist = dist
                self._set_phase("push")
            return self._push_yaw
        if phase == "push":
            # Progress along the original push line; stop on arrival, overshoot or lost contact.
            along = float(np.dot(goal_xy - obj[:2], self._push_dir))
            lost = dist > self._push_start_dist + 0.05
            if along <= cfg.push_goal_tolerance or lost or self._phase_time > 2.5 * cfg.phase_timeout:
                if along > cfg.push_goal_tolerance:
                    self.timeouts.append("push")
                # Stop pressing, then ease the tool away from the object while it comes to rest (an
                # abrupt back-off swings the fingertips forward and kicks the object's base).
                self._cmd_pos = np.array([tool_pos[0], tool_pos[1], self._cmd_pos[2]])
                self._retreat_goal = self._cmd_pos - np.array([*self._push_dir * cfg.push_ease_off, 0.0])
                self._set_phase("settle")
                return None
            # Aim at the point behind the object on its line to the goal, a little inside the
            # object so contact is kept; re-aiming every step corrects lateral drift.
            aim = direction if along > 0.02 else self._push_dir
            back = float(-(hull @ aim).min())
            contact = obj[:2] - aim * (back + CLOSED_FINGER_HALF_WIDTH - 0.008)
            goal = np.array([*(contact + aim * min(along, 0.02)), push_z])
            # Slow down towards the goal: a pushed object that is stopped abruptly (or left sliding,
            # braked by friction at its base) tips forwards if it is tall for its footprint.
            slow = min(1.0, max(along, 0.0) / cfg.push_slow_distance)
            self._move(goal, max(cfg.push_min_speed, cfg.push_speed * slow))
            # Bound the push force: the command may not run more than push_lead ahead of the
            # measured tool (a position servo pushes harder the further it lags; a hard push on
            # the upper edge jams the object into the table).
            ahead = self._cmd_pos[:2] - tool_pos[:2]
            n = float(np.linalg.norm(ahead))
            if n > cfg.push_lead:
                self._cmd_pos[:2] = tool_pos[:2] + ahead * (cfg.push_lead / n)
            return None
        if phase == "settle":
            self._move(self._retreat_goal, cfg.push_min_speed)
            self._dwell += self.dt
            if self._dwell >= cfg.push_settle:
                self._retreat_goal = self._cmd_pos - np.array([*self._push_dir * 0.03, 0.0])
                self._set_phase("back_off")
            return None
        if phase == "back_off":
            if self._arrived(self._retreat_goal, tool_pos, cfg.slow_speed) or self._timed_out():
                self._set_phase("rise")
            return None
        if phase == "rise":
            goal = np.array([self._cmd_pos[0], self._cmd_pos[1],
                             max(self._cmd_pos[2], top + cfg.push_clearance + FINGERTIP_OFFSET)])
            if self._arrived(goal, tool_pos, cfg.speed) or self._timed_out():
                # Another, corrective push if the object stopped off the goal (e.g. it drifted sideways).
                if dist > cfg.push_redo_distance and self.push_passes < cfg.max_push_passes:
                    self.push_passes += 1
                    self._set_phase("approach")
                else:
                    self._retreat_goal = self._cmd_pos + np.array([0.0, 0.0, 0.06])
                    self._set_phase("retreat")
            return None
        if phase == "retreat":
            if self._arrived(self._retreat_goal, tool_pos, cfg.speed) or self._timed_out():
                self._set_phase("done")
            return None
        return None


def _wrap(angle: float) -> float:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def _closest_mod_pi(angle: float, reference: float) -> float:
    """angle + k*pi closest to reference."""
    return reference + _wrap(2 * (angle - reference)) / 2


__all__ = ["DemoConfig", "ScriptedDemonstrator", "FINGERTIP_OFFSET"]

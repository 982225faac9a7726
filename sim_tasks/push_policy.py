"""The push task's scripted policy.

Phases: approach (behind the object, gripper closed, tool x axis along the push) -> descend -> push
(re-aimed every step at the line through the object towards the goal, sideways only in step with the
forward motion (`steer`), slowing down near it) ->
settle (ease off while the object comes to rest) -> back off -> rise -> (a corrective push from
approach if the object stopped off the goal, at most `max_push_passes` in all) -> retreat -> done.
"""

from __future__ import annotations

import math

import numpy as np

from gwm.geometry import pose7_to_matrix
from sim_tasks.backend import GRIPPER_CLOSED
from sim_tasks.demonstrator import (CLOSED_FINGER_HALF_WIDTH, FINGERTIP_OFFSET, ScriptedDemonstrator, closest_mod_pi,
                                    wrap_angle)


# The closed fingers lead with a face about 5 cm wide across the push (see the approach phase).
PUSH_FACE_HALF_WIDTH = 0.025


def surface_behind(hull: np.ndarray, aim: np.ndarray, half_width: float, step: float = 0.002) -> float:
    """How far behind the object's centre, along -aim, a flat pusher face of half_width centred on the line
    through the centre first touches the object (hull: (N,2) footprint points relative to the centre). Not the
    footprint's farthest point along -aim: when the object stands turned that is a corner off the line, farther
    back than the face in the way, and a push whose goal is set from it barely presses (a turned tray stood
    still under the fingers until the pass timed out)."""
    from scipy.spatial import ConvexHull

    ring = hull[ConvexHull(hull).vertices]
    a, b = ring, np.roll(ring, -1, axis=0)
    n = np.maximum(np.ceil(np.linalg.norm(b - a, axis=1) / step).astype(int), 1)
    pts = np.concatenate([a[i] + np.linspace(0.0, 1.0, n[i], endpoint=False)[:, None] * (b[i] - a[i])
                          for i in range(len(ring))])
    lateral = pts @ np.array([-aim[1], aim[0]])
    band = np.abs(lateral) <= half_width
    return float(-(pts[band] @ aim).min()) if band.any() else float(-(hull @ aim).min())


def steer(start: np.ndarray, goal: np.ndarray, aim: np.ndarray, max_side: float) -> np.ndarray:
    """goal, with its offset from start across aim cut to at most max_side times its offset along aim
    (none when that is not forward). Friction holds a pushed object to the fingers: a tool that moves sideways
    to get behind the object's new line to the goal drags it sideways with it, farther off that line, and the
    next re-aim moves the tool farther still (a tray ended 5.5 cm beside the goal of a 10 cm push so). Cut so,
    the tool closes that gap while the object keeps heading for the goal."""
    side = np.array([-aim[1], aim[0]])
    d = goal - start
    fwd, lat = float(d @ aim), float(d @ side)
    lat = float(np.clip(lat, -max_side * max(fwd, 0.0), max_side * max(fwd, 0.0)))
    return start + fwd * aim + lat * side


class PushDemonstrator(ScriptedDemonstrator):
    """Push the task's target object along the table to the instance's goal with the closed fingers."""

    initial_gripper = GRIPPER_CLOSED

    def _policy_step(self, poses, tool_pos, gripper_width) -> float | None:
        cfg = self.config
        obj = poses[self.target]
        goal_xy = self.instance.goal_position[:2]
        bottom, top = self._bottom_top(self.target, obj)
        to_goal = goal_xy - obj[:2]
        dist = float(np.linalg.norm(to_goal))
        direction = to_goal / max(dist, 1e-9)
        hull = self.ws.world_hull(self.target, pose7_to_matrix(obj))[:, :2] - obj[:2]
        push_z = bottom + cfg.push_tip_above_surface + FINGERTIP_OFFSET
        phase = self.phase
        if phase == "approach":
            if self._entering():
                self._push_dir = self._reachable_direction(obj, hull, direction)
                self._turned = float(np.dot(direction, self._push_dir)) < 0.999
                # Tool x along the push: the closed fingers lead with their capsule ends, a 5 cm wide
                # face of nearly constant depth (their travel-axis sides thicken towards the hand and
                # catch the object's top edge, pressing it into the table).
                self._push_yaw = closest_mod_pi(math.atan2(self._push_dir[1], self._push_dir[0]), self._cmd_yaw)
            start = self._push_start(obj, hull, self._push_dir)
            goal = np.array([start[0], start[1], top + cfg.push_clearance + FINGERTIP_OFFSET])
            yaw_ok = abs(wrap_angle(self._push_yaw - self._cmd_yaw)) < 0.03
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
            # object so contact is kept; re-aiming every step corrects lateral drift, sideways no faster
            # than push_max_side of the forward motion (steer: a gripped object is dragged along).
            # (a pass turned off the goal line to stay in reach keeps its line)
            aim = direction if along > 0.02 and not self._turned else self._push_dir
            back = surface_behind(hull, aim, PUSH_FACE_HALF_WIDTH)
            contact = obj[:2] - aim * (back + CLOSED_FINGER_HALF_WIDTH - 0.008)
            target = steer(self._cmd_pos[:2], contact + aim * min(along, 0.02), aim, cfg.push_max_side)
            goal = np.array([*target, push_z])
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

    @staticmethod
    def _push_start(obj, hull, d) -> np.ndarray:
        """Where a pass along d starts: behind the object (hull relative to its centre), 3 cm clear."""
        return obj[:2] - d * (float(-(hull @ d).min()) + CLOSED_FINGER_HALF_WIDTH + 0.03)

    def _reachable_direction(self, obj, hull, direction) -> np.ndarray:
        """The push direction nearest the goal's whose start behind the object is within the arm's push
        reach: after a wide object drifted, the straight corrective pass can start beyond the arm's reach
        or over its base, where the arm sweeps the object aside instead (benchmarks/rollouts.py)."""
        for deg in (0, 15, -15, 30, -30, 45, -45, 60, -60):
            c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
            d = np.array([c * direction[0] - s * direction[1], s * direction[0] + c * direction[1]])
            if self.ws.in_push_reach(self._push_start(obj, hull, d)):
                return d
        return direction


__all__ = ["PushDemonstrator"]

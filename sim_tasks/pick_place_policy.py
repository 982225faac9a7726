"""The pick-and-place task's scripted policy.

Phases: approach (above the object, gripper open and turned to the object's narrow axis) -> descend
-> grasp (close, dwell) -> lift -> move (above the goal) -> place (lower until the object would
touch) -> release (open, dwell) -> retreat -> done. If the object did not come up with the gripper
after the lift, it tries again from approach (at most `max_regrasps` times). Where the held object
goes is the task's (Task.place_target).
"""

from __future__ import annotations

import numpy as np

from sim_tasks.backend import GRIPPER_CLOSED, GRIPPER_OPEN
from gwm.geometry import pose7_to_matrix
from sim_tasks.demonstrator import FINGER_PAD_CENTRE, FINGERTIP_OFFSET, ScriptedDemonstrator, closest_mod_pi, wrap_angle


class PickPlaceDemonstrator(ScriptedDemonstrator):
    """Grasp the task's target object from above and put it down where the task says."""

    def _narrow_axis_yaw(self, name: str, pose: np.ndarray, reference: float) -> float:
        """Tool yaw that puts the finger travel axis across the object's narrowest horizontal width,
        chosen (mod pi) closest to the reference yaw."""
        hull = self.ws.world_hull(name, pose7_to_matrix(pose))[:, :2]
        angles = np.linspace(0, np.pi, 72, endpoint=False)
        proj = hull @ np.stack([np.cos(angles), np.sin(angles)])
        widths = proj.max(0) - proj.min(0)  # (72,)
        finger_axis = angles[int(np.argmin(widths))]
        # Tool yaw psi has its finger (y) axis at psi - pi/2 (see tool_rotation).
        return closest_mod_pi(finger_axis + np.pi / 2, reference)

    def _policy_step(self, poses, tool_pos, gripper_width) -> float | None:
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
            yaw_ok = abs(wrap_angle(self._grasp_yaw - self._cmd_yaw)) < 0.03
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


__all__ = ["PickPlaceDemonstrator"]

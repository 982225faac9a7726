"""Exploratory pushes: the push demonstrator's approach, then tool motions that vary around its push.

A world model trained only on scripted demonstrations never sees the object under a push that is not
the demonstrator's (towards the goal, at its speed), so a planner that asks it "what if I push this
way instead" gets no answer. This policy records that answer: after the scripted approach and descent
(the same start the planner gets, sim_tasks.planning_mpc), it moves the closed fingers at push height
in a sequence of straight segments, each with a random heading, speed and duration:

- "push": aimed at the object's current centre, the heading turned by up to `max_turn_deg` (the object
  slides along, sideways or turns);
- "around": a heading relative to the demonstrator's push direction, anywhere in the circle (moving
  away from the object, past it, or along it: the object does not move, or is grazed);
- "hold": the tool stays (the object comes to rest).

Speeds cover the planner's action range (up to PushMPCConfig.max_chunk_move per 3 steps, 0.13 m/s).
The tool never leaves a disc of `max_reach` around where the push began, so it stays in the arm's
reach. Everything random comes from the episode's seed: the same seed gives the same episode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim_tasks.push_policy import PushDemonstrator


@dataclass(frozen=True)
class ExploreConfig:
    segment_s: tuple[float, float] = (0.25, 0.9)  # duration of one segment
    speed: tuple[float, float] = (0.02, 0.13)  # m/s of the commanded tool
    max_turn_deg: float = 60.0  # "push" segments: heading off the line to the object's centre
    p_push: float = 0.6
    p_around: float = 0.3  # the rest: hold
    max_reach: float = 0.16  # m from the push start


class ExplorePushDemonstrator(PushDemonstrator):
    """PushDemonstrator up to the end of its descent, then randomised planar tool motion (see module doc)."""

    explore = ExploreConfig()

    def _policy_step(self, poses, tool_pos, gripper_width):
        if self.phase in ("approach", "descend"):
            yaw = super()._policy_step(poses, tool_pos, gripper_width)
            if self.phase == "push":  # the descent just ended: explore instead of the scripted push
                self._set_phase("explore")
                self._rng = np.random.default_rng([int(self.instance.seed), 0x5EED])
                self._origin = self._cmd_pos[:2].copy()
                self._segment_left = 0.0
            return yaw
        return self._explore_step(poses)

    def _explore_step(self, poses) -> None:
        cfg, rng = self.explore, self._rng
        if self._segment_left <= 0.0:
            self._new_segment(poses[self.target][:2], rng, cfg)
        self._segment_left -= self.dt
        nxt = self._cmd_pos[:2] + self._velocity * self.dt
        off = nxt - self._origin
        r = float(np.linalg.norm(off))
        if r > cfg.max_reach:  # at the edge of the disc: stay on it, end the segment
            nxt = self._origin + off * (cfg.max_reach / r)
            self._segment_left = 0.0
        self._cmd_pos = np.array([nxt[0], nxt[1], self._cmd_pos[2]])
        return None

    def _new_segment(self, obj_xy: np.ndarray, rng: np.random.Generator, cfg: ExploreConfig) -> None:
        self._segment_left = float(rng.uniform(*cfg.segment_s))
        kind = rng.uniform()
        if kind < cfg.p_push:
            to_obj = obj_xy - self._cmd_pos[:2]
            heading = math.atan2(to_obj[1], to_obj[0]) + math.radians(rng.uniform(-cfg.max_turn_deg, cfg.max_turn_deg))
        elif kind < cfg.p_push + cfg.p_around:
            heading = math.atan2(self._push_dir[1], self._push_dir[0]) + rng.uniform(-math.pi, math.pi)
        else:
            self._velocity = np.zeros(2)
            return
        self._velocity = float(rng.uniform(*cfg.speed)) * np.array([math.cos(heading), math.sin(heading)])


__all__ = ["ExploreConfig", "ExplorePushDemonstrator"]

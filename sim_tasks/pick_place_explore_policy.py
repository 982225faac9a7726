"""Exploratory pick-and-place: the demonstrator's approach, then the planner's primitive with random numbers.

A world model trained only on scripted demonstrations sees only grasps that hold; a planner that asks it
"what if I grasp there instead" gets no answer. This policy records that answer with the exact
parameterisation the planner searches (sim_tasks.pick_place_primitive): after the scripted approach it runs
the primitive with six random numbers (grasps off centre, turned, too high or too low: some hold, some slip,
some miss), rebuilding the phases after the lift from the observed state as the planner does. The four grasp
numbers come from a mix (explore_numbers): with probability `near_share` the demonstrator's grasp perturbed by
a normal of std `near_std` (clipped to [-1, 1]), else uniform in [-1, 1]; uniform draws are mostly clearly held
or clearly missed, the near ones put many held/slipped pairs at the hold boundary. The two place numbers are
uniform. Everything random comes from the episode's seed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sim_tasks.pick_place_policy import PickPlaceDemonstrator
from sim_tasks.pick_place_primitive import (GRASP_PARAMS, PLACE_PARAMS, PrimitiveConfig, PrimitiveStart,
                                            grasp_primitive, place_primitive)


def explore_numbers(seed: int, near_share: float, near_std: float) -> np.ndarray:
    """The primitive's six numbers (GRASP_PARAMS) for one exploratory episode, all from `seed`."""
    rng = np.random.default_rng([int(seed), 0x9A5])
    near = rng.random() < near_share
    params = rng.uniform(-1.0, 1.0, len(GRASP_PARAMS))
    grasp = len(GRASP_PARAMS) - len(PLACE_PARAMS)
    if near:
        params[:grasp] = np.clip(rng.normal(0.0, near_std, grasp), -1.0, 1.0)
    return params


class ExplorePickPlaceDemonstrator(PickPlaceDemonstrator):
    primitive = PrimitiveConfig()
    near_share = 0.5  # episodes whose grasp is the demonstrator's, perturbed (explore_numbers)
    near_std = 0.3  # kitchen/workbench uniform draws: offsets past ~0.5 of the box mostly miss

    _queue: list | None = None

    def act(self, obs):
        if self._queue is None:
            action = super().act(obs)
            if self.phase == "approach":
                return action
            self.phase_log.append((self._step, "primitive"))
            self._params = explore_numbers(self.instance.seed, self.near_share, self.near_std)[None]
            self._cfg = replace(self.primitive, demo=self.config)  # the episode's demonstrator settings
            self._start = PrimitiveStart.from_demonstrator(self, obs)
            seq = grasp_primitive(self._params, self._start, self.task, self.instance, self.dt, self._cfg)
            self._queue = list(seq.actions[0][:seq.lift_end + 1])
            self._yaw = float(seq.waypoints["yaw"][0])
            self._placing = False
        if not self._queue and not self._placing:  # the lift is done: the rest from the observed state
            self._placing = True
            seq = place_primitive(self._params[:, len(GRASP_PARAMS) - len(PLACE_PARAMS):], obs,
                                  self._last[:3].astype(np.float64), self._yaw, self.body_names, self.task,
                                  self.instance, self.dt, self._cfg)
            self._queue = list(seq.actions[0])
        if not self._queue:
            if self.phase != "done":
                self._set_phase("done")
            return self._last
        self._last = self._queue.pop(0)
        self._step += 1
        return self._last


__all__ = ["ExplorePickPlaceDemonstrator", "explore_numbers"]

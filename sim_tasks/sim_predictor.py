"""The simulator as the planner's model (the oracle): each candidate action sequence is run in the
simulator itself from a snapshot of the current state, which is restored afterwards. Same interface as
gwm.planning.WorldModelPredictor, so the same planner with this predictor is the oracle planner."""

from __future__ import annotations

import time

import numpy as np


class SimulatorPredictor:
    name = "simulator"

    def __init__(self, backend, target: str):
        self.backend = backend
        self.target = list(backend.body_names).index(target)
        self.calls, self.seconds = 0, 0.0

    def observe(self, history: np.ndarray) -> None:
        """Nothing to do: the simulator's own current state is the observation."""

    def predict(self, actions: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        be = self.backend
        actions = np.asarray(actions, np.float32)
        k, length = actions.shape[:2]
        out = np.empty((k, length, 3))
        snap = be.snapshot()
        try:
            for i in range(k):
                be.restore(snap)
                for j in range(length):
                    out[i, j] = be.step(actions[i, j])["body_poses"][self.target, :3]
        finally:
            be.restore(snap)
        self.calls += k * length
        self.seconds += time.perf_counter() - t0
        return out


__all__ = ["SimulatorPredictor"]

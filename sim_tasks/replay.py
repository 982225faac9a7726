"""Replay recorded actions in the simulator: the ground truth the world model is validated against.

A recorded frame t holds the state before action t. `SimulatorReplay(episode, start, actions)`
resets the simulator to the episode's recorded initial object poses, re-applies the recorded
actions 0..start-1 (so the state equals frame `start`), then applies `actions` and returns
the body poses after each of them: (len(actions), bodies, 7), xyz + quat wxyz, in the
dataset's body order. The simulator is deterministic, so replaying an episode's own actions
reproduces its recorded poses exactly (tested). Validation replays each episode's own
recorded actions from many start steps, so the full-episode replay is simulated once and
kept; any other action sequence is simulated afresh.
"""

from __future__ import annotations

import os

import numpy as np


class SimulatorReplay:
    def __init__(self, scene_usd: str | os.PathLike, ds, backend=None):
        from sim_tasks.newton_backend import NewtonBackend

        self.ds = ds
        self._episode_replays: dict[int, np.ndarray] = {}  # episode -> poses after each recorded action
        self.backend = backend if backend is not None else NewtonBackend(scene_usd)
        if tuple(self.backend.body_names) != tuple(ds.body_names):
            raise ValueError(f"the dataset's bodies {list(ds.body_names)} are not the scene's "
                             f"{list(self.backend.body_names)}; replay in the scene the dataset was recorded in")

    def initial_object_poses(self, episode: int) -> dict[str, np.ndarray]:
        poses0 = self.ds.episode(episode, keys=["observation.body_poses"])["observation.body_poses"][0]
        names = list(self.ds.body_names)
        return {n: poses0[names.index(n)].astype(np.float64) for n in self.backend.object_names}

    def __call__(self, episode: int, start: int, actions: np.ndarray) -> np.ndarray:
        recorded = self.ds.episode(episode, keys=["action"])["action"]
        if not 0 <= start <= len(recorded):
            raise IndexError(f"replay start {start} is outside episode {episode} ({len(recorded)} frames)")
        actions = np.asarray(actions, np.float32)
        end = start + len(actions)
        if end <= len(recorded) and np.array_equal(actions, recorded[start:end]):
            if episode not in self._episode_replays:
                self._episode_replays[episode] = self._simulate(episode, recorded, 0, recorded)
            return self._episode_replays[episode][start:end]
        return self._simulate(episode, recorded, start, actions)

    def _simulate(self, episode: int, recorded: np.ndarray, start: int, actions: np.ndarray) -> np.ndarray:
        be = self.backend
        be.reset(int(self.ds.episode_info(episode)["seed"]), self.initial_object_poses(episode))
        for a in recorded[:start]:
            be.step(a)
        return np.stack([be.step(np.asarray(a, np.float32))["body_poses"] for a in actions]).astype(np.float32)

"""Training windows for the world model: context frames, the action chunk, future frames.

A window starting at frame s of an episode (never crossing its end), with c = context, h = horizon:
    "context/<key>": frames s .. s+c-1        (c, ...)   observations the model conditions on
    "action":        actions s+c-1 .. s+c+h-2 (h, A)     a_t is taken at frame t and leads to frame t+1
    "future/<key>":  frames s+c .. s+c+h-1    (h, ...)   what the model must predict
    "episode", "start": int64 scalars
Images stay uint8 (H, W, 3); everything else keeps its feature dtype.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from gwm.data.base import DatasetReader
from gwm.data.spec import ACTION


class WindowDataset(torch.utils.data.Dataset):
    def __init__(self, ds: DatasetReader, context: int, horizon: int, keys: list[str] | None = None,
                 episodes: list[int] | None = None, cache_episodes: int = 4):
        if context < 1 or horizon < 1:
            raise ValueError(f"context and horizon must be >= 1, got {context}, {horizon}")
        if ACTION not in ds.spec.features:
            raise ValueError(f"{ds.path}: has no 'action' feature, so it has no action chunks")
        self.ds = ds
        self.context = int(context)
        self.horizon = int(horizon)
        obs_keys = [k for k in ds.spec.features if k != ACTION]
        self.keys = obs_keys if keys is None else [k for k in keys if k != ACTION]
        unknown = [k for k in self.keys if k not in ds.spec.features]
        if unknown:
            raise KeyError(f"unknown features {unknown}; the dataset has {list(ds.spec.features)}")
        self.episodes = list(range(ds.num_episodes)) if episodes is None else [int(e) for e in episodes]
        span = self.context + self.horizon
        counts = np.array([max(0, ds.episode_length(e) - span + 1) for e in self.episodes], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(counts)])  # window w lives in episode j where offsets[j] <= w
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        self._cache_size = max(1, cache_episodes)

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def locate(self, index: int) -> tuple[int, int]:
        """Window index -> (episode index, start frame)."""
        if not 0 <= index < len(self):
            raise IndexError(f"window {index} out of range ({len(self)} windows)")
        j = int(np.searchsorted(self._offsets, index, side="right") - 1)
        return self.episodes[j], int(index - self._offsets[j])

    def _episode(self, e: int) -> dict[str, np.ndarray]:
        if e in self._cache:
            self._cache.move_to_end(e)
            return self._cache[e]
        data = self.ds.episode(e, [*self.keys, ACTION])
        self._cache[e] = data
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return data

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        e, s = self.locate(int(index))
        data = self._episode(e)
        c, h = self.context, self.horizon
        out = {}
        for key in self.keys:
            out[f"context/{key}"] = torch.from_numpy(np.ascontiguousarray(data[key][s:s + c]))
            out[f"future/{key}"] = torch.from_numpy(np.ascontiguousarray(data[key][s + c:s + c + h]))
        out["action"] = torch.from_numpy(np.ascontiguousarray(data[ACTION][s + c - 1:s + c - 1 + h]))
        out["episode"] = torch.tensor(e, dtype=torch.int64)
        out["start"] = torch.tensor(s, dtype=torch.int64)
        return out

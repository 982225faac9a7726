"""What a planner asks of a model: from the recent observed poses and candidate action sequences, where
the target object goes. The world model answers here; the simulator oracle (sim_tasks.sim_predictor)
answers the same interface by running the simulator itself.

    predictor.observe(history)              # (T, B, 7) poses of every body, oldest first, last = now
    positions = predictor.predict(actions)  # actions (K, L, A) per control step -> (K, L, 3) target object
                                            # centre after each step
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np
import torch


class Predictor(Protocol):
    name: str
    calls: int  # one-step predictions made (sequences x steps)
    seconds: float  # spent in predict

    def observe(self, history: np.ndarray) -> None: ...

    def predict(self, actions: np.ndarray) -> np.ndarray: ...


class WorldModelPredictor:
    """The Gaussian world model as a predictor: the context is encoded (and its last latent decoded) once per
    replan, every candidate sequence is rolled out in latent space as one batch, each predicted latent is
    decoded once, and the target object's motion is read from the decoded rigid poses (anchored rollout) or
    the decoded Gaussians."""

    name = "world_model"

    def __init__(self, model, info: dict, body_names, target: str, device: str | torch.device = "cpu",
                 sample_steps: int | None = None, seed: int = 0):
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        names = list(info["bodies"]["names"])
        modelled = [names[i] for i in info["bodies"]["modelled"]]
        missing = [n for n in modelled if n not in body_names]
        if missing:
            raise ValueError(f"the world model predicts bodies {missing} that this simulator does not have; plan "
                             "in the scene the model was trained on")
        if target not in modelled:
            raise ValueError(f"the world model does not model {target!r} (it models {modelled})")
        self.index = [list(body_names).index(n) for n in modelled]  # simulator body -> modelled order
        self.target = modelled.index(target)
        self.sample_steps = sample_steps
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        sp = self.model.space
        self.sel = (sp.body_id == self.target).to(self.device)
        self.calls, self.seconds = 0, 0.0
        self._lat = self._centroid = self._position = None

    @torch.inference_mode()
    def observe(self, history: np.ndarray) -> None:
        m = self.model
        c, s = m.context, m.action_chunk
        t = len(history) - 1
        frames = [history[max(0, t - (c - 1 - j) * s)][self.index] for j in range(c)]
        poses = torch.as_tensor(np.stack(frames), dtype=torch.float32, device=self.device)  # (C, M, 7)
        feats = m.space.features_from_poses(poses)  # (C, N, 14)
        self._lat = m.encode(feats[None])  # (1, C, K, D)
        self._centroid = feats[-1][self.sel][:, :3].mean(0)  # (3,) feature units
        self._position = poses[-1, self.target, :3]
        # the last context latent's decoded poses: the anchor of the readout and the first step's relative
        # actions (the same for every candidate, so decoded once per replan)
        rigid = m.cfg.rollout == "anchored" or m.cfg.dit.relative_actions
        self._pose0 = m.vae.decode_poses(self._lat[:, -1]) if rigid else None  # rot (1, M, 3, 3), tr (1, M, 3)

    @torch.inference_mode()
    def predict(self, actions: np.ndarray) -> np.ndarray:
        if self._lat is None:
            raise RuntimeError("WorldModelPredictor.predict before observe")
        t0 = time.perf_counter()
        m = self.model
        s = m.action_chunk
        a = torch.as_tensor(np.asarray(actions), dtype=torch.float32, device=self.device)  # (K, L, A)
        k, length = a.shape[:2]
        if length % s:
            raise ValueError(f"plan length {length} is not a multiple of the model's action chunk {s}")
        a = a.view(k, length // s, s, -1)
        horizon = a.shape[1]
        anchored, relative = m.cfg.rollout == "anchored", m.cfg.dit.relative_actions
        lat = self._lat.expand(k, *self._lat.shape[1:])
        # each predicted latent is decoded once: its poses are the next step's relative actions and the readout
        poses = tuple(p.expand(k, *p.shape[1:]) for p in self._pose0) if relative else None
        preds, decoded = [], []
        for h in range(horizon):
            nxt = m.predict_next(lat, a[:, h], self.gen, self.sample_steps, poses)  # (K, Kt, D)
            preds.append(nxt)
            lat = torch.cat([lat[:, 1:], nxt[:, None]], dim=1)
            if anchored or (relative and h < horizon - 1):
                poses = m.vae.decode_poses(nxt)  # rot (K, M, 3, 3), tr (K, M, 3)
                decoded.append(poses)
        sp = m.space
        if anchored:
            rot = torch.stack([p[0][:, self.target] for p in decoded], 1).flatten(0, 1)  # (K*H, 3, 3)
            tr = torch.stack([p[1][:, self.target] for p in decoded], 1).flatten(0, 1)  # (K*H, 3)
            rot0, tr0 = self._pose0
            r = rot @ rot0[0, self.target].T  # world-frame motion since now
            d_tr = tr - r @ tr0[0, self.target]
            cen = (r @ self._centroid) + d_tr  # (K*H, 3) feature units
        else:
            feats = m.decode(torch.stack(preds, 1).flatten(0, 1))  # (K*H, N, 14)
            cen = feats[:, self.sel, :3].mean(1)
        moved = (cen - self._centroid) * sp.extent  # metres
        pos = (self._position + moved).view(k, -1, 3)  # (K, H, 3) after each model step
        pos = pos.repeat_interleave(s, dim=1)  # per control step (the chunk's end value)
        self.calls += k * horizon
        self.seconds += time.perf_counter() - t0
        return pos.cpu().numpy()


__all__ = ["Predictor", "WorldModelPredictor"]

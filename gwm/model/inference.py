"""Using a trained world model: load it from its safetensors file, build open-loop rollout batches.

The trainer (gwm.model.train) writes what this module reads; validation, benchmarks and planners start here.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from gwm.model.checkpoint import load_checkpoint, load_state_strict
from gwm.model.config import TrainConfig
from gwm.model.gaussian_space import GaussianSpace
from gwm.model.trajectories import Trajectories
from gwm.model.world_model import GaussianWorldModel, WorldModelConfig


def resize_cameras(cams, size: int):
    """Cameras rendered at size x size (intrinsics scaled; assumes the original is square or near it)."""
    return cams.resized(size, size)


def rollout_batch(traj: Trajectories, space: GaussianSpace, starts: list[tuple[int, int]], horizon: int,
                  context: int, chunk: int, device=None):
    """Open-loop windows: start (episode, t) means context states at t-(C-1)S..t, then H steps of S actions.

    -> context features (B,C,N,14), action chunks (B,H,S,A), true states (B,H,N,14).
    """
    ctx, acts, truth = [], [], []
    for e, t in starts:
        p, a = traj.poses[e], traj.actions[e]
        ctx.append(p[[max(0, t - (context - 1 - j) * chunk) for j in range(context)]])
        acts.append(a[t:t + horizon * chunk].reshape(horizon, chunk, -1))
        truth.append(p[[t + (h + 1) * chunk for h in range(horizon)]])
    f = lambda x: space.features_from_poses(torch.stack(x).to(device))  # noqa: E731
    return f(ctx), torch.stack(acts).to(device), f(truth)


def load_world_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[GaussianWorldModel, dict]:
    """A trained model (model.safetensors or a training checkpoint) -> (model in eval mode, metadata)."""
    tensors, meta = load_checkpoint(path)
    info = {k: json.loads(v) if k not in ("format", "format_version") else v for k, v in meta.items()}
    cfg = TrainConfig.from_json(meta["config"])
    shapes = info["shapes"]
    space = GaussianSpace.empty_like_shapes(shapes["num_gaussians"], shapes["num_bodies"])
    model = GaussianWorldModel(WorldModelConfig.from_dict(json.loads(meta["config"])["model"]), space,
                               shapes["action_dim"])
    load_state_strict(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model/")}, f"checkpoint {path}")
    info["config"] = cfg
    return model.to(device).eval(), info


__all__ = ["load_world_model", "resize_cameras", "rollout_batch"]

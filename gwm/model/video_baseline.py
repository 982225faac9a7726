"""Baseline: a 2D action-conditioned video predictor on rendered frames, plus a position probe.

`VideoPredictor` is a patch transformer (8x8 pixel patches of every camera and context frame per
token, the DiT's adaLN-Zero blocks conditioned on the action chunk) predicting the next frames as a
bounded change of the last frame. A conv U-Net of the same size cost ~20x more per step on 2 CPU
cores at 64x64, so it could not be trained to a comparable budget here. It is trained on the same
frames the world model is scored on (renders of the true Gaussian states from the dataset cameras)
and rolled out autoregressively like the world model.

`PositionProbe` reads object positions off frames (a keypoint CNN trained on true frames), so the
video baseline gets an object position error too: the probe applied to its predicted frames. The
probe's error on true frames is its floor and is reported with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from gwm.model.dit import DiTBlock


@dataclass(frozen=True)
class VideoBaselineConfig:
    width: int = 136  # ~ the world model's parameter count (2.2M) with depth 6
    depth: int = 6
    heads: int = 4
    patch: int = 8
    steps: int = 2000
    batch_size: int = 8
    lr: float = 1e-3
    probe_steps: int = 1500
    seed: int = 0


class VideoPredictor(nn.Module):
    """Patch transformer: context frames of all cameras -> next frames, adaLN-Zero on the action chunk.

    Each 8x8 patch position of the image grid is a token carrying that patch of every camera and
    context frame; the output is a bounded change of the last frame per patch (the same DiT blocks as
    the latent dynamics model, so the two differ in what they model, not in the backbone).
    """

    def __init__(self, cfg: VideoBaselineConfig, num_cameras: int, context: int, action_dim: int, chunk: int,
                 image_size: int):
        super().__init__()
        if image_size % cfg.patch:
            raise ValueError(f"video baseline: image size {image_size} is not a multiple of the patch {cfg.patch}")
        self.cfg, self.num_cameras, self.context = cfg, num_cameras, context
        w, p = cfg.width, cfg.patch
        self.grid = image_size // p
        self.embed = nn.Linear(context * num_cameras * 3 * p * p, w)
        self.pos = nn.Parameter(torch.randn(self.grid**2, w) * 0.02)
        self.action_mlp = nn.Sequential(nn.Linear(action_dim * chunk, w), nn.SiLU(), nn.Linear(w, w))
        self.blocks = nn.ModuleList(DiTBlock(w, cfg.heads, 4.0) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(w)
        self.unembed = nn.Linear(w, num_cameras * 3 * p * p)
        nn.init.zeros_(self.unembed.weight)
        nn.init.zeros_(self.unembed.bias)

    def forward(self, frames: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """frames (B, C, cams, H, W, 3) in [0,1], actions (B, S, A) normalised -> next frames (B, cams, H, W, 3)."""
        b, c, k, h, w, _ = frames.shape
        p, g = self.cfg.patch, self.grid
        x = frames.reshape(b, c, k, g, p, g, p, 3).permute(0, 3, 5, 1, 2, 4, 6, 7).reshape(b, g * g, -1)
        tok = self.embed(x * 2 - 1) + self.pos  # (B, G*G, W)
        cond = self.action_mlp(actions.reshape(b, -1))  # (B, W)
        for blk in self.blocks:
            tok = blk(tok, cond)
        delta = torch.tanh(self.unembed(self.norm(tok)))  # (B, G*G, cams*3*p*p)
        delta = delta.reshape(b, g, g, k, p, p, 3).permute(0, 3, 1, 4, 2, 5, 6).reshape(b, k, h, w, 3)
        return (frames[:, -1] + delta).clamp(0, 1)

    @torch.no_grad()
    def rollout(self, context_frames: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """context (B, C, cams, H, W, 3), action chunks (B, H, S, A) normalised -> frames (B, H, cams, H, W, 3)."""
        frames, out = context_frames, []
        for t in range(actions.shape[1]):
            nxt = self(frames, actions[:, t])
            out.append(nxt)
            frames = torch.cat([frames[:, 1:], nxt[:, None]], dim=1)
        return torch.stack(out, dim=1)


class PositionProbe(nn.Module):
    """Frames of all cameras (B, cams, H, W, 3) -> object positions (B, objects, 3) in feature units.

    Keypoint read-out: per camera, a small CNN (on half-size frames with pixel-coordinate channels)
    gives heat maps whose spatial soft-argmax and peak value are image keypoints; an MLP maps the
    keypoints of all cameras to 3D positions. Measured on the synthetic world: ~10-14 mm on held-out
    frames, where a plain CNN regressor of the same budget overfitted to ~50 mm.
    """

    def __init__(self, num_cameras: int, num_objects: int, width: int = 32, keypoints: int = 16):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(5, width, 3, padding=1), nn.SiLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.SiLU(),
            nn.Conv2d(2 * width, keypoints, 3, padding=1))
        self.head = nn.Sequential(nn.Linear(num_cameras * keypoints * 3, 256), nn.SiLU(), nn.Linear(256, 256),
                                  nn.SiLU(), nn.Linear(256, num_objects * 3))
        self.num_objects = num_objects

    @staticmethod
    def _grid(h: int, w: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.meshgrid(torch.linspace(-1, 1, h, device=device), torch.linspace(-1, 1, w, device=device),
                              indexing="ij")

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, k, h, w, _ = frames.shape
        x = frames.permute(0, 1, 4, 2, 3).reshape(b * k, 3, h, w) * 2 - 1
        x = nn.functional.avg_pool2d(x, 2)  # (B*cams, 3, H/2, W/2)
        yy, xx = self._grid(*x.shape[-2:], x.device)
        x = torch.cat([x, xx.expand(b * k, 1, *xx.shape), yy.expand(b * k, 1, *yy.shape)], 1)
        heat = self.conv(x)  # (B*cams, P, h', w')
        prob = heat.flatten(2).softmax(-1).view_as(heat)
        gy, gx = self._grid(*heat.shape[-2:], x.device)
        kp = torch.stack([(prob * gx).sum((2, 3)), (prob * gy).sum((2, 3)), torch.tanh(heat.flatten(2).amax(-1))], -1)
        return self.head(kp.reshape(b, -1)).view(b, self.num_objects, 3)  # kp (B*cams, P, 3) -> (B, O, 3)


def train_video_predictor(model: VideoPredictor, frames: list[torch.Tensor], actions: list[torch.Tensor],
                          action_mean: torch.Tensor, action_std: torch.Tensor, chunk: int,
                          progress: bool = True) -> list[float]:
    """frames: per episode (T, cams, H, W, 3); actions: per episode (T, A). Teacher-forced one-step training."""
    cfg = model.cfg
    gen = torch.Generator().manual_seed(cfg.seed)
    windows = [(e, t) for e, f in enumerate(frames) for t in range(len(f) - chunk)]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    losses = []
    c = model.context
    for step in tqdm(range(cfg.steps), desc="video baseline", disable=not progress, dynamic_ncols=True):
        for g in opt.param_groups:
            g["lr"] = cfg.lr * 0.5 * (1 + torch.cos(torch.tensor(step / cfg.steps * torch.pi))).item()
        pick = torch.randint(len(windows), (cfg.batch_size,), generator=gen)
        ctx, act, tgt = [], [], []
        for i in pick.tolist():
            e, t = windows[i]
            ctx.append(frames[e][[max(0, t - (c - 1 - j) * chunk) for j in range(c)]])
            act.append((actions[e][t:t + chunk] - action_mean) / action_std)
            tgt.append(frames[e][t + chunk])
        pred = model(torch.stack(ctx), torch.stack(act))
        # MSE, the loss PSNR scores: with L1 (median-seeking) the predictor learned to copy the last frame,
        # since most pixels do not change from one step to the next
        loss = (pred - torch.stack(tgt)).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def train_position_probe(probe: PositionProbe, frames: torch.Tensor, positions: torch.Tensor, steps: int,
                         seed: int = 0, lr: float = 1e-3, batch_size: int = 32, progress: bool = True) -> None:
    """frames (F, cams, H, W, 3) -> positions (F, objects, 3) (feature units)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(probe.parameters(), lr=lr)
    for step in tqdm(range(steps), desc="position probe", disable=not progress, dynamic_ncols=True):
        for g in opt.param_groups:
            g["lr"] = lr * 0.5 * (1 + torch.cos(torch.tensor(step / steps * torch.pi))).item()
        idx = torch.randint(len(frames), (batch_size,), generator=gen)
        loss = (probe(frames[idx]) - positions[idx]).pow(2).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


__all__ = ["PositionProbe", "VideoBaselineConfig", "VideoPredictor", "train_position_probe",
           "train_video_predictor"]

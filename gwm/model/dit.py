"""Diffusion transformer backbone (DiT, Peebles & Xie 2023) for action-conditioned latent dynamics.

The network sees the noisy next latent and the context latents token by token (the VAE's query tokens
are slot-aligned across time, so they are concatenated along channels), and is conditioned through
adaLN-Zero on the diffusion noise level plus an embedding of the action chunk. It knows nothing of
the diffusion objective: preconditioning and sampling live in gwm.model.objective.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from gwm.model.attention import Attention, Mlp


@dataclass(frozen=True)
class DiTConfig:
    width: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    context: int = 2  # context latents (the paper: 2)
    action_chunk: int = 1  # actions per predicted step (the dataset steps one model step spans)
    # each token also sees the commanded tool position (the action's first 3 values) in its own body's frame,
    # as decoded from the last context latent (GaussianWorldModel.relative_action_features): contact is decided
    # by where the tool goes relative to an object, which the global adaLN action embedding carries only in
    # absolute world coordinates
    relative_actions: bool = False


def noise_embedding(c_noise: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of the (preconditioned) noise level (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32, device=c_noise.device) / half)
    ang = c_noise.float()[:, None] * 250.0 * freqs[None]  # c_noise = ln(sigma)/4 in ~[-1.6, 1.1]: ~DiT's t range
    return torch.cat([ang.cos(), ang.sin()], dim=-1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class DiTBlock(nn.Module):
    """Self-attention + MLP with adaLN-Zero: shift/scale/gate from the conditioning, gates start at 0."""

    def __init__(self, width: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(width, int(width * mlp_ratio))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))
        nn.init.zeros_(self.ada[-1].weight)
        nn.init.zeros_(self.ada[-1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:  # x (B,K,W), c (B,W)
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(c).chunk(6, dim=-1)  # 6 x (B,W)
        x = x + g1[:, None] * self.attn(modulate(self.norm1(x), sh1, sc1))
        return x + g2[:, None] * self.mlp(modulate(self.norm2(x), sh2, sc2))


class LatentDiT(nn.Module):
    def __init__(self, cfg: DiTConfig, num_tokens: int, latent_dim: int, action_dim: int):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.num_tokens, self.latent_dim, self.action_dim = num_tokens, latent_dim, action_dim
        self.x_in = nn.Linear((1 + cfg.context) * latent_dim, w)
        self.pos = nn.Parameter(torch.randn(num_tokens, w) * 0.02)
        self.noise_mlp = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.action_mlp = nn.Sequential(nn.Linear(cfg.action_chunk * action_dim, w), nn.SiLU(), nn.Linear(w, w))
        self.rel_in = nn.Linear(cfg.action_chunk * 3, w) if cfg.relative_actions else None
        self.blocks = nn.ModuleList(DiTBlock(w, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.final_norm = nn.LayerNorm(w, elementwise_affine=False, eps=1e-6)
        self.final_ada = nn.Sequential(nn.SiLU(), nn.Linear(w, 2 * w))
        self.out = nn.Linear(w, latent_dim)
        for lin in (self.final_ada[-1], self.out):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, context: torch.Tensor, actions: torch.Tensor,
                relative: torch.Tensor | None = None) -> torch.Tensor:
        """x (B,K,D) noisy target (preconditioned), c_noise (B,), context (B,C,K,D), actions (B,S,A),
        relative (B,K,S,3) tool targets in each token's body frame (with cfg.relative_actions) -> (B,K,D)."""
        b, k, d = x.shape
        if context.shape != (b, self.cfg.context, k, d):
            raise ValueError(f"LatentDiT: context {tuple(context.shape)} != {(b, self.cfg.context, k, d)}")
        if actions.shape != (b, self.cfg.action_chunk, self.action_dim):
            want = (b, self.cfg.action_chunk, self.action_dim)
            raise ValueError(f"LatentDiT: actions {tuple(actions.shape)} != {want}")
        tokens = torch.cat([x, context.permute(0, 2, 1, 3).reshape(b, k, -1)], dim=-1)  # (B, K, (1+C)D)
        h = self.x_in(tokens) + self.pos  # (B, K, W)
        if self.rel_in is not None:
            if relative is None or relative.shape != (b, k, self.cfg.action_chunk, 3):
                got = None if relative is None else tuple(relative.shape)
                raise ValueError(f"LatentDiT: relative_actions needs relative {(b, k, self.cfg.action_chunk, 3)}, got {got}")
            h = h + self.rel_in(relative.reshape(b, k, -1))  # (B, K, W)
        c = self.noise_mlp(noise_embedding(c_noise, self.cfg.width)) + self.action_mlp(actions.reshape(b, -1))  # (B,W)
        for blk in self.blocks:
            h = blk(h, c)
        shift, scale = self.final_ada(c).chunk(2, dim=-1)
        return self.out(modulate(self.final_norm(h), shift, scale))  # (B, K, D)


__all__ = ["DiTBlock", "DiTConfig", "LatentDiT", "noise_embedding"]

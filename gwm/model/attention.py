"""Pre-norm transformer blocks shared by the Gaussian VAE (self/cross attention) and the DiT."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head attention; queries from x (B,Q,W), keys/values from ctx (B,S,W) (ctx=x: self-attention)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        if width % heads:
            raise ValueError(f"attention width {width} is not divisible by heads {heads}")
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor | None = None, bias: torch.Tensor | None = None
                ) -> torch.Tensor:
        """bias: additive attention logits broadcastable to (B, heads, Q, S), or None."""
        ctx = x if ctx is None else ctx
        b, q_len, w = x.shape
        h = self.heads
        q = self.q(x).view(b, q_len, h, w // h).transpose(1, 2)  # (B,h,Q,W/h)
        k, v = self.kv(ctx).view(b, ctx.shape[1], 2, h, w // h).permute(2, 0, 3, 1, 4)  # 2 x (B,h,S,W/h)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # (B,h,Q,W/h)
        return self.out(y.transpose(1, 2).reshape(b, q_len, w))


class Mlp(nn.Sequential):
    def __init__(self, width: int, hidden: int, out: int | None = None):
        super().__init__(nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, out or width))


class SelfAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(width), Attention(width, heads)
        self.norm2, self.mlp = nn.LayerNorm(width), Mlp(width, int(width * mlp_ratio))

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """x (B,L,W), optional additive logits bias (.., L, L) -> (B,L,W)."""
        x = x + self.attn(self.norm1(x), None, bias)
        return x + self.mlp(self.norm2(x))


class CrossAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm_q, self.norm_kv, self.attn = nn.LayerNorm(width), nn.LayerNorm(width), Attention(width, heads)
        self.norm2, self.mlp = nn.LayerNorm(width), Mlp(width, int(width * mlp_ratio))

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """x (B,Q,W), ctx (B,S,W), optional additive logits bias (.., heads, Q, S) -> (B,Q,W)."""
        x = x + self.attn(self.norm_q(x), self.norm_kv(ctx), bias)
        return x + self.mlp(self.norm2(x))


def fourier_features(x: torch.Tensor, num_freqs: int) -> torch.Tensor:
    """(..., C) -> (..., 2*C*num_freqs) sin/cos at octave frequencies pi * 2^k (inputs ~[-1,1])."""
    freqs = math.pi * 2.0 ** torch.arange(num_freqs, dtype=x.dtype, device=x.device)  # (F,)
    ang = (x[..., None] * freqs).flatten(-2)  # (..., C*F)
    return torch.cat([ang.sin(), ang.cos()], dim=-1)


__all__ = ["Attention", "CrossAttentionBlock", "Mlp", "SelfAttentionBlock", "fourier_features"]

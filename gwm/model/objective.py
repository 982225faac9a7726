"""Training objectives, kept apart from the networks.

`EDMObjective` (Karras et al. 2022, as in the GWM paper): preconditioning with sigma_data 0.5, training
noise ln(sigma) ~ N(P_mean=-0.4, P_std=1.2), loss weight (sigma^2 + sigma_data^2) / (sigma sigma_data)^2,
and a deterministic Euler sampler over the Karras sigma schedule (5 steps by default, as the official
GWM code). EDM was chosen over flow matching to follow the paper; both reach the same one-step accuracy
here, and EDM's preconditioning keeps the network's input/output at unit scale at every noise level.

`GaussianReconstructionLoss`: parameter losses with known correspondence, optional Chamfer on centres,
optional render L1 through gwm.render.rasterize, and the VAE's KL term.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from gwm.metrics.gaussians import chamfer_distance
from gwm.model.distributed import ShardedGenerator, batch_randn
from gwm.model.gaussian_space import LOG_SCALE, OPACITY, QUAT, RGB, XYZ

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x (B,...), c_noise (B,)) -> F(x)


@dataclass(frozen=True)
class EDMConfig:
    sigma_data: float = 0.5
    p_mean: float = -0.4
    p_std: float = 1.2
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    sample_steps: int = 5


class EDMObjective:
    def __init__(self, cfg: EDMConfig = EDMConfig()):
        self.cfg = cfg

    def denoise(self, net: Denoiser, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """D(x; sigma) = c_skip x + c_out F(c_in x, c_noise); x (B,...), sigma (B,)."""
        sd = self.cfg.sigma_data
        s = sigma.reshape(-1, *([1] * (x.ndim - 1)))
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / (s**2 + sd**2).sqrt()
        c_in = 1 / (s**2 + sd**2).sqrt()
        return c_skip * x + c_out * net(c_in * x, sigma.log() / 4)

    def loss(self, net: Denoiser, x0: torch.Tensor, generator: torch.Generator | ShardedGenerator | None = None
             ) -> torch.Tensor:
        """Weighted denoising loss for clean targets x0 (B, ...); scalar (a mean over the batch)."""
        b = x0.shape[0]
        rnd = batch_randn((b,), generator, device=x0.device)
        sigma = (rnd * self.cfg.p_std + self.cfg.p_mean).exp()  # (B,)
        noise = batch_randn(x0.shape, generator, device=x0.device, dtype=x0.dtype)
        s = sigma.reshape(-1, *([1] * (x0.ndim - 1)))
        denoised = self.denoise(net, x0 + s * noise, sigma)
        weight = (s**2 + self.cfg.sigma_data**2) / (s * self.cfg.sigma_data) ** 2
        return (weight * (denoised - x0) ** 2).mean()

    def sigmas(self, steps: int, device=None) -> torch.Tensor:
        """Karras schedule: steps noise levels from sigma_max to sigma_min, then 0 -> (steps+1,)."""
        c = self.cfg
        i = torch.arange(steps, dtype=torch.float64) / max(steps - 1, 1)
        s = (c.sigma_max ** (1 / c.rho) + i * (c.sigma_min ** (1 / c.rho) - c.sigma_max ** (1 / c.rho))) ** c.rho
        return torch.cat([s, torch.zeros(1, dtype=torch.float64)]).to(device=device, dtype=torch.float32)

    @torch.no_grad()
    def sample(self, net: Denoiser, shape: tuple[int, ...], generator: torch.Generator | None = None,
               steps: int | None = None, device=None) -> torch.Tensor:
        """Euler integration of the probability-flow ODE from sigma_max noise; deterministic given generator."""
        sig = self.sigmas(steps or self.cfg.sample_steps, device)
        x = torch.randn(shape, generator=generator, device=device) * sig[0]
        for i in range(len(sig) - 1):
            d = self.denoise(net, x, sig[i].expand(shape[0]))
            x = x + (sig[i + 1] - sig[i]) * (x - d) / sig[i]
        return x


@dataclass(frozen=True)
class ReconstructionLossConfig:
    xyz: float = 1.0  # MSE on normalised centres (known correspondence)
    log_scale: float = 0.05
    quat: float = 0.1  # 1 - |<q, q'>| (sign-invariant)
    rgb: float = 0.05
    opacity: float = 0.05
    chamfer: float = 0.0  # symmetric Chamfer on normalised centres (needs no correspondence)
    render: float = 0.0  # L1 on renders through gwm.render (0 = off; it costs seconds per step on CPU)
    kl: float = 1e-5


class GaussianReconstructionLoss:
    """Loss of predicted Gaussian features vs targets (B, N, 14); returns (total, parts for logging)."""

    def __init__(self, cfg: ReconstructionLossConfig):
        self.cfg = cfg

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor,
                 render_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
                 ) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.cfg
        qp = pred[..., QUAT] / pred[..., QUAT].norm(dim=-1, keepdim=True).clamp_min(1e-8)
        parts = {
            "xyz": ((pred[..., XYZ] - target[..., XYZ]) ** 2).sum(-1).mean(),
            "log_scale": (pred[..., LOG_SCALE] - target[..., LOG_SCALE]).abs().mean(),
            "quat": (1 - (qp * target[..., QUAT]).sum(-1).abs()).mean(),
            "rgb": (pred[..., RGB] - target[..., RGB]).abs().mean(),
            "opacity": (pred[..., OPACITY] - target[..., OPACITY]).abs().mean(),
            "kl": 0.5 * (mean**2 + logvar.exp() - 1 - logvar).mean(),
        }
        if c.chamfer > 0:
            parts["chamfer"] = chamfer_distance(pred[..., XYZ], target[..., XYZ]).mean()
        if c.render > 0 and render_fn is not None:
            parts["render"] = render_fn(pred, target)
        total = sum(getattr(c, k) * v for k, v in parts.items())
        return total, {k: float(v.detach()) for k, v in parts.items()}


__all__ = ["EDMConfig", "EDMObjective", "GaussianReconstructionLoss", "ReconstructionLossConfig"]

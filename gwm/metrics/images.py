"""Image quality: PSNR and SSIM (the 3DGS definitions), differentiable torch.

Images are channels-last like the renderer's output: (..., H, W, C) floats in [0, data_range].
Leading dimensions are a batch; `reduction="none"` returns one value per image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _as_batch(img: torch.Tensor, ref: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor, tuple]:
    if img.shape != ref.shape:
        raise ValueError(f"{name}: image {tuple(img.shape)} and reference {tuple(ref.shape)} must have the same shape")
    if img.ndim < 3:
        raise ValueError(f"{name}: expected (..., H, W, C) channels-last images, got {tuple(img.shape)}")
    batch = tuple(img.shape[:-3])
    h, w, c = img.shape[-3:]
    return img.reshape(-1, h, w, c), ref.reshape(-1, h, w, c), batch


def _float(t: torch.Tensor) -> torch.Tensor:
    """float64 stays float64 (references, tests); anything else is computed in float32."""
    return t if t.dtype == torch.float64 else t.float()


def _reduce(values: torch.Tensor, batch: tuple, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "none":
        return values.reshape(batch)
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def psnr(img: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0, reduction: str = "mean") -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, 10 log10(range^2 / MSE), MSE per image over H, W, C."""
    x, y, batch = _as_batch(img, ref, "psnr")
    mse = (_float(x) - _float(y)).pow(2).mean(dim=(1, 2, 3))  # (B,)
    values = 10.0 * torch.log10(data_range**2 / mse.clamp_min(1e-20))
    return _reduce(values, batch, reduction)


def gaussian_window(window_size: int = 11, sigma: float = 1.5, dtype=torch.float32, device=None) -> torch.Tensor:
    """(window_size, window_size) normalised Gaussian, the outer product of a 1-D Gaussian."""
    x = torch.arange(window_size, dtype=torch.float64, device=device) - (window_size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g).to(dtype)


def ssim(img: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0, window_size: int = 11,
         sigma: float = 1.5, reduction: str = "mean") -> torch.Tensor:
    """Structural similarity as 3DGS computes it: 11x11 Gaussian window (sigma 1.5), zero
    padding ("same" size), C1 = (0.01 L)^2, C2 = (0.03 L)^2, mean of the SSIM map per image.
    """
    x, y, batch = _as_batch(img, ref, "ssim")
    x = _float(x).permute(0, 3, 1, 2)  # (B, C, H, W)
    y = _float(y).permute(0, 3, 1, 2).to(x.dtype)
    c = x.shape[1]
    win = gaussian_window(window_size, sigma, x.dtype, x.device).expand(c, 1, window_size, window_size)
    pad = window_size // 2

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, win, padding=pad, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    sigma_xx = blur(x * x) - mu_x * mu_x
    sigma_yy = blur(y * y) - mu_y * mu_y
    sigma_xy = blur(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2)) / (
        (mu_x * mu_x + mu_y * mu_y + c1) * (sigma_xx + sigma_yy + c2))  # (B, C, H, W)
    return _reduce(ssim_map.mean(dim=(1, 2, 3)), batch, reduction)

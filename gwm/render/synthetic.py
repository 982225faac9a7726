"""Seeded synthetic scenes for renderer tests and benchmarks.

Gaussians fill a box around the origin with log-uniform sizes, as a reconstructed scene's
would be: at the default cameras each covers a few to tens of pixels.
"""

from __future__ import annotations

import math

import torch

from gwm.cameras import Cameras, intrinsics_from_fov, look_at
from gwm.sh import num_sh_bases
from gwm.splats import GaussianSplats


def random_box_scene(
    num: int,
    *,
    seed: int = 0,
    sh_degree: int = 3,
    half_size: float = 1.0,
    scale_range: tuple[float, float] = (0.005, 0.05),
    opacity_range: tuple[float, float] = (0.05, 0.99),
    dtype: torch.dtype = torch.float32,
) -> GaussianSplats:
    """num Gaussians uniformly in [-half_size, half_size]^3, random orientations and SH."""
    gen = torch.Generator().manual_seed(seed)
    u = lambda *s: torch.rand(*s, generator=gen, dtype=torch.float64)  # noqa: E731
    means = (2 * u(num, 3) - 1) * half_size
    quats = torch.randn(num, 4, generator=gen, dtype=torch.float64)
    lo, hi = math.log(scale_range[0]), math.log(scale_range[1])
    log_scales = lo + (hi - lo) * u(num, 3)
    opac = opacity_range[0] + (opacity_range[1] - opacity_range[0]) * u(num)
    sh = torch.zeros(num, num_sh_bases(sh_degree), 3, dtype=torch.float64)
    sh[:, 0] = (u(num, 3) - 0.5) / 0.28209479177387814  # DC: base colour uniform in [0, 1]
    if sh.shape[1] > 1:
        sh[:, 1:] = 0.15 * torch.randn(num, sh.shape[1] - 1, 3, generator=gen, dtype=torch.float64)
    splats = GaussianSplats(means, quats, log_scales, torch.logit(opac), sh)
    return splats.to(dtype=dtype)


def orbit_cameras(
    num: int,
    width: int,
    height: int,
    *,
    distance: float = 3.0,
    fov_y_deg: float = 60.0,
    elevation_deg: float = 20.0,
    seed: int = 0,
) -> Cameras:
    """num cameras on a circle around the origin looking at it (Z up), at seeded azimuths."""
    gen = torch.Generator().manual_seed(seed)
    azimuths = 2 * math.pi * (torch.arange(num) / max(num, 1) + torch.rand(1, generator=gen))
    elev = math.radians(elevation_deg)
    poses = []
    for az in azimuths.tolist():
        eye = (distance * math.cos(elev) * math.cos(az), distance * math.cos(elev) * math.sin(az),
               distance * math.sin(elev))
        poses.append(look_at(eye, (0.0, 0.0, 0.0)))
    k = intrinsics_from_fov(fov_y_deg, width, height)
    return Cameras(k.expand(num, 3, 3).clone(), torch.stack(poses), width, height)

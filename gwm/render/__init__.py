"""Differentiable Gaussian splat rasterizer for a batch of cameras.

    from gwm.render import rasterize
    out = rasterize(splats, cameras)        # out.rgb (B,H,W,3), out.alpha, out.depth (B,H,W,1)

Backends: "cpu" (torch projection + numba tile rasterizer, gradients w.r.t. every splat
tensor), "gsplat" (gsplat.rasterization on CUDA), "auto" (gsplat for CUDA tensors when it
imports, else cpu). Both follow gsplat's 3DGS conventions (eps2d 0.3 px, alpha clamp 0.999,
1/255 cut-off, transmittance stop 1e-4, 16 px tiles). numba is imported on first CPU render.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from gwm.cameras import Cameras
from gwm.sh import MAX_SH_DEGREE
from gwm.splats import GaussianSplats

BACKENDS = ("auto", "cpu", "gsplat")
# alpha is 0 or >= 1/255 (one Gaussian's minimum); below this the pixel saw nothing.
DEPTH_ALPHA_EPS = 1e-6


@dataclass
class RenderOutput:
    rgb: torch.Tensor  # (B, H, W, 3) with background * (1 - alpha) added
    alpha: torch.Tensor  # (B, H, W, 1) accumulated opacity
    depth: torch.Tensor  # (B, H, W, 1) expected camera z (alpha-weighted z / alpha), 0 where alpha ~ 0


def rasterize(
    splats: GaussianSplats,
    cameras: Cameras,
    *,
    sh_degree: int | None = None,
    background: torch.Tensor | None = None,
    backend: str = "auto",
    near: float = 0.01,
    far: float = 1e3,
) -> RenderOutput:
    """Render splats into every camera of the batch; differentiable w.r.t. all splat tensors.

    sh_degree: SH bands to use (default: all the splats carry); background: (3,) RGB, default black.
    """
    return rasterize_worlds([splats], [cameras], sh_degree=sh_degree, background=background, backend=backend,
                            near=near, far=far)


def rasterize_worlds(
    worlds: Sequence[GaussianSplats],
    cameras: Sequence[Cameras],
    *,
    sh_degree: int | None = None,
    background: torch.Tensor | None = None,
    backend: str = "auto",
    near: float = 0.01,
    far: float = 1e3,
) -> RenderOutput:
    """Render W worlds in one call, each world's Gaussians into its own cameras only.

    Batched rollouts render every world's cameras this way: one gsplat call on CUDA (its batch
    dimension), one tile pass over all images on the CPU. Worlds hold the same number of Gaussians
    and cameras; outputs are (W * C, H, W, ...), world-major. Other arguments as `rasterize`.
    """
    worlds, cameras = list(worlds), list(cameras)
    if not worlds or len(worlds) != len(cameras):
        raise ValueError(f"rasterize: need one camera batch per world, got {len(worlds)} worlds and "
                         f"{len(cameras)} camera batches")
    if backend not in BACKENDS:
        raise ValueError(f"rasterize: unknown backend {backend!r}; choose one of {BACKENDS}")
    if len(worlds) > 1:
        shapes = {(len(s), len(c), c.width, c.height) for s, c in zip(worlds, cameras)}
        if len(shapes) != 1:
            raise ValueError(f"rasterize_worlds: worlds differ in (Gaussians, cameras, width, height): "
                             f"{sorted(shapes)}; batch only copies of one scene, or render them one by one")
    splats = worlds[0]
    have = min(s.sh_degree for s in worlds)
    degree = have if sh_degree is None else int(sh_degree)
    if not 0 <= degree <= min(have, MAX_SH_DEGREE):
        raise ValueError(
            f"rasterize: sh_degree={degree} but the splats carry degree {have}; "
            f"pass sh_degree in 0..{have} or pad with splats.with_sh_degree({degree})"
        )
    if not 0 < near < far:
        raise ValueError(f"rasterize: need 0 < near < far, got near={near}, far={far}")
    if background is not None:
        background = torch.as_tensor(background, dtype=splats.means.dtype, device=splats.means.device)
        if background.shape != (3,):
            raise ValueError(
                f"rasterize: background must be an RGB tensor of shape (3,), got {tuple(background.shape)}"
            )
    if backend == "auto":
        backend = "cpu"
        if splats.means.is_cuda:
            from gwm.render.gsplat_backend import gsplat_available

            backend = "gsplat" if gsplat_available() else "cpu"

    if backend == "gsplat":
        from gwm.render.gsplat_backend import rasterize_gsplat

        rgb, alpha, depth = rasterize_gsplat(worlds, cameras, degree, background, near, far)
    else:
        from gwm.render.cpu_backend import rasterize_projected
        from gwm.render.projection import cat_projected, project_gaussians

        proj = cat_projected([project_gaussians(s, c, degree, near, far) for s, c in zip(worlds, cameras)])
        rgb, alpha, z_sum = rasterize_projected(proj, cameras[0].width, cameras[0].height)
        if background is not None:
            rgb = rgb + background * (1.0 - alpha)
        depth = z_sum / alpha.clamp_min(1e-10)
    depth = torch.where(alpha > DEPTH_ALPHA_EPS, depth, torch.zeros_like(depth))
    return RenderOutput(rgb=rgb, alpha=alpha, depth=depth)


__all__ = ["BACKENDS", "RenderOutput", "rasterize", "rasterize_worlds"]

"""gsplat CUDA backend: maps our types onto `gsplat.rasterization` and back.

`gsplat_arguments` is the whole mapping; the torch reference (gwm.render.torch_reference.
rasterization_reference) consumes the same arguments, so the mapping is tested on CPU too.
"""

from __future__ import annotations

import torch

from gwm.cameras import Cameras
from gwm.splats import GaussianSplats


def gsplat_available() -> bool:
    """True when gsplat imports (its CUDA kernels still need a GPU to run)."""
    try:
        import gsplat  # noqa: F401
    except Exception:  # ImportError, or a broken CUDA toolchain raising at import
        return False
    return True


def gsplat_arguments(
    splats: GaussianSplats,
    cameras: Cameras,
    sh_degree: int,
    background: torch.Tensor | None,
    near: float,
    far: float,
) -> dict:
    """Keyword arguments of gsplat.rasterization (1.5) for our splats and cameras."""
    device, dtype = splats.means.device, splats.means.dtype
    k = (sh_degree + 1) ** 2
    return dict(
        means=splats.means,  # (N, 3)
        quats=splats.quats_wxyz,  # (N, 4) gsplat is w-first and normalises
        scales=torch.exp(splats.log_scales),  # (N, 3)
        opacities=torch.sigmoid(splats.logit_opacities),  # (N,)
        colors=splats.sh[:, :k],  # (N, K, 3) SH coefficients, DC first
        viewmats=cameras.cam_from_world.to(device, dtype),  # (B, 4, 4)
        Ks=cameras.Ks.to(device, dtype),  # (B, 3, 3)
        width=cameras.width,
        height=cameras.height,
        near_plane=near,
        far_plane=far,
        eps2d=0.3,
        sh_degree=sh_degree,
        packed=False,
        tile_size=16,
        backgrounds=None if background is None else background.to(device, dtype).expand(len(cameras), 3).contiguous(),
        render_mode="RGB+ED",
        rasterize_mode="classic",
    )


def gsplat_world_arguments(
    worlds: list[GaussianSplats],
    cameras: list[Cameras],
    sh_degree: int,
    background: torch.Tensor | None,
    near: float,
    far: float,
) -> dict:
    """gsplat_arguments of several worlds stacked on gsplat's leading batch dimension: means (W, N, 3),
    viewmats (W, C, 4, 4), ...; one world keeps the unbatched arguments."""
    per_world = [gsplat_arguments(s, c, sh_degree, background, near, far) for s, c in zip(worlds, cameras)]
    if len(per_world) == 1:
        return per_world[0]
    return {k: torch.stack([a[k] for a in per_world]) if isinstance(v, torch.Tensor) else v
            for k, v in per_world[0].items()}


def split_rgb_ed(colors: torch.Tensor, alphas: torch.Tensor):
    """gsplat's RGB+ED output (B,H,W,4), (B,H,W,1) -> rgb, alpha, expected depth."""
    return colors[..., :3], alphas, colors[..., 3:]


def rasterize_gsplat(
    worlds: list[GaussianSplats],
    cameras: list[Cameras],
    sh_degree: int,
    background: torch.Tensor | None,
    near: float,
    far: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns rgb (B,H,W,3) with background, alpha (B,H,W,1), expected depth (B,H,W,1); B = all worlds'
    cameras, world-major."""
    try:
        from gsplat import rasterization
    except ImportError as err:
        raise ImportError(
            "rasterize(backend='gsplat') needs gsplat: pip install gsplat==1.5.3 on a CUDA machine, "
            "or use backend='cpu'"
        ) from err
    if not all(s.means.is_cuda for s in worlds):
        raise ValueError(
            "rasterize(backend='gsplat') needs CUDA tensors: call splats.to('cuda') and cameras.to('cuda'), "
            "or use backend='cpu'"
        )
    dtype = worlds[0].means.dtype
    args = gsplat_world_arguments([s.to(dtype=torch.float32) for s in worlds], cameras, sh_degree, background,
                                  near, far)
    colors, alphas, _meta = rasterization(**args)  # float32 kernels; autograd casts gradients back
    h, w = cameras[0].height, cameras[0].width
    return split_rgb_ed(colors.reshape(-1, h, w, 4).to(dtype), alphas.reshape(-1, h, w, 1).to(dtype))

"""Pure-torch reference renderer built from gsplat's own torch pieces (slow; for tests and benchmarks).

`rasterization_reference` takes exactly gsplat.rasterization's arguments (the subset we use),
so `render_reference` = our argument mapping (gsplat_backend.gsplat_arguments) + this stand-in.
Projection, SH, tile intersection and offsets are gsplat's `_fully_fused_projection`,
`_spherical_harmonics`, `_isect_tiles` and `_isect_offset_encode`. gsplat's own
`_rasterize_to_pixels` needs a CUDA kernel (rasterize_to_indices_in_range) and nerfacc, so
compositing here is a dense per-tile torch version of gsplat's CUDA forward kernel (same
pixel centres, alpha clamp, 1/255 skip and exclusive 1e-4 stop). Autograd gives gradients.
"""

from __future__ import annotations

import math

import torch

from gwm.cameras import Cameras
from gwm.splats import GaussianSplats

ALPHA_THRESHOLD = 1.0 / 255.0


def rasterize_to_pixels_torch(
    means2d: torch.Tensor,  # (I, N, 2)
    conics: torch.Tensor,  # (I, N, 3)
    colors: torch.Tensor,  # (I, N, C)
    opacities: torch.Tensor,  # (I, N)
    width: int,
    height: int,
    tile_size: int,
    isect_offsets: torch.Tensor,  # (I, tiles_y, tiles_x)
    flatten_ids: torch.Tensor,  # (n_isects,) indices into I*N
) -> tuple[torch.Tensor, torch.Tensor]:
    """Front-to-back compositing per tile; returns colours (I,H,W,C) and alpha (I,H,W,1)."""
    num_images, n, channels = colors.shape
    tiles_y, tiles_x = isect_offsets.shape[-2:]
    flat_offsets = torch.cat([isect_offsets.flatten().long(), torch.tensor([len(flatten_ids)])]).tolist()
    xy = means2d.reshape(-1, 2)
    con = conics.reshape(-1, 3)
    col = colors.reshape(-1, channels)
    opa = opacities.reshape(-1)
    out_colors = means2d.new_zeros(num_images, height, width, channels)
    out_alpha = means2d.new_zeros(num_images, height, width, 1)
    for i in range(num_images):
        for ty in range(tiles_y):
            for tx in range(tiles_x):
                t = (i * tiles_y + ty) * tiles_x + tx
                k0, k1 = flat_offsets[t], flat_offsets[t + 1]
                if k1 == k0:
                    continue
                x0, y0 = tx * tile_size, ty * tile_size
                x1, y1 = min(x0 + tile_size, width), min(y0 + tile_size, height)
                ys, xs = torch.meshgrid(
                    torch.arange(y0, y1, dtype=xy.dtype) + 0.5, torch.arange(x0, x1, dtype=xy.dtype) + 0.5,
                    indexing="ij",
                )
                pix = torch.stack([xs.flatten(), ys.flatten()], -1)  # (P, 2)
                g = flatten_ids[k0:k1].long()  # (G,) front to back
                delta = xy[g][None] - pix[:, None]  # (P, G, 2)
                c = con[g]
                sigma = 0.5 * (c[:, 0] * delta[..., 0] ** 2 + c[:, 2] * delta[..., 1] ** 2) + c[:, 1] * delta[
                    ..., 0
                ] * delta[..., 1]  # (P, G)
                alpha = torch.clamp_max(opa[g] * torch.exp(-sigma), 0.999)
                keep = (sigma >= 0) & (alpha >= ALPHA_THRESHOLD)
                alpha = torch.where(keep, alpha, torch.zeros_like(alpha))
                one_minus = 1.0 - alpha
                t_excl = torch.cat([torch.ones_like(alpha[:, :1]), torch.cumprod(one_minus, 1)[:, :-1]], 1)
                with torch.no_grad():  # a pixel stops before the Gaussian taking T to <= 1e-4
                    stop = keep & (t_excl * one_minus <= 1e-4)
                    live = torch.cumsum(stop.int(), 1) == 0
                weights = alpha * t_excl * live  # (P, G)
                tile_colors = weights @ col[g]  # (P, C)
                t_final = torch.where(live, one_minus, torch.ones_like(one_minus)).prod(1)  # (P,)
                out_colors[i, y0:y1, x0:x1] = tile_colors.reshape(y1 - y0, x1 - x0, channels)
                out_alpha[i, y0:y1, x0:x1, 0] = (1.0 - t_final).reshape(y1 - y0, x1 - x0)
    return out_colors, out_alpha


def rasterization_reference(
    means: torch.Tensor,  # (N, 3)
    quats: torch.Tensor,  # (N, 4) w-first
    scales: torch.Tensor,  # (N, 3)
    opacities: torch.Tensor,  # (N,)
    colors: torch.Tensor,  # (N, K, 3) SH coefficients
    viewmats: torch.Tensor,  # (B, 4, 4) cam_from_world
    Ks: torch.Tensor,  # (B, 3, 3)
    width: int,
    height: int,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
    sh_degree: int | None = None,
    packed: bool = False,
    tile_size: int = 16,
    backgrounds: torch.Tensor | None = None,  # (B, 3)
    render_mode: str = "RGB+ED",
    rasterize_mode: str = "classic",
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Torch stand-in for gsplat.rasterization (pinhole, SH colours, RGB+ED, classic, unpacked).

    Same arguments and outputs, so the backend's argument mapping is exercised on CPU:
    render_colors (B,H,W,4) = RGB (+ background) and expected depth, render_alphas (B,H,W,1).
    """
    from gsplat.cuda._torch_impl import (
        _fully_fused_projection,
        _isect_offset_encode,
        _isect_tiles,
        _quat_scale_to_covar_preci,
        _spherical_harmonics,
    )

    if (render_mode, rasterize_mode, packed) != ("RGB+ED", "classic", False) or sh_degree is None:
        raise NotImplementedError("reference covers render_mode='RGB+ED', classic, unpacked, SH colours only")
    b, n = viewmats.shape[0], means.shape[0]
    covars, _ = _quat_scale_to_covar_preci(quats, scales, compute_preci=False)
    radii, means2d, depths, conics, _ = _fully_fused_projection(
        means, covars, viewmats, Ks, width, height, eps2d=eps2d, near_plane=near_plane, far_plane=far_plane
    )
    campos = torch.inverse(viewmats)[:, :3, 3]
    dirs = means[None] - campos[:, None]  # (B, N, 3)
    k = (sh_degree + 1) ** 2
    coeffs = colors[None, :, :k].expand(b, n, k, 3)
    rgb = torch.clamp_min(_spherical_harmonics(sh_degree, dirs, coeffs) + 0.5, 0.0)  # (B, N, 3)
    features = torch.cat([rgb, depths[..., None]], -1)  # (B, N, 4): RGB + z, as gsplat's RGB+ED
    tiles_x, tiles_y = math.ceil(width / tile_size), math.ceil(height / tile_size)
    _, isect_ids, flatten_ids = _isect_tiles(means2d, radii, depths, tile_size, tiles_x, tiles_y)
    offsets = _isect_offset_encode(isect_ids, b, tiles_x, tiles_y)
    image, alpha = rasterize_to_pixels_torch(
        means2d, conics, features, opacities[None].expand(b, n), width, height, tile_size, offsets, flatten_ids
    )
    if backgrounds is not None:  # gsplat pads the background with 0 for the depth channel
        image = image + torch.cat([backgrounds, backgrounds.new_zeros(b, 1)], -1)[:, None, None] * (1.0 - alpha)
    image = torch.cat([image[..., :3], image[..., 3:] / alpha.clamp(min=1e-10)], -1)
    return image, alpha, {}


def render_reference(
    splats: GaussianSplats,
    cameras: Cameras,
    *,
    sh_degree: int | None = None,
    background: torch.Tensor | None = None,
    near: float = 0.01,
    far: float = 1e3,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """rgb (B,H,W,3), alpha (B,H,W,1), expected depth (B,H,W,1), 0 where alpha ~ 0, like rasterize()."""
    from gwm.render import DEPTH_ALPHA_EPS
    from gwm.render.gsplat_backend import gsplat_arguments, split_rgb_ed

    degree = splats.sh_degree if sh_degree is None else sh_degree
    colors, alphas, _ = rasterization_reference(**gsplat_arguments(splats, cameras, degree, background, near, far))
    rgb, alpha, depth = split_rgb_ed(colors, alphas)
    return rgb, alpha, torch.where(alpha > DEPTH_ALPHA_EPS, depth, torch.zeros_like(depth))

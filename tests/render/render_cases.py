"""Shared scenes and helpers for the renderer tests (reference: gsplat's torch pieces)."""

from __future__ import annotations

import torch

from gwm.cameras import Cameras
from gwm.render import rasterize
from gwm.render.synthetic import orbit_cameras, random_box_scene
from gwm.splats import GaussianSplats

PARAMS = ("means", "quats_wxyz", "log_scales", "logit_opacities", "sh")
W, H = 70, 45  # not multiples of 16: partial tiles on both edges


def two_cameras(dtype=torch.float64, width=W, height=H) -> Cameras:
    """Two cameras with different poses and intrinsics (focal lengths, off-centre principal point)."""
    cams = orbit_cameras(2, width, height, seed=1)
    ks = cams.Ks.clone()
    ks[1, 0, 0] *= 1.2
    ks[1, 1, 1] *= 1.1
    ks[1, 0, 2] += 5.0
    ks[1, 1, 2] -= 3.0
    return Cameras(ks, cams.world_from_cam, width, height).to(dtype=dtype)


def small_scene(num=200, seed=3, sh_degree=3, dtype=torch.float64) -> GaussianSplats:
    """Gaussians covering ~1-10 px at 70x45 that overlap (mean alpha ~0.4)."""
    return random_box_scene(num, seed=seed, sh_degree=sh_degree, scale_range=(0.05, 0.3), dtype=dtype)


def ours(cameras: Cameras, **kwargs):
    def fn(splats):
        out = rasterize(splats, cameras, backend="cpu", **kwargs)
        return out.rgb, out.alpha, out.depth

    return fn


def reference(cameras: Cameras, **kwargs):
    from gwm.render.torch_reference import render_reference

    return lambda splats: render_reference(splats, cameras, **kwargs)


def render_and_grads(render_fn, splats: GaussianSplats, seed: int = 0):
    """Render with render_fn(splats) -> (rgb, alpha, depth); return outputs and d(loss)/d(param).

    The loss weights every output pixel by a fixed random weight, so every gradient path
    (colour, alpha, expected depth) is exercised.
    """
    leaves = splats.detach().clone()
    for name in PARAMS:
        getattr(leaves, name).requires_grad_(True)
    rgb, alpha, depth = render_fn(leaves)
    gen = torch.Generator().manual_seed(seed)

    def weight(t):
        return torch.rand(t.shape, generator=gen, dtype=torch.float64).to(t.dtype)

    loss = (rgb * weight(rgb)).sum() + (alpha * weight(alpha)).sum() + 0.1 * (depth * weight(depth)).sum()
    loss.backward()
    grads = {name: getattr(leaves, name).grad for name in PARAMS}
    return (rgb.detach(), alpha.detach(), depth.detach()), grads


def assert_close(name, got, want, atol, rtol):
    """max |got - want| <= atol + rtol * max |want| (rtol is relative to the tensor's scale)."""
    assert got.shape == want.shape, f"{name}: shape {tuple(got.shape)} vs {tuple(want.shape)}"
    assert torch.isfinite(got).all(), f"{name}: non-finite values"
    if want.numel() == 0:
        return
    scale = want.abs().max().item()
    err = (got - want).abs().max().item()
    assert err <= atol + rtol * scale, f"{name}: max abs error {err:.3e} > {atol:.1e} + {rtol:.1e} * {scale:.3e}"


def assert_matches(got, want, atol, rtol):
    """Compare ((rgb, alpha, depth), grads) pairs from render_and_grads."""
    (images, grads), (ref_images, ref_grads) = got, want
    for name, a, b in zip(("rgb", "alpha", "depth"), images, ref_images):
        assert_close(name, a, b, atol, rtol)
    for name in PARAMS:
        assert_close(f"d loss / d {name}", grads[name], ref_grads[name], atol, rtol)

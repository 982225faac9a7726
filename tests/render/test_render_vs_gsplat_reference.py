"""CPU renderer vs a reference built from gsplat's pure-torch pieces: images and gradients.

In float64 both sides compute the same quantities in a different order, so images and
gradients must agree to ~1e-9 relative; float32 runs get 1e-4 (images) and 1e-3 (gradients).
"""

from __future__ import annotations

import math

import pytest
import torch

from gwm.cameras import Cameras, intrinsics_from_fov, look_at
from gwm.render.projection import project_gaussians
from gwm.splats import GaussianSplats

from render_cases import (
    H,
    PARAMS,
    W,
    assert_close,
    assert_matches,
    ours,
    reference,
    render_and_grads,
    small_scene,
    two_cameras,
)

torch_impl = pytest.importorskip("gsplat.cuda._torch_impl", reason="gsplat's torch reference is a test extra")

F64_TOL = dict(atol=1e-10, rtol=1e-9)
BACKGROUND = torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64)


@pytest.mark.parametrize("sh_degree", [0, 1, 2, 3])
def test_projection_matches_gsplat(sh_degree):
    splats = small_scene(sh_degree=3)
    cams = two_cameras()
    proj = project_gaussians(splats, cams, sh_degree, near=0.01, far=1e3)
    covars, _ = torch_impl._quat_scale_to_covar_preci(splats.quats_wxyz, splats.scales, compute_preci=False)
    radii, means2d, depths, conics, _ = torch_impl._fully_fused_projection(
        splats.means, covars, cams.cam_from_world, cams.Ks, W, H, eps2d=0.3, near_plane=0.01, far_plane=1e3
    )
    assert torch.equal(proj.valid, (depths > 0.01) & (depths < 1e3))
    v = proj.valid
    assert_close("means2d", proj.means2d[v], means2d[v], **F64_TOL)
    assert_close("conics", proj.conics[v], conics[v], **F64_TOL)
    assert_close("depths", proj.depths[v], depths[v], **F64_TOL)
    dirs = splats.means[None] - torch.inverse(cams.cam_from_world)[:, None, :3, 3]
    k = (sh_degree + 1) ** 2
    sh = splats.sh[None, :, :k].expand(2, -1, -1, -1)
    want = torch.clamp_min(torch_impl._spherical_harmonics(sh_degree, dirs, sh) + 0.5, 0.0)
    assert_close("colors", proj.colors, want, **F64_TOL)


@pytest.mark.parametrize("sh_degree", [0, 1, 2, 3])
def test_images_and_gradients_match_reference(sh_degree):
    splats = small_scene(sh_degree=sh_degree, seed=10 + sh_degree)
    cams = two_cameras()
    got = render_and_grads(ours(cams, background=BACKGROUND), splats)
    want = render_and_grads(reference(cams, background=BACKGROUND), splats)
    assert 0.2 < want[0][1].mean() < 0.8, "scene should be partly covered"
    assert_matches(got, want, **F64_TOL)


def test_float32_matches_reference():
    splats = small_scene(sh_degree=3, seed=7, dtype=torch.float32)
    cams = two_cameras(dtype=torch.float32)
    got = render_and_grads(ours(cams), splats)
    want = render_and_grads(reference(cams), splats)
    assert all(t.dtype == torch.float32 for t in got[0])
    (images, grads), (ref_images, ref_grads) = got, want
    for name, a, b in zip(("rgb", "alpha", "depth"), images, ref_images):
        assert_close(name, a, b, atol=1e-4, rtol=1e-5)
    for name in PARAMS:
        assert_close(f"d loss / d {name}", grads[name], ref_grads[name], atol=1e-4, rtol=1e-3)


def test_gaussians_behind_and_around_the_camera():
    """Camera inside the cloud: Gaussians behind it, beside it and crossing the near plane."""
    splats = small_scene(num=300, seed=5, sh_degree=1)
    k = intrinsics_from_fov(70.0, W, H)
    cams = Cameras(k, look_at((0.1, -0.05, 0.02), (1.0, 0.4, 0.1)), W, H).to(dtype=torch.float64)
    got = render_and_grads(ours(cams, near=0.05), splats)
    want = render_and_grads(reference(cams, near=0.05), splats)
    assert_matches(got, want, **F64_TOL)
    z = project_gaussians(splats, cams, 1, 0.05, 1e3).valid[0]
    behind = ~z
    assert behind.sum() > 100, "the scene should put many Gaussians behind the camera"
    for name in PARAMS:
        assert got[1][name][behind].abs().max() == 0.0, f"culled Gaussians got gradient in {name}"


def test_off_screen_gaussians():
    """A narrow field of view: most Gaussians off-screen, some straddling the image border."""
    splats = small_scene(num=300, seed=6, sh_degree=2)
    k = intrinsics_from_fov(12.0, W, H)
    cams = Cameras(k, look_at((3.0, 0.5, 0.4), (0.0, 0.0, 0.0)), W, H).to(dtype=torch.float64)
    got = render_and_grads(ours(cams), splats)
    want = render_and_grads(reference(cams), splats)
    assert_matches(got, want, **F64_TOL)
    proj = project_gaussians(splats, cams, 2, 0.01, 1e3)
    (u, v), (a, b, c) = proj.means2d[0].T, proj.conics[0].T
    rx, ry = 3.33 * (c / (a * c - b * b)).sqrt(), 3.33 * (a / (a * c - b * b)).sqrt()  # gsplat's 3.33 sigma
    far_out = (u + rx < 0) | (u - rx > W) | (v + ry < 0) | (v - ry > H)
    inside = (u >= 0) & (u < W) & (v >= 0) & (v < H)
    straddling = ~inside & ~far_out
    assert far_out.sum() > 50 and inside.sum() > 10 and straddling.sum() > 10
    for name in PARAMS:
        assert got[1][name][far_out].abs().max() == 0.0, f"off-screen Gaussians got gradient in {name}"
    assert (got[1]["means"][straddling].abs().sum(-1) > 0).sum() > 5, "border Gaussians should get gradient"


def test_degenerate_scales_and_opacities():
    """Sub-pixel, flat (one axis 1e-6 m), huge (5 m, covering the image) and near-transparent Gaussians."""
    base = small_scene(num=120, seed=8, sh_degree=1)
    log_scales = base.log_scales.clone()
    log_scales[:30] = math.log(1e-6)  # tiny: only the 0.3 px dilation remains
    log_scales[30:60, 2] = math.log(1e-6)  # flat discs
    log_scales[60:63] = math.log(5.0)  # huge, cover the whole image
    logit = base.logit_opacities.clone()
    logit[60:63] = -2.0  # keep the huge ones translucent so the rest stays visible
    logit[63:70] = torch.logit(torch.tensor(0.5 / 255.0, dtype=torch.float64))  # below 1/255: never drawn
    splats = GaussianSplats(base.means, base.quats_wxyz, log_scales, logit, base.sh)
    cams = two_cameras()
    got = render_and_grads(ours(cams, background=BACKGROUND), splats)
    want = render_and_grads(reference(cams, background=BACKGROUND), splats)
    assert_matches(got, want, **F64_TOL)
    assert got[0][1].min() > 0.05, "huge Gaussians should cover every pixel"
    assert got[1]["logit_opacities"][63:70].abs().max() == 0.0


def test_batch_equals_one_camera_at_a_time():
    splats = small_scene(sh_degree=2, seed=9)
    cams = two_cameras()
    images, grads = render_and_grads(ours(cams), splats)
    for b in range(2):
        one_images, _ = render_and_grads(ours(cams[b]), splats)
        for name, a, c in zip(("rgb", "alpha", "depth"), images, one_images):
            assert_close(f"{name}[{b}]", a[b : b + 1], c, atol=1e-12, rtol=0)
    assert not torch.allclose(images[0][0], images[0][1]), "different poses must give different images"

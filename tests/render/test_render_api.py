"""rasterize(): contract, edge cases, finite-difference gradients, backend choice."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from gwm.cameras import Cameras, intrinsics_from_fov, look_at
from gwm.render import RenderOutput, rasterize
from gwm.splats import GaussianSplats

from render_cases import H, PARAMS, W, small_scene, two_cameras

BACKGROUND = torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64)


def test_output_shapes_dtypes_and_ranges():
    splats = small_scene(sh_degree=1, dtype=torch.float32)
    out = rasterize(splats, two_cameras(dtype=torch.float32))
    assert isinstance(out, RenderOutput)
    assert out.rgb.shape == (2, H, W, 3) and out.alpha.shape == (2, H, W, 1) and out.depth.shape == (2, H, W, 1)
    assert out.rgb.dtype == out.alpha.dtype == out.depth.dtype == torch.float32
    assert 0.0 <= out.alpha.min() and out.alpha.max() <= 1.0
    covered = out.alpha[..., 0] > 0.5
    # expected depth of a covered pixel lies within the scene's depth range from the camera (~3 m)
    assert 1.0 < out.depth[covered].min() and out.depth[covered].max() < 5.0
    assert (out.depth[out.alpha == 0] == 0).all()


def test_empty_scene_returns_background_and_zero_gradients():
    splats = GaussianSplats.empty(sh_degree=2, dtype=torch.float64)
    for name in PARAMS:
        getattr(splats, name).requires_grad_(True)
    out = rasterize(splats, two_cameras(), background=BACKGROUND)
    assert torch.equal(out.rgb, BACKGROUND.expand(2, H, W, 3))
    assert (out.alpha == 0).all() and (out.depth == 0).all()
    (out.rgb.sum() + out.alpha.sum() + out.depth.sum()).backward()
    for name in PARAMS:
        grad = getattr(splats, name).grad
        assert grad is not None and grad.shape == getattr(splats, name).shape and grad.numel() == 0


def test_scene_entirely_behind_the_camera_gives_background_and_zero_gradients():
    splats = small_scene(num=50, sh_degree=1)
    k = intrinsics_from_fov(60.0, W, H)
    cams = Cameras(k, look_at((0.0, -3.0, 0.0), (0.0, -6.0, 0.0)), W, H).to(dtype=torch.float64)  # looks away
    for name in PARAMS:
        getattr(splats, name).requires_grad_(True)
    out = rasterize(splats, cams, background=BACKGROUND)
    assert torch.equal(out.rgb, BACKGROUND.expand(1, H, W, 3)) and (out.alpha == 0).all()
    (out.rgb.sum() + out.alpha.sum() + out.depth.sum()).backward()
    for name in PARAMS:
        grad = getattr(splats, name).grad
        assert torch.isfinite(grad).all() and (grad == 0).all(), name


def test_background_is_composited_behind():
    splats = small_scene(sh_degree=0)
    cams = two_cameras()
    black = rasterize(splats, cams)
    over = rasterize(splats, cams, background=BACKGROUND)
    torch.testing.assert_close(over.rgb, black.rgb + BACKGROUND * (1 - black.alpha), rtol=0, atol=1e-12)
    torch.testing.assert_close(over.alpha, black.alpha, rtol=0, atol=0)


def test_lower_sh_degree_truncates_coefficients():
    splats = small_scene(sh_degree=3)
    cams = two_cameras()
    a = rasterize(splats, cams, sh_degree=1)
    b = rasterize(splats.with_sh_degree(1), cams)
    torch.testing.assert_close(a.rgb, b.rgb, rtol=0, atol=1e-12)
    assert not torch.allclose(a.rgb, rasterize(splats, cams).rgb, atol=1e-3)


def test_finite_difference_gradients_float64():
    """torch.autograd.gradcheck of the whole renderer (projection + kernel) on a tiny scene.

    Gaussians are large and translucent so no pixel sits near the 1/255 alpha cut-off or
    the 1e-4 transmittance stop, where the rendering function is discontinuous.
    """
    gen = torch.Generator().manual_seed(0)
    n = 4
    splats = GaussianSplats(
        means=0.15 * torch.randn(n, 3, generator=gen, dtype=torch.float64),
        quats_wxyz=torch.randn(n, 4, generator=gen, dtype=torch.float64),
        log_scales=torch.log(1.5 + 0.5 * torch.rand(n, 3, generator=gen, dtype=torch.float64)),  # ~8-10 px
        logit_opacities=torch.logit(0.3 + 0.4 * torch.rand(n, generator=gen, dtype=torch.float64)),
        sh=0.4 * torch.randn(n, 9, 3, generator=gen, dtype=torch.float64),
    )
    cams = two_cameras(width=22, height=18)
    bg = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)

    def render(*tensors):
        out = rasterize(GaussianSplats(*tensors), cams, background=bg)
        return torch.cat([out.rgb.flatten(), out.alpha.flatten(), 0.1 * out.depth.flatten()])

    inputs = tuple(getattr(splats, name).clone().requires_grad_(True) for name in PARAMS)
    alpha = rasterize(splats, cams).alpha
    assert alpha.min() > 0.05, "test scene must cover every pixel (no alpha cut-off inside the image)"
    assert torch.autograd.gradcheck(render, inputs, eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True)


def test_backend_choice_and_argument_errors():
    splats = small_scene(num=50, sh_degree=1)
    cams = two_cameras()
    auto = rasterize(splats, cams, backend="auto")
    cpu = rasterize(splats, cams, backend="cpu")
    assert torch.equal(auto.rgb, cpu.rgb)
    with pytest.raises((ValueError, ImportError), match="backend='cpu'"):
        rasterize(splats, cams, backend="gsplat")  # CPU tensors: gsplat needs CUDA
    with pytest.raises(ValueError, match="unknown backend"):
        rasterize(splats, cams, backend="opengl")
    with pytest.raises(ValueError, match="sh_degree=3 but the splats carry degree 1"):
        rasterize(splats, cams, sh_degree=3)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        rasterize(splats, cams, background=torch.zeros(4))
    with pytest.raises(ValueError, match="near < far"):
        rasterize(splats, cams, near=0.0)


def _render_sum(_):
    splats = small_scene(sh_degree=1)
    return rasterize(splats, two_cameras(width=128, height=96)).rgb.sum().item()


def test_render_in_a_forked_worker_after_the_parent_rendered():
    """DataLoader-style: fork after rendering, worker limits torch to 1 thread, renders the same."""
    import multiprocessing

    want = _render_sum(None)  # the parent renders first (creating its kernel thread pool)
    with multiprocessing.get_context("fork").Pool(1, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        got = pool.map_async(_render_sum, [0]).get(timeout=120)
    assert got[0] == pytest.approx(want, rel=1e-12)  # summation order differs with 1 thread


def test_import_gwm_render_does_not_load_numba():
    code = "import sys, gwm, gwm.render; assert 'numba' not in sys.modules, 'numba imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="gsplat CUDA parity needs a GPU")
def test_gsplat_cuda_matches_cpu_backend():
    pytest.importorskip("gsplat")
    splats = small_scene(sh_degree=3, dtype=torch.float32)
    cams = two_cameras(dtype=torch.float32)
    bg = BACKGROUND.float()
    leaves = {}
    results = {}
    for backend, device in (("cpu", "cpu"), ("gsplat", "cuda")):
        s = splats.detach().clone().to(device)  # .to("cpu") alone returns the same tensors: no fresh leaves
        for name in PARAMS:
            getattr(s, name).requires_grad_(True)
        out = rasterize(s, cams.to(device), background=bg.to(device), backend=backend)
        (out.rgb.sum() + out.alpha.sum() + 0.1 * out.depth.sum()).backward()
        leaves[backend] = {name: getattr(s, name).grad.cpu() for name in PARAMS}
        results[backend] = [t.detach().cpu() for t in (out.rgb, out.alpha, out.depth)]
    for a, b in zip(results["cpu"], results["gsplat"]):
        torch.testing.assert_close(a, b, atol=2e-3, rtol=1e-3)
    for name in PARAMS:
        g_cpu, g_cuda = leaves["cpu"][name], leaves["gsplat"][name]
        assert (g_cpu - g_cuda).norm() <= 1e-2 * g_cpu.norm() + 1e-6, name

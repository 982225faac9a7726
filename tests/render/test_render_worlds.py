"""rasterize_worlds: several worlds' cameras in one call equal each world rendered on its own."""

from __future__ import annotations

import pytest
import torch

from gwm.cameras import Cameras
from gwm.render import rasterize, rasterize_worlds
from gwm.render.synthetic import orbit_cameras

from render_cases import PARAMS, assert_close, small_scene, two_cameras

BACKGROUND = torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64)


def _worlds():
    """Two worlds of the same size with different Gaussians and different camera poses."""
    splats = [small_scene(num=120, seed=3, sh_degree=2), small_scene(num=120, seed=11, sh_degree=2)]
    other = orbit_cameras(2, 70, 45, seed=5).to(dtype=torch.float64)
    return splats, [two_cameras(), other]


def _leaves(splats):
    s = splats.detach().clone()
    for name in PARAMS:
        getattr(s, name).requires_grad_(True)
    return s


def _loss(out):
    gen = torch.Generator().manual_seed(0)
    return sum((t * torch.rand(t.shape, generator=gen, dtype=t.dtype)).sum() for t in (out.rgb, out.alpha, out.depth))


def test_worlds_in_one_call_equal_each_world_alone_with_gradients():
    splats, cams = _worlds()
    batched = [_leaves(s) for s in splats]
    out = rasterize_worlds(batched, cams, background=BACKGROUND, backend="cpu")
    assert out.rgb.shape == (4, 45, 70, 3)
    _loss(out).backward()
    for w, (s, c) in enumerate(zip(splats, cams)):
        alone = _leaves(s)
        ref = rasterize(alone, c, background=BACKGROUND, backend="cpu")
        part = slice(2 * w, 2 * w + 2)
        for name in ("rgb", "alpha", "depth"):
            assert_close(f"{name}[world {w}]", getattr(out, name)[part].detach(), getattr(ref, name).detach(),
                         atol=1e-12, rtol=0)
        # the same per-pixel weights as in the batched loss, restricted to this world's images
        gen = torch.Generator().manual_seed(0)
        loss = 0.0
        for t_all, t in zip((out.rgb, out.alpha, out.depth), (ref.rgb, ref.alpha, ref.depth)):
            weight = torch.rand(t_all.shape, generator=gen, dtype=t_all.dtype)[part]
            loss = loss + (t * weight).sum()
        loss.backward()
        for name in PARAMS:
            assert_close(f"d/d{name}[world {w}]", getattr(batched[w], name).grad, getattr(alone, name).grad,
                         atol=1e-9, rtol=1e-9)
    # each world sees only its own Gaussians: the worlds' images differ
    assert (out.rgb[0] - out.rgb[2]).abs().max() > 0.05


def test_gsplat_world_arguments_stack_each_world_for_gsplat():
    """The stacked gsplat arguments, sliced per world, render what rasterize renders (gsplat's torch pieces)."""
    pytest.importorskip("gsplat.cuda._torch_impl", reason="gsplat's torch reference is a test extra")
    from gwm.render.gsplat_backend import gsplat_world_arguments
    from gwm.render.torch_reference import rasterization_reference

    splats, cams = _worlds()
    args = gsplat_world_arguments(splats, cams, 2, BACKGROUND, 0.01, 1e3)
    assert args["means"].shape == (2, 120, 3) and args["viewmats"].shape == (2, 2, 4, 4)
    assert args["backgrounds"].shape == (2, 2, 3)
    for w in range(2):
        one = {k: v[w] if isinstance(v, torch.Tensor) else v for k, v in args.items()}
        colors, alphas, _ = rasterization_reference(**one)
        ref = rasterize(splats[w], cams[w], background=BACKGROUND, backend="cpu")
        assert_close(f"rgb[world {w}]", colors[..., :3], ref.rgb, atol=1e-9, rtol=1e-9)
        assert_close(f"alpha[world {w}]", alphas, ref.alpha, atol=1e-9, rtol=1e-9)


def test_worlds_must_match_in_size():
    splats, cams = _worlds()
    with pytest.raises(ValueError, match="one camera batch per world"):
        rasterize_worlds(splats, cams[:1])
    with pytest.raises(ValueError, match="worlds differ"):
        rasterize_worlds([splats[0], splats[1][:100]], cams)
    with pytest.raises(ValueError, match="worlds differ"):
        rasterize_worlds(splats, [cams[0], cams[1][0]])
    with pytest.raises(ValueError, match="worlds differ"):
        rasterize_worlds(splats, [cams[0], Cameras(cams[1].Ks, cams[1].world_from_cam, 64, 45)])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="gsplat on CUDA needs a GPU")
def test_gsplat_worlds_match_cpu_backend():
    pytest.importorskip("gsplat")
    splats, cams = _worlds()
    cpu = rasterize_worlds([s.to(dtype=torch.float32) for s in splats], [c.to(dtype=torch.float32) for c in cams],
                           background=BACKGROUND.float(), backend="cpu")
    cuda = rasterize_worlds([s.to("cuda", torch.float32) for s in splats], [c.to("cuda", torch.float32) for c in cams],
                            background=BACKGROUND.float().cuda(), backend="gsplat")
    for name in ("rgb", "alpha", "depth"):
        torch.testing.assert_close(getattr(cuda, name).cpu(), getattr(cpu, name), atol=2e-3, rtol=1e-3)

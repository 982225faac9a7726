"""Adaptive density control: clone/split by gradient, prune, opacity reset, optimizer surgery."""

import math

import pytest
import torch
from torch import nn

from gwm.cameras import Cameras, intrinsics_from_fov, look_at
from gwm.reconstruct.densify import (
    PARAM_NAMES,
    DensifyStats,
    accumulate,
    densify_and_prune,
    exponential_lr,
    make_optimizer,
    reset_opacity,
    view_space_gradients,
)


def _params(n=6, scale=0.01, opacity=0.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = {
        "means": torch.randn(n, 3, generator=g),
        "quats_wxyz": torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=1),
        "log_scales": torch.full((n, 3), math.log(scale)),
        "logit_opacities": torch.full((n,), math.log(opacity / (1 - opacity))),
        "sh_dc": torch.randn(n, 1, 3, generator=g),
        "sh_rest": torch.randn(n, 15, 3, generator=g),
    }
    params = {k: nn.Parameter(v) for k, v in t.items()}
    opt = make_optimizer(params, {k: 1e-3 for k in PARAM_NAMES})
    # one step so Adam has moments to carry
    sum((p ** 2).sum() for p in params.values()).backward()
    opt.step()
    opt.zero_grad()
    return params, opt


def _moments(opt, name):
    group = next(g for g in opt.param_groups if g["name"] == name)
    return opt.state[group["params"][0]]["exp_avg"]


def _stats(grads):
    g = torch.tensor(grads, dtype=torch.float32)
    return DensifyStats(grad_sum=g * 4, count=torch.full_like(g, 4.0), max_radius=torch.zeros_like(g))


def test_clone_duplicates_small_gaussians_with_large_gradient():
    params, opt = _params(n=6, scale=0.001)
    before = {k: v.detach().clone() for k, v in params.items()}
    m_before = _moments(opt, "means").clone()
    out = densify_and_prune(params, opt, _stats([0, 1e-3, 0, 5e-4, 1e-5, 0]), grad_threshold=2e-4, scene_extent=1.0)
    assert out == {"cloned": 2, "split": 0, "pruned": 0, "total": 8}
    assert torch.equal(params["means"][:6], before["means"])
    assert torch.equal(params["means"][6:], before["means"][[1, 3]])
    assert torch.equal(params["sh_rest"][6:], before["sh_rest"][[1, 3]])
    # Adam moments: kept for the old ones, zero for the clones, and attached to the new tensors
    m = _moments(opt, "means")
    assert m.shape == (8, 3) and torch.equal(m[:6], m_before) and not m[6:].any()
    assert all(g["params"][0] is params[g["name"]] for g in opt.param_groups)


def test_split_replaces_large_gaussians_with_two_smaller_ones():
    params, opt = _params(n=4, scale=0.2)
    before = {k: v.detach().clone() for k, v in params.items()}
    out = densify_and_prune(params, opt, _stats([1e-3, 0, 0, 0]), grad_threshold=2e-4, scene_extent=1.0,
                            generator=torch.Generator().manual_seed(0))
    assert out["split"] == 1 and out["cloned"] == 0 and out["total"] == 5
    # original 0 is gone; the two samples carry scale / 1.6 and the same colour
    assert torch.equal(params["means"][:3], before["means"][1:])
    new_scales = params["log_scales"][3:].exp()
    assert torch.allclose(new_scales, before["log_scales"][[0, 0]].exp() / 1.6, rtol=1e-5)
    assert torch.equal(params["sh_dc"][3:], before["sh_dc"][[0, 0]])
    # samples drawn from the parent Gaussian: within a few sigma of its centre
    assert ((params["means"][3:] - before["means"][0]).norm(dim=1) < 4 * 0.2 * math.sqrt(3)).all()


def test_densify_respects_the_gaussian_budget_highest_gradient_first():
    params, opt = _params(n=6, scale=0.001)
    out = densify_and_prune(params, opt, _stats([3e-4, 9e-4, 0, 5e-4, 7e-4, 0]), grad_threshold=2e-4,
                            scene_extent=1.0, max_gaussians=8)
    assert out["total"] == 8 and out["cloned"] == 2
    before_means = params["means"][:6]
    assert torch.equal(params["means"][6:], before_means[[1, 4]])  # the two largest gradients


def test_prune_removes_transparent_gaussians_and_keeps_optimizer_aligned():
    params, opt = _params(n=5)
    with torch.no_grad():
        params["logit_opacities"][[1, 3]] = torch.logit(torch.tensor(0.001))
    keep_means = params["means"][[0, 2, 4]].detach().clone()
    m_keep = _moments(opt, "logit_opacities")[[0, 2, 4]].clone()
    out = densify_and_prune(params, opt, _stats([0] * 5), grad_threshold=2e-4, scene_extent=1.0, prune_opacity=0.005)
    assert out == {"cloned": 0, "split": 0, "pruned": 2, "total": 3}
    assert torch.equal(params["means"], keep_means)
    assert torch.equal(_moments(opt, "logit_opacities"), m_keep)
    # the optimizer still steps the new tensors
    params["means"].grad = torch.ones_like(params["means"])
    opt.step()
    assert not torch.equal(params["means"], keep_means)


def test_prune_large_only_when_asked():
    params, opt = _params(n=3, scale=0.01)
    with torch.no_grad():
        params["log_scales"][0] = math.log(0.5)  # half the scene extent
    out = densify_and_prune(params, opt, _stats([0] * 3), grad_threshold=1.0, scene_extent=1.0, prune_large=False)
    assert out["total"] == 3
    out = densify_and_prune(params, opt, _stats([0] * 3), grad_threshold=1.0, scene_extent=1.0, prune_large=True,
                            prune_world_size=0.1)
    assert out["total"] == 2 and out["pruned"] == 1


def test_opacity_reset_clamps_and_zeroes_moments():
    params, opt = _params(n=4, opacity=0.9)
    with torch.no_grad():
        params["logit_opacities"][0] = torch.logit(torch.tensor(0.002))
    reset_opacity(params, opt, 0.01)
    op = torch.sigmoid(params["logit_opacities"].detach())
    assert torch.allclose(op[1:], torch.full((3,), 0.01), atol=1e-6)
    assert float(op[0]) == pytest.approx(0.002, rel=1e-4)
    assert not _moments(opt, "logit_opacities").any()
    assert _moments(opt, "means").any()


def test_view_space_gradient_recovers_the_image_plane_gradient():
    """For a loss that depends on the centres only through their projection, the recovered
    dL/duv (NDC units) must equal the true one."""
    w, h = 80, 60
    cam = Cameras(intrinsics_from_fov(50, w, h), look_at((2.0, 0.5, 1.0), (0, 0, 0)), w, h)
    means = (torch.rand(20, 3, generator=torch.Generator().manual_seed(1)) - 0.5).requires_grad_(True)
    weights = torch.randn(20, 2, generator=torch.Generator().manual_seed(2))
    uv, _ = cam.project(means)
    (uv[0] * weights).sum().backward()
    g, r, visible = view_space_gradients(means.detach(), torch.full((20, 3), -4.0), means.grad, cam)
    expected = (weights * torch.tensor([w / 2, h / 2])).norm(dim=1)
    assert visible.all()
    assert torch.allclose(g, expected, rtol=1e-3)
    assert (r > 0).all() and (r < 0.5).all()


def test_view_space_gradient_ignores_gaussians_behind_the_camera():
    w, h = 40, 30
    cam = Cameras(intrinsics_from_fov(50, w, h), look_at((0, 0, 2.0), (0, 0, 0), up=(0, 1, 0)), w, h)
    means = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    g, r, visible = view_space_gradients(means, torch.full((2, 3), -4.0), torch.ones(2, 3), cam)
    assert visible.tolist() == [True, False] and g[1] == 0 and r[1] == 0


def test_exponential_lr_schedule():
    assert exponential_lr(0, 1e-2, 1e-4, 100) == pytest.approx(1e-2)
    assert exponential_lr(100, 1e-2, 1e-4, 100) == pytest.approx(1e-4)
    assert exponential_lr(50, 1e-2, 1e-4, 100) == pytest.approx(1e-3)  # geometric midpoint
    assert exponential_lr(500, 1e-2, 1e-4, 100) == pytest.approx(1e-4)


def test_densification_targets_gaussians_the_renders_push(tiny_capture):
    """Real renderer gradients: displace the Gaussians on one side of the true scene; the
    view-space gradient singles them out and densification grows there, not elsewhere."""
    from gwm.ply import read_ply
    from gwm.reconstruct.dataset import load_capture
    from gwm.reconstruct.trainer import splats_from_params
    from gwm.render import rasterize

    truth = read_ply(tiny_capture / "scene_gt.ply")
    data = load_capture(tiny_capture)
    moved = truth.means[:, 0] > 0.1  # 88 of 400

    def stats_for(displacement: float):
        noise = torch.randn(len(truth), 3, generator=torch.Generator().manual_seed(0))
        t = {"means": truth.means + moved[:, None] * displacement * noise, "quats_wxyz": truth.quats_wxyz,
             "log_scales": truth.log_scales, "logit_opacities": truth.logit_opacities,
             "sh_dc": truth.sh[:, :1], "sh_rest": truth.sh[:, 1:]}
        params = {k: nn.Parameter(v.clone()) for k, v in t.items()}
        opt = make_optimizer(params, {k: 0.0 for k in PARAM_NAMES})
        stats = DensifyStats.zeros(len(truth))
        for i in range(0, 24, 3):
            out = rasterize(splats_from_params(params, 1), data.cameras[i], sh_degree=1)
            ((out.rgb - data.images[i : i + 1]) ** 2).mean().backward()  # MSE: ~0 gradient at the truth
            accumulate(stats, params, data.cameras[i])
            opt.zero_grad()
        return params, opt, stats

    params, opt, stats = stats_for(0.0)
    assert densify_and_prune(params, opt, stats, grad_threshold=2e-4, scene_extent=1.0)["total"] == 400

    params, opt, stats = stats_for(0.05)
    g = stats.mean_grad()
    assert g[moved].mean() > 10 * g[~moved].mean()  # measured 23x
    chosen = g >= 2e-4
    assert (chosen & moved).sum() >= 0.6 * chosen.sum()  # measured 80 of 110; moved are 22 % of all
    out = densify_and_prune(params, opt, stats, grad_threshold=2e-4, scene_extent=1.0)
    assert out["cloned"] + out["split"] == int(chosen.sum()) and out["total"] > 400

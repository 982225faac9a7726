"""Adaptive density control of 3DGS: clone, split, prune, opacity reset.

Trainable tensors live in a dict of nn.Parameters with one Adam param group each (group
"name" = key), so every topology change also edits the optimizer's moments: kept
Gaussians keep theirs, new ones start at zero, as in the 3DGS reference code.

The densification signal is the view-space (image-plane) gradient of each Gaussian's
centre. The renderer returns images only, so it is recovered from the world-space gradient:
for a centre that acts on the loss through its projection uv = pi(x), dL/dx = J^T dL/duv
with J = d uv / d x (2x3), hence dL/duv = (J J^T)^-1 J dL/dx (exact when the mean's other
paths, depth sorting and the projected covariance, are neglected, as 3DGS does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from gwm.cameras import Cameras
from gwm.geometry import quat_to_rotmat

PARAM_NAMES = ("means", "quats_wxyz", "log_scales", "logit_opacities", "sh_dc", "sh_rest")


# ---------------------------------------------------------------------------------------
# parameters + optimizer surgery
# ---------------------------------------------------------------------------------------
def make_optimizer(params: dict[str, nn.Parameter], lrs: dict[str, float]) -> torch.optim.Adam:
    """Adam with one param group per tensor, named, with eps 1e-15 as in 3DGS."""
    groups = [{"params": [params[n]], "lr": lrs[n], "name": n} for n in PARAM_NAMES]
    return torch.optim.Adam(groups, eps=1e-15)


def _replace_params(params, optimizer, new_param, new_state, only: str | None = None) -> None:
    """Swap each parameter (or only the named one) for new_param(name, old), its Adam moments for new_state(moment)."""
    for group in optimizer.param_groups:
        name = group["name"]
        if only is not None and name != only:
            continue
        old = group["params"][0]
        p = nn.Parameter(new_param(name, old.detach()), requires_grad=old.requires_grad)
        state = optimizer.state.pop(old, None)
        if state:
            for k, v in state.items():
                if k != "step" and torch.is_tensor(v) and v.shape == old.shape:
                    state[k] = new_state(v)
            optimizer.state[p] = state
        group["params"][0] = p
        params[name] = p


def keep_gaussians(params, optimizer, keep: torch.Tensor) -> None:
    """Keep only the Gaussians where keep (N,) bool is true."""
    _replace_params(params, optimizer, lambda _n, p: p[keep], lambda v: v[keep])


def append_gaussians(params, optimizer, new: dict[str, torch.Tensor]) -> None:
    """Append Gaussians (each new[name] has the parameter's trailing shape); zero moments."""
    m = next(iter(new.values())).shape[0]
    _replace_params(
        params,
        optimizer,
        lambda n, p: torch.cat([p, new[n].to(p)]),
        lambda v: torch.cat([v, v.new_zeros((m, *v.shape[1:]))]),
    )


def reset_opacity(params, optimizer, max_opacity: float) -> None:
    """Clamp opacities to at most max_opacity and zero their Adam moments (3DGS opacity reset)."""
    limit = math.log(max_opacity / (1 - max_opacity))
    _replace_params(params, optimizer, lambda _n, p: p.clamp_max(limit), torch.zeros_like, only="logit_opacities")


# ---------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------
@dataclass
class DensifyStats:
    """Per-Gaussian accumulators between two densification steps."""

    grad_sum: torch.Tensor  # (N,) sum over views of |dL/d uv_ndc|
    count: torch.Tensor  # (N,) number of views in which the Gaussian was in the frustum
    max_radius: torch.Tensor  # (N,) largest screen radius seen, as a fraction of max(W, H)

    @classmethod
    def zeros(cls, n: int, device="cpu") -> "DensifyStats":
        z = torch.zeros(n, device=device)
        return cls(z, z.clone(), z.clone())

    def mean_grad(self) -> torch.Tensor:
        return self.grad_sum / self.count.clamp_min(1)


def view_space_gradients(
    means: torch.Tensor, log_scales: torch.Tensor, means_grad: torch.Tensor, camera: Cameras
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For one camera: |dL/d uv| in NDC units (N,), screen radius / max(W,H) (N,), in-frustum mask (N,).

    NDC units (pixel gradient x (W/2, H/2)) make the threshold independent of resolution,
    as in the 3DGS and gsplat code.
    """
    view = camera.cam_from_world[0].to(means)  # (4,4)
    K = camera.Ks[0].to(means)
    rot = view[:3, :3]
    pc = means @ rot.T + view[:3, 3]  # (N,3) camera frame
    in_front = pc[:, 2] > 0.01
    z = torch.where(in_front, pc[:, 2], torch.ones_like(pc[:, 2]))
    x, y = pc[:, 0] / z, pc[:, 1] / z
    fx, fy = K[0, 0], K[1, 1]
    # J = J_pc R with J_pc = d uv / d pc = [[fx/z, 0, -fx x/z], [0, fy/z, -fy y/z]] (x, y normalised);
    # R is orthonormal, so J J^T = J_pc J_pc^T and J g = J_pc (R g): solve the 2x2 system in closed form.
    gc = means_grad @ rot.T  # (N,3) gradient in the camera frame
    r0 = fx / z * (gc[:, 0] - x * gc[:, 2])  # J_pc gc, row 0
    r1 = fy / z * (gc[:, 1] - y * gc[:, 2])
    a = (fx / z) ** 2 * (1 + x * x)  # J_pc J_pc^T = [[a, b], [b, c]]
    b_ = fx * fy / z**2 * x * y
    c = (fy / z) ** 2 * (1 + y * y)
    det = (a * c - b_ * b_).clamp_min(1e-30)
    g_u = (c * r0 - b_ * r1) / det
    g_v = (a * r1 - b_ * r0) / det
    g_ndc = torch.stack([g_u * (camera.width / 2.0), g_v * (camera.height / 2.0)], -1)

    radius_px = 3.0 * log_scales.exp().amax(-1) * torch.maximum(fx, fy) / z
    uv = torch.stack([x * fx, y * fy], -1) + K[:2, 2]
    on_screen = (
        (uv[:, 0] + radius_px > 0) & (uv[:, 0] - radius_px < camera.width)
        & (uv[:, 1] + radius_px > 0) & (uv[:, 1] - radius_px < camera.height)
    )
    visible = in_front & on_screen
    g = torch.where(visible, g_ndc.norm(dim=-1), torch.zeros_like(z))
    r = torch.where(visible, radius_px / max(camera.width, camera.height), torch.zeros_like(z))
    return g, r, visible


def accumulate(stats: DensifyStats, params: dict[str, nn.Parameter], camera: Cameras) -> None:
    """Add one training view's gradients (call after backward, before the optimizer step)."""
    means = params["means"]
    if means.grad is None:
        return
    g, r, visible = view_space_gradients(means.detach(), params["log_scales"].detach(), means.grad, camera)
    stats.grad_sum += g
    stats.count += visible.to(stats.count.dtype)
    stats.max_radius = torch.maximum(stats.max_radius, r)


# ---------------------------------------------------------------------------------------
# the densification step
# ---------------------------------------------------------------------------------------
def _split_samples(params, idx: torch.Tensor, n: int, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
    """n samples from each selected Gaussian, shrunk by 1/(0.8 n) as in 3DGS."""
    scales = params["log_scales"][idx].detach().exp()  # (M,3)
    rots = quat_to_rotmat(params["quats_wxyz"][idx].detach())  # (M,3,3)
    noise = torch.randn((n, *scales.shape), generator=generator, device="cpu").to(scales)  # (n,M,3)
    offsets = torch.einsum("mij,nmj->nmi", rots, noise * scales)  # (n,M,3)
    new = {name: params[name][idx].detach().repeat(n, *[1] * (params[name].ndim - 1)) for name in PARAM_NAMES}
    new["means"] = (params["means"][idx].detach()[None] + offsets).reshape(-1, 3)
    new["log_scales"] = torch.log(scales / (0.8 * n)).repeat(n, 1)
    return new


def densify_and_prune(
    params: dict[str, nn.Parameter],
    optimizer: torch.optim.Optimizer,
    stats: DensifyStats,
    *,
    grad_threshold: float,
    scene_extent: float,
    dense_fraction: float = 0.01,
    split_count: int = 2,
    prune_opacity: float = 0.005,
    prune_large: bool = False,
    prune_world_size: float = 0.1,
    prune_screen_size: float = 0.15,
    max_gaussians: int | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, int]:
    """One 3DGS adaptive-density step; returns counts {cloned, split, pruned, total}.

    Gaussians whose mean view-space gradient reaches grad_threshold are cloned (if their
    largest scale is <= dense_fraction * extent) or split into split_count smaller ones.
    Then Gaussians with opacity < prune_opacity are removed, and, when prune_large, those
    larger than prune_world_size * extent in the world or prune_screen_size of the image.
    Resets the statistics to zero for the new set.
    """
    n0 = params["means"].shape[0]
    grads = stats.mean_grad()
    candidates = (grads >= grad_threshold) & (stats.count > 0)
    max_scale = params["log_scales"].detach().exp().amax(-1)
    small = max_scale <= dense_fraction * scene_extent

    if max_gaussians is not None:
        # Grow the highest-gradient candidates first; each clone adds 1, each split n-1.
        room = max(0, max_gaussians - n0)
        order = torch.argsort(grads.masked_fill(~candidates, -1.0), descending=True)
        order = order[: int(candidates.sum())]
        cost = torch.where(small[order], 1, split_count - 1)
        allowed = order[torch.cumsum(cost, 0) <= room]
        keep_candidate = torch.zeros_like(candidates)
        keep_candidate[allowed] = True
        candidates = keep_candidate

    clone_idx = torch.nonzero(candidates & small).squeeze(1)
    split_idx = torch.nonzero(candidates & ~small).squeeze(1)

    # split first (sampled from the originals), then clone, then drop the split originals
    if len(split_idx):
        append_gaussians(params, optimizer, _split_samples(params, split_idx, split_count, generator))
    if len(clone_idx):
        append_gaussians(params, optimizer, {n: params[n][clone_idx].detach() for n in PARAM_NAMES})
    n1 = params["means"].shape[0]
    remove = torch.zeros(n1, dtype=torch.bool, device=params["means"].device)
    remove[split_idx] = True

    opacity = torch.sigmoid(params["logit_opacities"].detach())
    pruned_mask = opacity < prune_opacity
    if prune_large:
        radius = torch.cat([stats.max_radius, stats.max_radius.new_zeros(n1 - n0)])
        world = params["log_scales"].detach().exp().amax(-1)
        pruned_mask |= (world > prune_world_size * scene_extent) | (radius > prune_screen_size)
    pruned = int((pruned_mask & ~remove).sum())
    remove |= pruned_mask
    if remove.all():  # never prune to an empty model: keep the most opaque one
        remove[torch.argmax(opacity)] = False
    if remove.any():
        keep_gaussians(params, optimizer, ~remove)

    n2 = params["means"].shape[0]
    fresh = DensifyStats.zeros(n2, device=stats.grad_sum.device)
    stats.grad_sum, stats.count, stats.max_radius = fresh.grad_sum, fresh.count, fresh.max_radius
    return {"cloned": len(clone_idx), "split": len(split_idx), "pruned": pruned, "total": n2}


def exponential_lr(step: int, lr_init: float, lr_final: float, max_steps: int) -> float:
    """Log-linear interpolation from lr_init (step 0) to lr_final (step max_steps), as in 3DGS."""
    t = min(max(step / max(max_steps, 1), 0.0), 1.0)
    return math.exp((1 - t) * math.log(lr_init) + t * math.log(lr_final))

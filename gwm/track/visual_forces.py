"""Render-and-compare: how far each movable body's Gaussians must move to match the frames.

estimate_pose_errors runs a few Adam steps on a rigid offset (translation, rotation vector about
the COM) of each movable body against the observed frames, starting from the twin's poses. The
offset moves Gaussian i by d_i. As in Embodied Gaussians, each Gaussian pulls with a force o_i d_i
(its opacity times its displacement) and a moment r_i x o_i d_i about the body's COM; summed per
body and normalised by the opacity-weighted spread of the Gaussians they give the body's position
error (F / sum o) and orientation error (J^-1 tau, J = sum o (|r|^2 I - r r^T)). For a rigid
offset these recover the offset itself, so the gains downstream mean the same for a body of ten
Gaussians or ten thousand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from gwm.cameras import Cameras
from gwm.geometry import quat_to_rotmat
from gwm.track.bodies import BodyGaussians


@dataclass
class PoseErrorEstimate:
    bodies: np.ndarray  # (M,) body indices (into BodyGaussians.body_names) that were optimised
    position: np.ndarray  # (M,3) world-frame position error (observed - twin), m
    rotation: np.ndarray  # (M,3) world-frame rotation vector error, rad
    force: np.ndarray  # (M,3) sum of opacity-weighted Gaussian forces o_i d_i (per unit gain)
    moment: np.ndarray  # (M,3) sum of r_i x o_i d_i about each COM
    loss_before: float
    loss_after: float  # at the start of the last iteration
    rendered: torch.Tensor  # (C,H,W,3) the render at the twin's poses (first iteration)


def _blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (C,H,W,3) images (edges replicated)."""
    radius = max(1, int(math.ceil(2.5 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    img = images.permute(0, 3, 1, 2).reshape(-1, 1, *images.shape[1:3])  # (C*3,1,H,W)
    img = torch.nn.functional.pad(img, (radius, radius, 0, 0), mode="replicate")
    img = torch.nn.functional.conv2d(img, k.view(1, 1, 1, -1))
    img = torch.nn.functional.pad(img, (0, 0, radius, radius), mode="replicate")
    img = torch.nn.functional.conv2d(img, k.view(1, 1, -1, 1))
    return img.reshape(images.shape[0], 3, *images.shape[1:3]).permute(0, 2, 3, 1)


def photometric_loss(rendered: torch.Tensor, observed: torch.Tensor, observed_blurred: torch.Tensor | None,
                     blur_px: float) -> torch.Tensor:
    loss = torch.mean((rendered - observed) ** 2)
    if blur_px > 0:
        loss = loss + torch.mean((_blur(rendered, blur_px) - observed_blurred) ** 2)
    return loss


def estimate_pose_errors(body_gaussians: BodyGaussians, poses: np.ndarray, movable: np.ndarray, cameras: Cameras,
                         observed: torch.Tensor, *, iterations: int, lr_translation: float, lr_rotation: float,
                         blur_px: float, background: torch.Tensor, render_backend: str = "auto",
                         ) -> PoseErrorEstimate:
    """Optimise rigid offsets of the bodies `movable` (indices) so the render matches `observed`.

    poses (B,7) the twin's body poses (xyz + quat wxyz); observed (C,H,W,3) float in [0,1], one
    frame per camera of `cameras`. Only the movable bodies' offsets have gradients: the background
    and robot links stay where their poses put them.
    """
    from gwm.render import rasterize

    device = body_gaussians.device
    bodies = torch.as_tensor(np.asarray(movable, np.int64), device=device)
    m = len(bodies)
    observed = observed.to(device=device, dtype=torch.float32)
    cams = cameras.to(device=device, dtype=torch.float32)
    observed_blurred = _blur(observed, blur_px) if blur_px > 0 else None
    delta_t = torch.zeros(m, 3, device=device, requires_grad=True)
    delta_r = torch.zeros(m, 3, device=device, requires_grad=True)
    opt = torch.optim.Adam([{"params": [delta_t], "lr": lr_translation}, {"params": [delta_r], "lr": lr_rotation}])
    losses, first = [], None
    for _ in range(max(iterations, 0) if m else 0):
        opt.zero_grad(set_to_none=True)
        splats = body_gaussians.world_splats(poses, delta_t, delta_r, bodies)
        out = rasterize(splats, cams, background=background, backend=render_backend)
        if first is None:
            first = out.rgb.detach()
        loss = photometric_loss(out.rgb, observed, observed_blurred, blur_px)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    if first is None:  # nothing to optimise: still render once for the caller's overlay
        with torch.no_grad():
            first = rasterize(body_gaussians.world_splats(poses), cams, background=background,
                              backend=render_backend).rgb
    with torch.no_grad():
        position, rotation, force, moment = errors_from_displacements(body_gaussians, poses, bodies,
                                                                      delta_t.detach(), delta_r.detach())
    return PoseErrorEstimate(bodies=bodies.cpu().numpy(), position=position, rotation=rotation, force=force,
                             moment=moment, loss_before=losses[0] if losses else float("nan"),
                             loss_after=losses[-1] if losses else float("nan"), rendered=first)


def errors_from_displacements(body_gaussians: BodyGaussians, poses: np.ndarray, bodies: torch.Tensor,
                              delta_t: torch.Tensor, delta_r: torch.Tensor):
    """Per body: Gaussian displacements d_i under the offsets -> opacity-weighted force and moment,
    and the position / orientation error they stand for. Returns numpy (M,3) x 4."""
    m = len(bodies)
    zeros = np.zeros((m, 3))
    if m == 0:
        return zeros, zeros, zeros, zeros
    before = body_gaussians.world_splats(poses)
    after = body_gaussians.world_splats(poses, delta_t, delta_r, bodies)
    p = torch.as_tensor(np.asarray(poses, np.float32), device=body_gaussians.device)
    position, rotation, force, moment = [], [], [], []
    for j, b in enumerate(bodies.tolist()):
        sel = body_gaussians.body_index == b
        x = before.means[sel].double()
        d = (after.means[sel] - before.means[sel]).double()  # (n,3) displacement of each Gaussian
        o = before.opacities[sel].double()[:, None]  # (n,1)
        com = quat_to_rotmat(p[b, 3:]).double() @ body_gaussians.com_body[b].double() + p[b, :3].double()
        r = x - com
        f = (o * d).sum(0)
        tau = torch.linalg.cross(r, o * d).sum(0)
        w = o.sum()
        # J: the opacity-weighted "inertia" of the Gaussian cloud, tau = J dtheta for a small rotation.
        jmat = (o[:, :, None] * ((r * r).sum(1)[:, None, None] * torch.eye(3, dtype=r.dtype) - r[:, :, None] * r[:, None, :])).sum(0)
        jmat = jmat + 1e-9 * w * torch.eye(3, dtype=r.dtype)
        theta = torch.linalg.solve(jmat, tau)
        # F / w mixes in theta x (centroid - COM) when the Gaussians' centroid is off the COM: remove it.
        centroid = (o * r).sum(0) / w
        position.append((f / w - torch.linalg.cross(theta, centroid)).cpu().numpy())
        rotation.append(theta.cpu().numpy())
        force.append(f.cpu().numpy())
        moment.append(tau.cpu().numpy())
    return np.stack(position), np.stack(rotation), np.stack(force), np.stack(moment)


__all__ = ["PoseErrorEstimate", "errors_from_displacements", "estimate_pose_errors", "photometric_loss"]

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

from dataclasses import dataclass

import numpy as np
import torch

from gwm.cameras import Cameras
from gwm.geometry import quat_to_rotmat
from gwm.render import RenderOutput
from gwm.track.bodies import BodyGaussians
from gwm.track.layers import composite, crop_around, render_layer


@dataclass
class PoseErrorEstimate:
    bodies: np.ndarray  # (M,) body indices (into BodyGaussians.body_names) that were optimised
    position: np.ndarray  # (M,3) world-frame position error (observed - twin), m
    rotation: np.ndarray  # (M,3) world-frame rotation vector error, rad
    force: np.ndarray  # (M,3) sum of opacity-weighted Gaussian forces o_i d_i (per unit gain)
    moment: np.ndarray  # (M,3) sum of r_i x o_i d_i about each COM
    loss_before: float
    loss_after: float  # at the estimate (the best offset evaluated)
    body_loss_before: np.ndarray | None = None  # (M,) each body's window loss at the twin's poses
    body_loss_after: np.ndarray | None = None  # (M,) and at its estimate
    rendered: torch.Tensor | None = None  # (C,H,W,3) the render at the twin's poses (first iteration)


def _pyramid(images: torch.Tensor, levels: tuple[int, ...]) -> list[torch.Tensor]:
    """(C,H,W,3) -> the images box-filtered and downsampled by each factor in levels (channels first)."""
    x = images.permute(0, 3, 1, 2)
    return [torch.nn.functional.avg_pool2d(x, f, ceil_mode=True) for f in levels]


def photometric_loss(rendered: torch.Tensor, observed: torch.Tensor, observed_levels: list[torch.Tensor],
                     levels: tuple[int, ...]) -> torch.Tensor:
    """MSE on the frames plus MSE at each coarser level: coarse levels keep a gradient when render and
    frame overlap only a little (a wider basin), the full level keeps the estimate sharp."""
    loss = torch.mean((rendered - observed) ** 2)
    for r, o in zip(_pyramid(rendered, levels), observed_levels):
        loss = loss + torch.mean((r - o) ** 2)
    return loss


def body_windows(body_gaussians: BodyGaussians, poses: np.ndarray, bodies: torch.Tensor, cameras: Cameras,
                 margin: float) -> torch.Tensor:
    """(M,C,H,W) bool: each body's window in each camera, the box around its Gaussian centres'
    projections at `poses` grown by `margin` times its size (at least 8 px) on each side."""
    m, h, w = len(bodies), cameras.height, cameras.width
    out = torch.zeros(m, len(cameras), h, w, dtype=torch.bool, device=body_gaussians.device)
    zero = torch.zeros(1, 3, device=body_gaussians.device)
    with torch.no_grad():
        for j, b in enumerate(bodies.tolist()):
            means = body_gaussians.offset_bodies(poses, zero, zero, torch.tensor([b])).means
            for c in range(len(cameras)):
                cam_from_world = cameras.cam_from_world[c].to(means)
                p = means @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
                p = p[p[:, 2] > 1e-3]
                if not len(p):
                    continue
                uv = (p @ cameras.Ks[c].to(means).T)[:, :2] / p[:, 2:3]
                lo, hi = uv.min(0).values, uv.max(0).values
                grow = torch.clamp(margin * (hi - lo), min=8.0)
                x0, y0 = (int(v) for v in torch.floor(lo - grow).clamp_min(0).tolist())
                x1, y1 = (int(v) for v in torch.ceil(hi + grow).tolist())
                out[j, c, y0:min(y1, h), x0:min(x1, w)] = True
    return out


def windowed_losses(rendered: torch.Tensor, observed: torch.Tensor, observed_levels: list[torch.Tensor],
                    levels: tuple[int, ...], windows: list[torch.Tensor]) -> torch.Tensor:
    """(M,) photometric_loss of each body's window: MSE over its pixels at full size and at each
    pyramid level (windows: per level (M,C,h*w) bool); 0 for a body no camera sees."""
    images = [rendered.permute(0, 3, 1, 2)] + _pyramid(rendered, levels)
    targets = [observed.permute(0, 3, 1, 2)] + list(observed_levels)
    total = 0.0
    for r, o, win in zip(images, targets, windows):
        err = ((r - o) ** 2).mean(1).flatten(1)  # (C, h*w)
        wf = win.float()
        total = total + (wf * err[None]).sum((1, 2)) / wf.sum((1, 2)).clamp_min(1.0)
    return total


def body_radii(body_gaussians: BodyGaussians, bodies) -> torch.Tensor:
    """(M,) opacity-weighted RMS distance of each body's Gaussians from its COM (>= 1 cm)."""
    out = []
    for b in bodies:
        s = body_gaussians.body_splats[int(b)]
        o = s.opacities
        r2 = ((s.means - body_gaussians.com_body[int(b)]) ** 2).sum(1)
        out.append(torch.sqrt((o * r2).sum() / o.sum().clamp_min(1e-12)).clamp_min(0.01))
    return torch.stack(out) if out else torch.zeros(0)


def estimate_pose_errors(body_gaussians: BodyGaussians, poses: np.ndarray, movable: np.ndarray, cameras: Cameras,
                         observed: torch.Tensor, *, iterations: int, step: float, pyramid: tuple[int, ...],
                         background: torch.Tensor, colour: tuple[torch.Tensor, torch.Tensor] | None = None,
                         render_backend: str = "auto", fixed_layer: RenderOutput | None = None,
                         crop_margin: float | None = None, step_growth: float = 1.0,
                         reach_iterations: int = 0, reach: np.ndarray | None = None,
                         upright: np.ndarray | None = None, starts: np.ndarray | None = None,
                         grounded: np.ndarray | None = None) -> PoseErrorEstimate:
    """Find rigid offsets of the bodies `movable` (indices) that make the render match `observed`.

    poses (B,7) the twin's body poses (xyz + quat wxyz); observed (C,H,W,3) float in [0,1], one
    frame per camera of `cameras`; colour: per-camera (gain (C,3), bias (C,3)) applied to renders
    (gwm.track.appearance). Only the movable bodies' offsets move: the background and robot links
    stay where their poses put them. They are rendered once as a fixed layer (gwm.track.layers;
    pass `fixed_layer` to reuse one rendered at the same poses); with `crop_margin` the movable
    bodies are rendered and compared only in a window around them grown by that fraction.

    Gradient steps with a backtracking line search: each body steps `step` metres along its own
    normalised gradient, rotation and translation together (a rotation is weighed by how far it
    moves the body's Gaussians, i.e. times the body's radius); a step that does not lower the loss
    is undone and the step halved. (Doubling the step after a success let noise grow into
    centimetre offsets on the demo scene's model-right run: 35 mm, so it is not done.) The estimate
    is the best offset evaluated, so it is exactly zero when no step improves on the twin's own
    poses. (Adam, as in the anchor, moves every coordinate by its learning rate whatever the
    gradient's size; here that showed up as offsets of a few mm and degrees on bodies that were
    where they should be.) Only accepted steps are differentiated.

    Reach: after the `iterations`, a body none of whose steps was undone (its loss still dropping at
    full step: it is further off than the steps reached) keeps stepping for up to `reach_iterations`
    more, until a step is undone or its offset would move its Gaussians further than its radius.
    Bodies near their estimate are untouched, and nothing more is rendered when every body is.
    reach (M,) bool: the bodies that may reach (None: all).

    upright (M,) bool: bodies turned about the world's vertical only (a body resting on its support
    cannot tilt through it; free, the search traded part of a flat body's shift for a tilt).

    grounded (M,) bool: bodies standing on their support, whose offset never goes down (into it): one camera
    sees a shift along its ray worst, and the search spent part of a pushed tray's slide on a sink into the
    table (read 8.6 mm across and 6.6 mm down while 13.4 mm off).

    starts (M,3): a second start per body, a shift off the twin's pose (NaN row: none). It is rendered
    once beside the twin's pose and each body's search goes on from whichever of the two has the lower
    window loss (the loss decides: a wrong start loses to the twin's pose). The losses before
    (loss_before, body_loss_before) stay those at the twin's poses.
    """
    device = body_gaussians.device
    bodies = torch.as_tensor(np.asarray(movable, np.int64), device=device)
    m = len(bodies)
    observed = observed.to(device=device, dtype=torch.float32)
    cams = cameras.to(device=device, dtype=torch.float32)
    if fixed_layer is None:
        fixed_layer = render_fixed_layer(body_gaussians, poses, bodies, cams, render_backend)
    full = composite_nothing(fixed_layer, background)  # the render where no movable body covers a pixel

    def shade(rgb):
        if colour is None:
            return rgb
        return rgb * colour[0][:, None, None, :] + colour[1][:, None, None, :]

    if m == 0 or iterations <= 0:
        with torch.no_grad():
            moving = render_layer(body_gaussians.offset_bodies(poses, *(torch.zeros(m, 3, device=device),) * 2, bodies),
                                  cams, render_backend) if m else None
            first = shade(full if moving is None else composite(moving, fixed_layer, background))
        zeros = np.zeros((m, 3))
        return PoseErrorEstimate(bodies=bodies.cpu().numpy(), position=zeros, rotation=zeros, force=zeros,
                                 moment=zeros, loss_before=float("nan"), loss_after=float("nan"),
                                 rendered=first.clamp(0, 1))

    radius = body_radii(body_gaussians, bodies.tolist()).to(device)[:, None]  # (M,1)
    crop = None
    if crop_margin is not None:
        with torch.no_grad():
            crop = crop_around(body_gaussians.offset_bodies(poses, *(torch.zeros(m, 3, device=device),) * 2,
                                                            bodies).means, cams, crop_margin)
    if crop is not None:
        view_cams, view_fixed, view_observed = crop.cameras(cams), crop.layer(fixed_layer), crop.images(observed)
    else:
        view_cams, view_fixed, view_observed = cams, fixed_layer, observed
    observed_levels = _pyramid(view_observed, pyramid)

    # Each body is judged on its own window (its projection, grown by the margin): a step is kept or
    # undone per body. Judged on the whole image, a body already in place that steps along its own
    # (tiny, noisy) gradient raises the loss more than a body centimetres off lowers it, and every step
    # of every body is undone (measured on the kitchen sample's textured stream: no step accepted while
    # a mug was 5 cm off).
    windows = body_windows(body_gaussians, poses, bodies, view_cams, 0.5 if crop_margin is None else crop_margin)
    flat = windows.flatten(0, 1)[:, None].float()  # (M*C,1,H,W)
    window_levels = [windows.reshape(m, len(cams), -1)] + [
        torch.nn.functional.max_pool2d(flat, f, ceil_mode=True).reshape(m, len(cams), -1) > 0 for f in pyramid]

    def evaluate(dt, dr):
        """Per-body losses (M,) at the offsets, with their graph (backward only when a step is kept)."""
        dt = dt.clone().requires_grad_(True)
        dr = dr.clone().requires_grad_(True)
        moving = render_layer(body_gaussians.offset_bodies(poses, dt, dr, bodies), view_cams, render_backend)
        rgb = shade(composite(moving, view_fixed, background))
        return windowed_losses(rgb, view_observed, observed_levels, pyramid, window_levels), dt, dr, rgb.detach()

    losses_b, dt, dr, rgb0 = evaluate(torch.zeros(m, 3, device=device), torch.zeros(m, 3, device=device))
    losses_b.sum().backward()
    best = losses_b.detach().clone()
    start = best.clone()
    g_t, g_r = dt.grad, dr.grad
    best_t = best_r = torch.zeros(m, 3, device=device)
    first_total = float(best.sum())  # at the twin's poses
    if starts is not None:
        alt = torch.as_tensor(np.asarray(starts, np.float64), dtype=torch.float32, device=device)
        given = torch.isfinite(alt).all(1) & (alt.abs().sum(1) > 0)
        if bool(given.any()):
            alt = torch.where(given[:, None], alt, 0.0)
            alt_b, alt_t, alt_r, _ = evaluate(alt, best_r)
            win = (given & (alt_b.detach() < best))[:, None]
            if bool(win.any()):
                alt_b.sum().backward()
                best = torch.where(win[:, 0], alt_b.detach(), best)
                best_t = torch.where(win, alt, best_t)
                g_t, g_r = torch.where(win, alt_t.grad, g_t), torch.where(win, alt_r.grad, g_r)
    steps = torch.full((m, 1), float(step), device=device)
    reaching = torch.ones(m, 1, dtype=torch.bool, device=device)  # no step undone yet
    if reach is not None:
        reaching = reaching & torch.as_tensor(np.asarray(reach, bool), device=device)[:, None]
    total = iterations - 1 + int(reach_iterations)
    turns = torch.ones(m, 3, device=device)
    if upright is not None:
        turns[torch.as_tensor(np.asarray(upright, bool), device=device)] = torch.tensor([0.0, 0.0, 1.0], device=device)
    down = None if grounded is None else torch.as_tensor(np.asarray(grounded, bool), device=device)
    for it in range(total):
        if down is not None:  # a grounded body at its support's height steps its whole length across, not down
            sinking = down & (best_t[:, 2] <= 0) & (g_t[:, 2] > 0)
            g_t = g_t * torch.where(sinking[:, None], torch.tensor([1.0, 1.0, 0.0], device=device), 1.0)
        g = torch.cat([g_t, g_r * turns / radius], 1)  # (M,6): both in loss per metre of Gaussian motion
        direction = g / g.norm(dim=1, keepdim=True).clamp_min(1e-20)
        moved = g.norm(dim=1, keepdim=True) > 0
        if it >= iterations - 1:  # the reach phase: only bodies still short of where the frames put them
            offset = best_t.norm(dim=1, keepdim=True) + best_r.norm(dim=1, keepdim=True) * radius
            reaching = reaching & moved & (offset + steps <= radius)
            if not bool(reaching.any()):
                break
            moved = reaching
        try_t = best_t - torch.where(moved, steps * direction[:, :3], 0.0)
        try_r = best_r - torch.where(moved, steps * direction[:, 3:] / radius, 0.0)
        if down is not None:
            try_t = torch.cat([try_t[:, :2], torch.where(down, try_t[:, 2].clamp_min(0.0), try_t[:, 2])[:, None]], 1)
        losses_b, dt, dr, _ = evaluate(try_t, try_r)
        value = losses_b.detach()
        keep = (value < best)[:, None]  # (M,1)
        if it >= iterations - 1:
            keep = keep & reaching
        if bool(keep.any()):
            best = torch.where(keep[:, 0], value, best)
            best_t, best_r = torch.where(keep, try_t, best_t), torch.where(keep, try_r, best_r)
            # the last step's gradient would not be used, nor a reach-phase one of a body that stops
            if it < total - 1 and (it < iterations - 2 or bool((keep & reaching).any())):
                losses_b.sum().backward()
                g_t, g_r = torch.where(keep, dt.grad, g_t), torch.where(keep, dr.grad, g_r)
        reaching = reaching & keep
        steps = torch.where(keep, steps * step_growth, steps * 0.5)
    losses = [first_total]
    best_loss = float(best.sum())
    with torch.no_grad():
        first = shade(full).clone()
        if crop is None:
            first = rgb0
        else:
            for c, (x, y) in enumerate(zip(crop.x0.tolist(), crop.y0.tolist())):
                first[c, y:y + crop.height, x:x + crop.width] = rgb0[c]
        position, rotation, force, moment = errors_from_displacements(body_gaussians, poses, bodies, best_t, best_r)
    return PoseErrorEstimate(bodies=bodies.cpu().numpy(), position=position, rotation=rotation, force=force,
                             moment=moment, loss_before=losses[0], loss_after=best_loss, rendered=first.clamp(0, 1),
                             body_loss_before=start.cpu().numpy(), body_loss_after=best.cpu().numpy())


def render_fixed_layer(body_gaussians: BodyGaussians, poses: np.ndarray, movable, cameras: Cameras,
                       render_backend: str = "auto") -> RenderOutput:
    """The layer of every Gaussian except the movable bodies', at `poses` (no gradients)."""
    bodies = torch.as_tensor(np.asarray(movable, np.int64), device=body_gaussians.device)
    with torch.no_grad():
        return render_layer(body_gaussians.posed(poses, exclude=bodies if len(bodies) else None),
                            cameras.to(device=body_gaussians.device, dtype=torch.float32), render_backend)


def composite_nothing(fixed: RenderOutput, background: torch.Tensor) -> torch.Tensor:
    return fixed.rgb + (1.0 - fixed.alpha) * background


def errors_from_displacements(body_gaussians: BodyGaussians, poses: np.ndarray, bodies: torch.Tensor,
                              delta_t: torch.Tensor, delta_r: torch.Tensor):
    """Per body: Gaussian displacements d_i under the offsets -> opacity-weighted force and moment,
    and the position / orientation error they stand for. Returns numpy (M,3) x 4."""
    m = len(bodies)
    zeros = np.zeros((m, 3))
    if m == 0:
        return zeros, zeros, zeros, zeros
    before = body_gaussians.offset_bodies(poses, torch.zeros_like(delta_t), torch.zeros_like(delta_r), bodies)
    after = body_gaussians.offset_bodies(poses, delta_t, delta_r, bodies)
    p = torch.as_tensor(np.asarray(poses, np.float64))
    position, rotation, force, moment = [], [], [], []
    start = 0
    for b in bodies.tolist():
        n = body_gaussians.gaussian_count(b)
        sl = slice(start, start + n)
        start += n
        x = before.means[sl].double().cpu()
        d = (after.means[sl] - before.means[sl]).double().cpu()  # (n,3) displacement of each Gaussian
        o = before.opacities[sl].double().cpu()[:, None]  # (n,1)
        com = quat_to_rotmat(p[b, 3:]) @ body_gaussians.com_body[b].double().cpu() + p[b, :3]
        r = x - com
        f = (o * d).sum(0)
        tau = torch.linalg.cross(r, o * d).sum(0)
        w = o.sum()
        # For displacements d_i = t + theta x r_i (a small rigid offset about the COM): F = w t - [c]x theta
        # and tau = [c]x t + J theta, with c = sum o r (w times the Gaussians' centroid off the COM) and J the
        # opacity-weighted "inertia" of the cloud. Solved together: solving tau = J theta alone read a
        # pure shift of a body whose centroid is off its COM as a turn (4-8 deg for a 1 cm shift of the
        # kitchen sample's objects), which the control law then applied as a torque.
        eye = torch.eye(3, dtype=r.dtype)
        jmat = (o[:, :, None] * ((r * r).sum(1)[:, None, None] * eye - r[:, :, None] * r[:, None, :])).sum(0)
        c = (o * r).sum(0)
        cx = torch.tensor([[0.0, -c[2], c[1]], [c[2], 0.0, -c[0]], [-c[1], c[0], 0.0]], dtype=r.dtype)
        a = torch.cat([torch.cat([w * eye, -cx], 1), torch.cat([cx, jmat], 1)], 0)
        sol = torch.linalg.solve(a + 1e-9 * w * torch.eye(6, dtype=r.dtype), torch.cat([f, tau]))
        position.append(sol[:3].numpy())
        rotation.append(sol[3:].numpy())
        force.append(f.numpy())
        moment.append(tau.numpy())
    return np.stack(position), np.stack(rotation), np.stack(force), np.stack(moment)


__all__ = ["PoseErrorEstimate", "body_windows", "errors_from_displacements", "estimate_pose_errors",
           "photometric_loss", "render_fixed_layer", "windowed_losses"]

"""Appearance calibration: fit the render's look to the first frames before tracking.

Visual forces pull bodies toward where the render matches the frames best; if the Gaussians look
unlike the cameras' images (exposure, white balance, blur or silhouette size), that best match is
off the true pose and the forces carry a bias. The stream's own cameras see the scene at the
twin's initial state, so before tracking a few hundred Adam steps fit
  - a colour gain and bias per camera and channel, for the whole image (exposure and white balance
    hold for every surface, including table patches a body uncovers later), and
  - the colour (SH DC), opacity and size of the *movable* bodies' Gaussians.
Positions and orientations stay bound to the bodies; the background's Gaussians keep their own
colours (a per-Gaussian fit would tune only the patches visible now and leave the ones under the
objects as they were, which pulls a moved object back to where it stood). With the tracker's background
plate (gwm.track.loop.BackgroundPlate) the cameras' colour is fitted first and the bodies then against the
plate: against the background's reconstruction error instead, the bodies grew skirts in its colours.
"""

from __future__ import annotations

import torch

from gwm.cameras import Cameras
from gwm.splats import GaussianSplats
from gwm.track.bodies import BodyGaussians
from gwm.track.layers import composite, render_layer
from gwm.track.visual_forces import _pyramid, photometric_loss, render_fixed_layer


def calibrate_appearance(body_gaussians: BodyGaussians, poses, movable, cameras: Cameras, observed: torch.Tensor, *,
                         iterations: int, pyramid: tuple[int, ...], background: torch.Tensor,
                         render_backend: str = "auto", lr: float = 0.02, fixed_layer=None, fit_colour: bool = True,
                         fit_bodies: bool = True, colour: tuple[torch.Tensor, torch.Tensor] | None = None):
    """Fit per-camera colour (gain, bias) (C,3) each and, in place, the movable bodies' Gaussian
    appearance, against observed (C,H,W,3) frames seen at `poses`.

    fixed_layer: the render of everything else (default: rendered here); fit_colour / fit_bodies False: the
    cameras' colour / the bodies' appearance kept; colour: the (gain, bias) to start from.

    Returns ((gain, bias) or None when iterations is 0, (loss before, loss after))."""
    if iterations <= 0:
        return None, (float("nan"), float("nan"))
    device = body_gaussians.device
    c = len(cameras)
    gain = (torch.ones(c, 3) if colour is None else colour[0]).detach().clone().to(device).requires_grad_(True)
    bias = (torch.zeros(c, 3) if colour is None else colour[1]).detach().clone().to(device).requires_grad_(True)
    s = body_gaussians.splats
    own = torch.isin(body_gaussians.body_index, torch.as_tensor(list(movable), dtype=torch.long, device=device))
    sh = s.sh[own].detach().clone().requires_grad_(True)
    logit_op = s.logit_opacities[own].detach().clone().requires_grad_(True)
    log_scales = s.log_scales[own].detach().clone().requires_grad_(True)
    groups = [{"params": [gain, bias], "lr": 0.5 * lr}] if fit_colour else []
    if fit_bodies:
        groups += [{"params": [sh], "lr": lr}, {"params": [logit_op], "lr": 2.5 * lr},
                   {"params": [log_scales], "lr": 0.5 * lr}]
    opt = torch.optim.Adam(groups)
    observed = observed.to(device=device, dtype=torch.float32)
    levels = _pyramid(observed, pyramid)
    cams = cameras.to(device=device, dtype=torch.float32)
    bodies = torch.as_tensor(list(movable), dtype=torch.long, device=device)
    fixed = fixed_layer if fixed_layer is not None else render_fixed_layer(body_gaussians, poses, bodies, cams,
                                                                           render_backend)  # not fitted: once
    with torch.no_grad():  # the movable bodies' positions and orientations; appearance is fitted below
        posed = body_gaussians.posed(poses, exclude=torch.as_tensor(
            [i for i in range(len(body_gaussians.body_names)) if i not in set(bodies.tolist())], dtype=torch.long))
    first = last = float("nan")
    for k in range(iterations):
        opt.zero_grad(set_to_none=True)
        splats = GaussianSplats(posed.means, posed.quats_wxyz, log_scales, logit_op, sh)
        rgb = composite(render_layer(splats, cams, render_backend), fixed, background)
        loss = photometric_loss(rgb * gain[:, None, None, :] + bias[:, None, None, :], observed, levels, pyramid)
        loss.backward()
        opt.step()
        last = float(loss.detach())
        if k == 0:
            first = last
    with torch.no_grad():
        body_gaussians.set_appearance(s.sh.index_put((own,), sh), s.logit_opacities.index_put((own,), logit_op),
                                      s.log_scales.index_put((own,), log_scales))
    return (gain.detach(), bias.detach()), (first, last)


__all__ = ["calibrate_appearance"]

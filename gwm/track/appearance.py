"""Appearance calibration: fit the twin's Gaussians' colours, opacities and sizes to the first frames.

Visual forces pull bodies toward where the render matches the frames best; if the Gaussians look
unlike the cameras' images (other exposure, colour, blur or silhouette size), that best match is
off the true pose and the forces carry a bias. A capture's reconstruction fits Gaussians to its
own photos; here, the stream's own cameras see the scene at the twin's initial state, so a few
hundred Adam steps on colour (SH DC), opacity and scale -- never on positions or orientations,
which stay bound to the bodies -- bring the render to the cameras' look before tracking starts.
"""

from __future__ import annotations

import torch

from gwm.cameras import Cameras
from gwm.splats import GaussianSplats
from gwm.track.bodies import BodyGaussians
from gwm.track.visual_forces import _pyramid, photometric_loss


def calibrate_appearance(body_gaussians: BodyGaussians, poses, cameras: Cameras, observed: torch.Tensor, *,
                         iterations: int, pyramid: tuple[int, ...], background: torch.Tensor,
                         render_backend: str = "auto", lr: float = 0.02) -> tuple[float, float]:
    """Optimise the appearance of every Gaussian in body_gaussians (in place) against observed
    (C,H,W,3) frames seen at `poses`. Returns the loss before and after."""
    from gwm.render import rasterize

    if iterations <= 0:
        return float("nan"), float("nan")
    device = body_gaussians.device
    s = body_gaussians.splats
    sh = s.sh.detach().clone().requires_grad_(True)
    logit_op = s.logit_opacities.detach().clone().requires_grad_(True)
    log_scales = s.log_scales.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([{"params": [sh], "lr": lr}, {"params": [logit_op], "lr": 2.5 * lr},
                            {"params": [log_scales], "lr": 0.5 * lr}])
    observed = observed.to(device=device, dtype=torch.float32)
    levels = _pyramid(observed, pyramid)
    cams = cameras.to(device=device, dtype=torch.float32)
    with torch.no_grad():
        posed = body_gaussians.posed(poses)  # positions and orientations only: appearance comes from below
    first = last = float("nan")
    for k in range(iterations):
        opt.zero_grad(set_to_none=True)
        splats = GaussianSplats(posed.means, posed.quats_wxyz, log_scales, logit_op, sh)
        loss = photometric_loss(rasterize(splats, cams, background=background, backend=render_backend).rgb,
                                observed, levels, pyramid)
        loss.backward()
        opt.step()
        last = float(loss.detach())
        if k == 0:
            first = last
    body_gaussians.set_appearance(sh.detach(), logit_op.detach(), log_scales.detach())
    return first, last


__all__ = ["calibrate_appearance"]

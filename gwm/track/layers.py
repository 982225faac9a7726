"""Two-layer rendering for render-and-compare: a fixed layer rendered once, the movable bodies every iteration.

Only the movable bodies' Gaussians change between the gradient steps of one control step (and the
background never changes at all), so the fixed Gaussians (background, robot links, bodies not
corrected) are rasterised once, without gradients, and each iteration rasterises only the movable
bodies and composites them with it per pixel, in depth order (whichever layer's expected depth is
nearer goes in front). This is exact where the two layers do not interleave in depth along a pixel's
ray (objects resting on a support seen from above); the test bounds the difference to a full render.
Reconstructed objects carry haze that does interleave with the support (seen on the kitchen sample).
An exact variant (project the fixed Gaussians once, rasterise them with the movable ones each
iteration) was tried: on the demo scene it doubled a step's CPU time (150 vs 78 ms), so it is not used.

The movable layer can also be rendered in a crop: a window around where the movable bodies project
(plus a margin for how far they may be off), shared in size by all cameras; pixels outside it do not
depend on the movable bodies at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gwm.cameras import Cameras
from gwm.render import RenderOutput, rasterize
from gwm.splats import GaussianSplats

ALPHA_EPS = 1e-6


def render_layer(splats: GaussianSplats, cameras: Cameras, backend: str) -> RenderOutput:
    """Premultiplied colour (no background), alpha and expected depth of one layer."""
    return rasterize(splats, cameras, background=None, backend=backend)


def _moving_in_front(moving: RenderOutput, fixed: RenderOutput) -> torch.Tensor:
    """(C,H,W,1) bool: where the moving layer is nearer (a per-pixel choice, not differentiated)."""
    with torch.no_grad():
        return (fixed.alpha < ALPHA_EPS) | ((moving.alpha > ALPHA_EPS) & (moving.depth <= fixed.depth))


def moving_coverage(moving: RenderOutput, fixed: RenderOutput) -> torch.Tensor:
    """(C,H,W,1) how much of each pixel the moving layer covers where it is seen (in front, or through the
    fixed layer where that is nearer): its silhouette as the composite shows it."""
    a_m = moving.alpha
    return torch.where(_moving_in_front(moving, fixed), a_m, a_m * (1.0 - fixed.alpha))


def composite(moving: RenderOutput, fixed: RenderOutput, background: torch.Tensor) -> torch.Tensor:
    """(C,H,W,3) RGB of two premultiplied layers, the nearer in front per pixel, over the background colour."""
    moving_in_front = _moving_in_front(moving, fixed)
    a_m, a_f = moving.alpha, fixed.alpha
    rgb = torch.where(moving_in_front, moving.rgb + (1.0 - a_m) * fixed.rgb, fixed.rgb + (1.0 - a_f) * moving.rgb)
    return rgb + (1.0 - (a_m + a_f - a_m * a_f)) * background


@dataclass(frozen=True)
class Crop:
    """A window of size (width, height) at per-camera offsets x0, y0 (C,) in the full images."""

    x0: np.ndarray
    y0: np.ndarray
    width: int
    height: int

    def cameras(self, cameras: Cameras) -> Cameras:
        """The cameras seeing only the window: same poses, principal points shifted."""
        ks = cameras.Ks.clone()
        ks[:, 0, 2] -= torch.as_tensor(self.x0, dtype=ks.dtype, device=ks.device)
        ks[:, 1, 2] -= torch.as_tensor(self.y0, dtype=ks.dtype, device=ks.device)
        return Cameras(ks, cameras.world_from_cam, self.width, self.height)

    def images(self, images: torch.Tensor) -> torch.Tensor:
        """(C,H,W,K) full images -> (C,height,width,K) windows."""
        return torch.stack([images[c, y:y + self.height, x:x + self.width]
                            for c, (x, y) in enumerate(zip(self.x0.tolist(), self.y0.tolist()))])

    def layer(self, layer: RenderOutput) -> RenderOutput:
        return RenderOutput(self.images(layer.rgb), self.images(layer.alpha), self.images(layer.depth))


def crop_around(means: torch.Tensor, cameras: Cameras, margin: float, align: int = 8) -> Crop | None:
    """The window around the projections of Gaussian centres `means` (N,3) in every camera, grown by
    `margin` times its own size (at least 2 * align px) on each side, sizes and offsets multiples of
    `align` (so pyramid levels stay aligned). None when it would cover most of the image anyway."""
    w, h = cameras.width, cameras.height
    boxes = []
    for c in range(len(cameras)):
        cam_from_world = cameras.cam_from_world[c].to(means)
        p = means @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
        p = p[p[:, 2] > 1e-3]
        if not len(p):
            return None
        uv = (p @ cameras.Ks[c].to(means).T)[:, :2] / p[:, 2:3]
        lo, hi = uv.min(0).values.cpu().numpy(), uv.max(0).values.cpu().numpy()
        grow = np.maximum(margin * (hi - lo), 2 * align)
        boxes.append((lo - grow, hi + grow))
    size = np.max([hi - lo for lo, hi in boxes], 0)
    cw = int(min(w, np.ceil(size[0] / align) * align))
    ch = int(min(h, np.ceil(size[1] / align) * align))
    if cw * ch > 0.6 * w * h:
        return None
    x0, y0 = [], []
    for lo, hi in boxes:
        centre = (lo + hi) / 2
        x0.append(int(np.clip(np.floor((centre[0] - cw / 2) / align) * align, 0, max(0, (w - cw) // align * align))))
        y0.append(int(np.clip(np.floor((centre[1] - ch / 2) / align) * align, 0, max(0, (h - ch) // align * align))))
    x0, y0 = np.array(x0), np.array(y0)
    cw, ch = min(cw, w - int(x0.max())), min(ch, h - int(y0.max()))
    return Crop(x0, y0, cw, ch)


__all__ = ["Crop", "composite", "moving_coverage", "crop_around", "render_layer"]

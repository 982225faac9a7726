"""GaussianSplats as a viser splat node: SH DC colour, a size and an opacity control, a Gaussian budget.

viser draws each Gaussian from its centre, 3x3 covariance, RGB and opacity (no higher SH bands). Above
the budget a fixed random subset is shown (same seed, same subset), so a 1M-Gaussian PLY stays
interactive in a browser without a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gwm.splats import GaussianSplats

DEFAULT_MAX_GAUSSIANS = 300_000


def subsample_indices(n: int, keep: int, seed: int = 0) -> np.ndarray | None:
    """Sorted indices of a fixed random subset of size keep, or None when all n are kept."""
    if n <= keep:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=keep, replace=False))


def subsample(splats: GaussianSplats, keep: int, seed: int = 0) -> GaussianSplats:
    idx = subsample_indices(len(splats), keep, seed)
    return splats if idx is None else splats[torch.from_numpy(idx)]


@dataclass
class SplatArrays:
    """What viser's add_gaussian_splats takes, float32: centers (N,3), covariances (N,3,3), rgbs (N,3),
    opacities (N,1)."""

    centers: np.ndarray
    covariances: np.ndarray
    rgbs: np.ndarray
    opacities: np.ndarray

    @classmethod
    def from_splats(cls, splats: GaussianSplats) -> "SplatArrays":
        s = splats.detach().to("cpu", torch.float32)
        return cls(centers=s.means.numpy().copy(), covariances=s.covariances().numpy().copy(),
                   rgbs=s.rgb_dc.numpy().copy(), opacities=s.opacities.numpy()[:, None].copy())

    def __len__(self) -> int:
        return len(self.centers)

    def styled(self, size: float = 1.0, opacity: float = 1.0, tint: tuple[float, float, float] | None = None
               ) -> "SplatArrays":
        """Gaussians scaled by size (covariance by size^2), opacities times opacity, colours mixed 50/50 with tint."""
        rgbs = self.rgbs if tint is None else 0.5 * self.rgbs + 0.5 * np.asarray(tint, np.float32)
        return SplatArrays(self.centers, self.covariances * np.float32(size * size), rgbs,
                           np.clip(self.opacities * np.float32(opacity), 0.0, 1.0))


class SplatNode:
    """One splat in the viser scene (in its parent's frame), re-sent when its style changes."""

    def __init__(self, server, name: str, arrays: SplatArrays, tint=None, visible: bool = True):
        self.server, self.name, self.arrays, self.tint = server, name, arrays, tint
        self.size, self.opacity, self.visible = 1.0, 1.0, visible
        self.handle = None
        self._send()

    def _send(self) -> None:
        a = self.arrays.styled(self.size, self.opacity, self.tint)
        self.handle = self.server.scene.add_gaussian_splats(
            self.name, centers=a.centers, covariances=a.covariances, rgbs=a.rgbs, opacities=a.opacities,
            visible=self.visible)

    def set_visible(self, visible: bool) -> None:
        self.visible = visible
        self.handle.visible = visible

    def style(self, size: float, opacity: float) -> None:
        if (size, opacity) != (self.size, self.opacity):
            self.size, self.opacity = size, opacity
            self._send()


def add_style_controls(server, nodes: list[SplatNode], folder: str = "Splat") -> dict:
    """Size and opacity sliders acting on all nodes; returns the handles by name."""
    with server.gui.add_folder(folder):
        size = server.gui.add_slider("Gaussian size", min=0.1, max=3.0, step=0.05, initial_value=1.0)
        opacity = server.gui.add_slider("Opacity", min=0.05, max=1.0, step=0.05, initial_value=1.0)

    def restyle(_=None) -> None:
        for node in nodes:
            node.style(float(size.value), float(opacity.value))

    size.on_update(restyle)
    opacity.on_update(restyle)
    return {"gaussian_size": size, "opacity": opacity}


__all__ = ["DEFAULT_MAX_GAUSSIANS", "SplatArrays", "SplatNode", "add_style_controls", "subsample",
           "subsample_indices"]

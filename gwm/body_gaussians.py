"""Body-bound Gaussians posed by body poses: the one implementation of Gaussians(t) = pose_b(t) * canonical_b.

Each body owns Gaussians in its own frame (shared/DESIGN.md). Posing moves the means, composes the
orientations with the body's rotation and rotates the SH coefficients band by band, so a rotated
body looks the same from a rotated viewpoint. Datasets (gaussians_at), the simulator's camera
renderer and the world model's Gaussian space all pose through here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gwm.geometry import normalize_quats, positive_w, quat_multiply, quat_to_rotmat
from gwm.sh import sh_rotation
from gwm.splats import GaussianSplats


@dataclass(frozen=True)
class BodyGaussians:
    """Canonical Gaussians of several bodies stacked in body order (body frames), and each one's body."""

    splats: GaussianSplats  # (N) body frames
    body_index: torch.Tensor  # (N,) long: row of the pose array that moves Gaussian i

    @classmethod
    def stack(cls, body_names, canonical: dict[str, GaussianSplats]) -> "BodyGaussians":
        """Bodies with Gaussians, in body_names order; body_index counts positions in body_names."""
        parts = [(i, canonical[name]) for i, name in enumerate(body_names) if name in canonical]
        if not parts:
            raise ValueError(f"no canonical Gaussians for any of the bodies {list(body_names)}")
        index = torch.cat([torch.full((len(s),), i, dtype=torch.long) for i, s in parts])
        return cls(GaussianSplats.cat([s for _, s in parts]), index)


def _pose_tensor(poses, like: torch.Tensor) -> torch.Tensor:
    # a copy for numpy input: reader arrays may be read-only
    t = poses if isinstance(poses, torch.Tensor) else torch.tensor(np.asarray(poses))
    return t.to(like)


def pose_means_quats(poses, body_index: torch.Tensor, means: torch.Tensor, quats_wxyz: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched rigid posing of Gaussian centres and orientations.

    poses (..., B, 7) xyz + quat wxyz, body_index (N,), means (N, 3) and quats_wxyz (N, 4) in body frames
    -> world means (..., N, 3) and quats (..., N, 4).
    """
    p = _pose_tensor(poses, means)
    q = positive_w(normalize_quats(p[..., 3:7]))  # (..., B, 4): one rotation per body, then per Gaussian
    rot = quat_to_rotmat(q)[..., body_index, :, :]  # (..., N, 3, 3)
    q_body = q[..., body_index, :]  # (..., N, 4)
    world_means = (rot @ means[..., None])[..., 0] + p[..., :3][..., body_index, :]
    world_quats = quat_multiply(q_body, quats_wxyz.expand_as(q_body))
    return world_means, world_quats


def pose_body_gaussians(bodies: BodyGaussians, poses) -> GaussianSplats:
    """World-frame Gaussians of one frame: bodies posed by poses (B, 7) xyz + quat wxyz (numpy or torch)."""
    s = bodies.splats
    means, quats = pose_means_quats(poses, bodies.body_index, s.means, s.quats_wxyz)
    sh = s.sh
    if s.sh_degree > 0:  # DC colour is rotation invariant; higher bands turn with the body
        rots = quat_to_rotmat(_pose_tensor(poses, s.means)[:, 3:7])  # (B, 3, 3)
        sh = sh.clone()
        for b in torch.unique(bodies.body_index).tolist():
            sel = bodies.body_index == b
            d = sh_rotation(rots[b], s.sh_degree).to(sh)
            sh[sel] = torch.einsum("jk,nkc->njc", d, s.sh[sel])
    return GaussianSplats(means, quats, s.log_scales, s.logit_opacities, sh)


__all__ = ["BodyGaussians", "pose_body_gaussians", "pose_means_quats"]

"""The world model's Gaussian state: a fixed, ordered set of body-bound Gaussians as 14-D vectors.

A world state is N Gaussians, each a 14-D vector (normalised):
    [0:3]  xyz        (means - centre) / extent
    [3:6]  log-scale  (log_scales - log_scale_mean) / log_scale_std
    [6:10] quat wxyz  unit, sign fixed so w >= 0
    [10:13] rgb       DC colour in [0,1], mapped to [-1,1]
    [13]   opacity    in [0,1], mapped to [-1,1]
The set and its order are fixed by the dataset's canonical Gaussians (each body's Gaussians in its
own frame, subsampled to at most `max_per_body`), so Gaussian i of one step is Gaussian i of the next:
correspondence is known. `GaussianSpace` keeps that set, which body each Gaussian belongs to, and
the normalisation, as buffers, so a checkpoint carries them.
"""

from __future__ import annotations

import torch
from torch import nn

from gwm.body_gaussians import pose_means_quats
from gwm.geometry import normalize_quats, positive_w, quat_multiply, rotmat_to_quat
from gwm.sh import SH_C0
from gwm.splats import GaussianSplats

FEATURE_DIM = 14
XYZ, LOG_SCALE, QUAT, RGB, OPACITY = slice(0, 3), slice(3, 6), slice(6, 10), slice(10, 13), slice(13, 14)


def farthest_point_indices(points: torch.Tensor, count: int) -> torch.Tensor:
    """Deterministic farthest point sampling (P,3) -> sorted indices (count,), starting at index 0."""
    n = points.shape[0]
    if count >= n:
        return torch.arange(n)
    chosen = [0]
    dist = (points - points[0]).norm(dim=-1)
    for _ in range(count - 1):
        i = int(dist.argmax())
        chosen.append(i)
        dist = torch.minimum(dist, (points - points[i]).norm(dim=-1))
    return torch.tensor(sorted(chosen))


class GaussianSpace(nn.Module):
    """Canonical Gaussians of the modelled bodies + normalisation; converts poses/splats <-> features."""

    def __init__(self, canonical: GaussianSplats, body_id: torch.Tensor, num_bodies: int,
                 centre: torch.Tensor, extent: float, log_scale_mean: torch.Tensor, log_scale_std: torch.Tensor):
        super().__init__()
        self.num_bodies = num_bodies
        self.register_buffer("canon_means", canonical.means.float().clone())  # (N,3) body frame
        self.register_buffer("canon_quats", positive_w(normalize_quats(canonical.quats_wxyz.float())))  # (N,4)
        self.register_buffer("canon_log_scales", canonical.log_scales.float().clone())  # (N,3)
        self.register_buffer("canon_rgb", canonical.rgb_dc.float().clone())  # (N,3)
        self.register_buffer("canon_opacity", canonical.opacities.float().clone())  # (N,)
        self.register_buffer("body_id", body_id.long().clone())  # (N,)
        self.register_buffer("centre", centre.float().reshape(3).clone())
        self.register_buffer("extent", torch.tensor(float(extent)))
        self.register_buffer("log_scale_mean", log_scale_mean.float().reshape(3).clone())
        self.register_buffer("log_scale_std", log_scale_std.float().reshape(3).clamp_min(1e-3).clone())

    @classmethod
    def empty_like_shapes(cls, num_gaussians: int, num_bodies: int) -> "GaussianSpace":
        """A placeholder of the right shapes, filled by load_state_dict (used when loading checkpoints)."""
        z = torch.zeros
        splats = GaussianSplats(z(num_gaussians, 3), torch.tensor([[1.0, 0, 0, 0]]).repeat(num_gaussians, 1),
                                z(num_gaussians, 3), z(num_gaussians), z(num_gaussians, 1, 3))
        return cls(splats, z(num_gaussians, dtype=torch.long), num_bodies, z(3), 1.0, z(3), torch.ones(3))

    @property
    def num_gaussians(self) -> int:
        return self.canon_means.shape[0]

    # features <-> physical quantities ---------------------------------------------------------------
    def normalize(self, means, quats_wxyz, log_scales, rgb, opacity) -> torch.Tensor:
        """Physical per-Gaussian quantities (..., N, k) -> features (..., N, 14)."""
        return torch.cat([
            (means - self.centre) / self.extent,
            (log_scales - self.log_scale_mean) / self.log_scale_std,
            positive_w(normalize_quats(quats_wxyz)),
            rgb * 2 - 1,
            opacity[..., None] * 2 - 1,
        ], dim=-1)

    def means(self, features: torch.Tensor) -> torch.Tensor:
        """Features (..., N, 14) -> world centres (..., N, 3) in metres."""
        return features[..., XYZ] * self.extent + self.centre

    def to_splats(self, features: torch.Tensor) -> GaussianSplats:
        """Features (N, 14) of one state -> world-frame GaussianSplats (SH degree 0)."""
        if features.ndim != 2 or features.shape[-1] != FEATURE_DIM:
            raise ValueError(f"to_splats expects (N, {FEATURE_DIM}) features, got {tuple(features.shape)}")
        rgb = ((features[:, RGB] + 1) / 2).clamp(0, 1)
        opacity = ((features[:, 13] + 1) / 2).clamp(1e-4, 1 - 1e-4)
        return GaussianSplats(
            means=self.means(features),
            quats_wxyz=normalize_quats(features[:, QUAT]),
            log_scales=features[:, LOG_SCALE] * self.log_scale_std + self.log_scale_mean,
            logit_opacities=torch.logit(opacity),
            sh=((rgb - 0.5) / SH_C0)[:, None, :],
        )

    def features_from_splats(self, splats: GaussianSplats) -> torch.Tensor:
        """World-frame splats in this space's order (N) -> features (N, 14)."""
        if len(splats) != self.num_gaussians:
            raise ValueError(f"features_from_splats: got {len(splats)} Gaussians, this space has {self.num_gaussians}")
        s = splats.to(device=self.centre.device, dtype=torch.float32)
        return self.normalize(s.means, s.quats_wxyz, s.log_scales, s.rgb_dc, s.opacities)

    # rigid bodies -----------------------------------------------------------------------------------
    def features_from_poses(self, poses: torch.Tensor) -> torch.Tensor:
        """Body poses (..., M, 7) xyz + quat wxyz -> features (..., N, 14): canonical Gaussians posed.

        This is exactly what a dataset's gaussians_at computes (pose * canonical), batched.
        """
        means, quats = pose_means_quats(poses, self.body_id, self.canon_means, self.canon_quats)
        shape = means.shape[:-1]
        return self.normalize(means, quats, self.canon_log_scales.expand(*shape, 3),
                              self.canon_rgb.expand(*shape, 3), self.canon_opacity.expand(shape))

    def move_bodies(self, features: torch.Tensor, rot: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
        """Apply per-body rigid motions to states: features (..., N, 14), world-frame rotations (..., M, 3, 3)
        and translations (..., M, 3) in feature units (x' = R x + t) -> moved features (..., N, 14)."""
        bid = self.body_id
        r = rot[..., bid, :, :]  # (..., N, 3, 3)
        xyz = (r @ features[..., XYZ, None])[..., 0] + trans[..., bid, :]
        quat = positive_w(normalize_quats(quat_multiply(rotmat_to_quat(r), features[..., QUAT])))
        lead = torch.broadcast_shapes(xyz.shape[:-1], features.shape[:-1])
        return torch.cat([xyz.expand(*lead, 3), features[..., LOG_SCALE].expand(*lead, 3), quat.expand(*lead, 4),
                          features[..., 10:].expand(*lead, 4)], dim=-1)

    def canonical_features(self) -> torch.Tensor:
        """Body-frame canonical Gaussians as features (N, 14), centred per body (identity input)."""
        return self.normalize(self.canon_means + self.centre, self.canon_quats, self.canon_log_scales,
                              self.canon_rgb, self.canon_opacity)


__all__ = ["FEATURE_DIM", "GaussianSpace", "farthest_point_indices"]

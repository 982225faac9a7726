"""Body-bound Gaussians posed in torch, with a differentiable rigid offset on chosen bodies.

Every body owns canonical Gaussians in its own frame (gwm.scene.asset); Gaussians(t) =
pose_body(t) * canonical. Colours are kept at SH degree 0 (view-independent): the tracker
compares colours, and one batched posing of all bodies is then exact (a DC colour does not
change under rotation).
"""

from __future__ import annotations

import numpy as np
import torch

from gwm.geometry import pose_to_matrix, quat_multiply, rotmat_to_quat
from gwm.roles import check_role
from gwm.splats import GaussianSplats


def so3_exp(rotvec: torch.Tensor) -> torch.Tensor:
    """(..., 3) rotation vectors -> (..., 3, 3) rotations (Rodrigues; smooth at zero)."""
    theta2 = (rotvec * rotvec).sum(-1, keepdim=True)[..., None]  # (..., 1, 1)
    theta = torch.sqrt(theta2 + 1e-12)
    x, y, z = rotvec.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*rotvec.shape[:-1], 3, 3)
    small = theta2 < 1e-8  # Taylor terms where sin(t)/t and (1-cos t)/t^2 lose precision
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / (theta2 + 1e-30))
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device).expand_as(k)
    return eye + a * k + b * (k @ k)


def rotvec_to_quat(rotvec: torch.Tensor) -> torch.Tensor:
    """(..., 3) rotation vectors -> (..., 4) unit quaternions w, x, y, z (smooth at zero)."""
    half2 = 0.25 * (rotvec * rotvec).sum(-1, keepdim=True)
    half = torch.sqrt(half2 + 1e-12)
    s = torch.where(half2 < 1e-8, 0.5 - half2 / 12.0, 0.5 * torch.sin(half) / half)  # sin(h)/(2h), h = theta/2
    return torch.cat([torch.cos(half), s * rotvec], -1)


class BodyGaussians:
    """Canonical Gaussians of named bodies, stacked for one batched posing per render.

    body_names / body_roles: every body that has Gaussians, in pose order ("background" included,
    posed by the identity). centers_of_mass: (B,3) body-frame COM (default: the body origin,
    which is where the scene contract puts it).
    """

    def __init__(self, canonical: dict[str, GaussianSplats], body_names, body_roles, centers_of_mass=None,
                 device: str = "cpu"):
        self.body_names = tuple(body_names)
        self.body_roles = tuple(check_role(r, f"body {n!r}") for n, r in zip(self.body_names, body_roles))
        if len(self.body_roles) != len(self.body_names):
            raise ValueError(f"{len(self.body_names)} body names but {len(tuple(body_roles))} roles")
        unknown = sorted(set(canonical) - set(self.body_names))
        if unknown:
            raise ValueError(f"Gaussians given for bodies {unknown} that are not in body_names {list(self.body_names)}")
        parts = [(i, canonical[n].detach().to("cpu", torch.float32).with_sh_degree(0))
                 for i, n in enumerate(self.body_names) if n in canonical and len(canonical[n])]
        if not parts:
            raise ValueError("BodyGaussians needs Gaussians for at least one body")
        self.device = torch.device(device)
        self.splats = GaussianSplats.cat([p for _, p in parts]).to(self.device)
        self.body_index = torch.cat([torch.full((len(p),), i, dtype=torch.long) for i, p in parts]).to(self.device)
        self.body_splats = {i: p.to(self.device) for i, p in parts}  # per body, for the offset path
        com = np.zeros((len(self.body_names), 3)) if centers_of_mass is None else np.asarray(centers_of_mass)
        if com.shape != (len(self.body_names), 3):
            raise ValueError(f"centers_of_mass must be ({len(self.body_names)}, 3), got {com.shape}")
        self.com_body = torch.tensor(com, dtype=torch.float32, device=self.device)
        self.visibility = None  # (N,) opacity multipliers in stacked order (see set_visibility)

    def set_visibility(self, visibility: torch.Tensor | None) -> None:
        """Opacity multipliers (N,) 0..1 for all Gaussians in stacked order, applied when posed (the support
        fill under objects, shown only where they moved away: gwm.scene.underside.SupportReveal); None: all 1."""
        self.visibility = None if visibility is None else torch.as_tensor(visibility, dtype=torch.float32,
                                                                           device=self.device)

    def set_appearance(self, sh: torch.Tensor, logit_opacities: torch.Tensor, log_scales: torch.Tensor) -> None:
        """Replace colours, opacities and sizes of all Gaussians (stacked order); positions stay bound."""
        s = self.splats
        self.splats = GaussianSplats(s.means, s.quats_wxyz, log_scales, logit_opacities, sh)
        self.body_splats = {i: self.splats[self.body_index == i] for i in self.body_splats}

    def gaussian_count(self, body: int) -> int:
        return len(self.body_splats[body]) if body in self.body_splats else 0

    def world_splats(self, poses: np.ndarray | torch.Tensor, delta_t: torch.Tensor | None = None,
                     delta_r: torch.Tensor | None = None, bodies: torch.Tensor | None = None) -> GaussianSplats:
        """Gaussians in the world at body poses (B,7) xyz + quat wxyz.

        delta_t, delta_r (M,3): a world-frame translation and a rotation vector about the body's
        COM applied on top of the poses of the bodies with indices `bodies` (M,); differentiable.
        """
        if delta_t is None:
            return self.posed(poses)
        return GaussianSplats.cat([self.posed(poses, exclude=bodies), self.offset_bodies(poses, delta_t, delta_r, bodies)])

    def _pose_tensors(self, poses):
        p = torch.as_tensor(np.asarray(poses, np.float32) if isinstance(poses, np.ndarray) else poses,
                            dtype=torch.float32, device=self.device)
        if p.shape != (len(self.body_names), 7):
            raise ValueError(f"poses must be ({len(self.body_names)}, 7) xyz + quat wxyz, got {tuple(p.shape)}")
        q = p[:, 3:] / p[:, 3:].norm(dim=-1, keepdim=True)
        mats = pose_to_matrix(p[:, :3], q)  # (B,4,4)
        return mats[:, :3, :3], mats[:, :3, 3], q

    def posed(self, poses, exclude: torch.Tensor | None = None) -> GaussianSplats:
        """All Gaussians at the poses (those of bodies in `exclude` left out), one batched posing."""
        rot, trans, q = self._pose_tensors(poses)
        s, idx = self.splats, self.body_index
        logit_opacities = s.logit_opacities
        if self.visibility is not None:
            opacity = (torch.sigmoid(logit_opacities) * self.visibility).clamp(1e-6, 1.0 - 1e-6)
            logit_opacities = torch.log(opacity) - torch.log1p(-opacity)
        if exclude is not None and len(exclude):
            keep = ~torch.isin(idx, exclude.to(idx.device))
            s, idx, logit_opacities = s[keep], idx[keep], logit_opacities[keep]
        means = (rot[idx] @ s.means[:, :, None])[:, :, 0] + trans[idx]
        return GaussianSplats(means, quat_multiply(q[idx], s.quats_wxyz), s.log_scales, logit_opacities, s.sh)

    def offset_bodies(self, poses, delta_t: torch.Tensor, delta_r: torch.Tensor, bodies: torch.Tensor) -> GaussianSplats:
        """The Gaussians of `bodies` only (in that order), posed and then offset rigidly about their COMs."""
        rot, trans, q = self._pose_tensors(poses)
        r_d = so3_exp(delta_r)  # (M,3,3)
        q_d = rotvec_to_quat(delta_r)  # (M,4)
        parts = []
        for j, b in enumerate(bodies.tolist()):
            s = self.body_splats[b]
            com_w = rot[b] @ self.com_body[b] + trans[b]
            r_new = r_d[j] @ rot[b]
            t_new = r_d[j] @ (trans[b] - com_w) + com_w + delta_t[j]
            q_new = quat_multiply(q_d[j], q[b])
            parts.append(GaussianSplats(s.means @ r_new.T + t_new, quat_multiply(q_new.expand(len(s), 4), s.quats_wxyz),
                                        s.log_scales, s.logit_opacities, s.sh))
        return GaussianSplats.cat(parts)


def pose7_from_matrix(m: np.ndarray) -> np.ndarray:
    """(4,4) -> (7,) xyz + quat wxyz (w >= 0)."""
    q = rotmat_to_quat(torch.as_tensor(np.asarray(m)[:3, :3], dtype=torch.float64)).numpy()
    return np.concatenate([np.asarray(m)[:3, 3], q])


__all__ = ["BodyGaussians", "pose7_from_matrix", "rotvec_to_quat", "so3_exp"]

"""Differentiable EWA projection of 3D Gaussians into a batch of pinhole cameras (pure torch).

Matches gsplat 1.5's `fully_fused_projection` (pinhole): world -> camera, Jacobian of the
perspective map with gsplat's clamp of the mean to 1.3x the field of view, 2D covariance
dilated by eps2d (the 0.3 px low-pass filter), conic = inverse 2D covariance [a, b, c].
Colours come from SH evaluated along camera-to-Gaussian directions, as gsplat does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from gwm.cameras import Cameras
from gwm.geometry import quat_to_rotmat
from gwm.sh import eval_sh_colors
from gwm.splats import GaussianSplats

EPS2D = 0.3  # px^2 added to the 2D covariance diagonal (gsplat's eps2d)


@dataclass
class ProjectedGaussians:
    """Per-camera 2D Gaussians; B cameras, N Gaussians."""

    means2d: torch.Tensor  # (B, N, 2) pixels
    conics: torch.Tensor  # (B, N, 3) inverse 2D covariance [a, b, c]: sigma = .5(a dx^2 + c dy^2) + b dx dy
    depths: torch.Tensor  # (B, N) camera z; 1.0 where not valid (keeps gradients finite)
    colors: torch.Tensor  # (B, N, 3) RGB after SH, >= 0
    opacities: torch.Tensor  # (B, N)
    valid: torch.Tensor  # (B, N) bool: near < z < far


def cat_projected(parts: list[ProjectedGaussians]) -> ProjectedGaussians:
    """Camera batches of several worlds (the same N Gaussians each) as one batch, in order."""
    if len(parts) == 1:
        return parts[0]
    return ProjectedGaussians(*(torch.cat([getattr(p, f.name) for p in parts]) for f in fields(ProjectedGaussians)))


def project_gaussians(
    splats: GaussianSplats,
    cameras: Cameras,
    sh_degree: int,
    near: float,
    far: float,
    eps2d: float = EPS2D,
) -> ProjectedGaussians:
    # Per-Gaussian tensors are laid out (..., N) last, so each op is one long elementwise
    # pass and the camera rotation is a single matmul over all Gaussians.
    dtype, device = splats.means.dtype, splats.means.device
    b, n = len(cameras), len(splats)
    rot = quat_to_rotmat(splats.quats_wxyz).permute(1, 2, 0)  # (3, 3, N)
    m = (rot * torch.exp(splats.log_scales).T[None]).contiguous()  # (3, 3, N): R S
    view = cameras.cam_from_world.to(device=device, dtype=dtype)  # (B, 4, 4)
    ks = cameras.Ks.to(device=device, dtype=dtype)  # (B, 3, 3)
    r_cw, t_cw = view[:, :3, :3], view[:, :3, 3:]  # (B, 3, 3), (B, 3, 1)
    means_c = r_cw @ splats.means.T + t_cw  # (B, 3, N)
    m_c = (r_cw @ m.reshape(3, 3 * n)).reshape(b, 3, 3, n)  # (B, 3, 3, N): R_cw R S, cov_c = m_c m_c^T

    x, y, z = means_c.unbind(1)  # (B, N) each
    valid = (z > near) & (z < far)
    z_safe = torch.where(valid, z, torch.ones_like(z))  # culled ones get harmless values
    fx, fy = ks[:, 0, 0, None], ks[:, 1, 1, None]  # (B, 1)
    cx, cy = ks[:, 0, 2, None], ks[:, 1, 2, None]
    w, h = cameras.width, cameras.height
    # Clamp the direction used in the Jacobian to 1.3x the frustum, as gsplat does.
    lim_x_pos = (w - cx) / fx + 0.3 * (0.5 * w / fx)
    lim_x_neg = cx / fx + 0.3 * (0.5 * w / fx)
    lim_y_pos = (h - cy) / fy + 0.3 * (0.5 * h / fy)
    lim_y_neg = cy / fy + 0.3 * (0.5 * h / fy)
    inv_z = 1.0 / z_safe
    xc = torch.maximum(torch.minimum(x * inv_z, lim_x_pos), -lim_x_neg)  # clamped x / z
    yc = torch.maximum(torch.minimum(y * inv_z, lim_y_pos), -lim_y_neg)

    # J = [[fx/z, 0, -fx xc/z], [0, fy/z, -fy yc/z]]; rows of J m_c give cov2d = (J m_c)(J m_c)^T.
    j0 = (fx * inv_z)[:, None] * (m_c[:, 0] - xc[:, None] * m_c[:, 2])  # (B, 3, N)
    j1 = (fy * inv_z)[:, None] * (m_c[:, 1] - yc[:, None] * m_c[:, 2])
    s_xx = (j0 * j0).sum(1) + eps2d  # (B, N), dilated by the low-pass filter
    s_yy = (j1 * j1).sum(1) + eps2d
    s_xy = (j0 * j1).sum(1)
    det = (s_xx * s_yy - s_xy * s_xy).clamp_min(1e-10)
    conics = torch.stack([s_yy / det, -s_xy / det, s_xx / det], dim=-1)  # (B, N, 3)

    uv = ks[:, :2, :] @ means_c  # (B, 2, N) = K[:2] X
    means2d = (uv * inv_z[:, None]).transpose(1, 2)  # (B, N, 2)

    colors = _sh_colors(splats, cameras.world_from_cam.to(device=device, dtype=dtype)[:, :3, 3], sh_degree)
    opacities = torch.sigmoid(splats.logit_opacities)[None].expand(b, n)  # (B, N)
    return ProjectedGaussians(means2d, conics, z_safe, colors, opacities, valid)


def _sh_colors(splats: GaussianSplats, campos: torch.Tensor, sh_degree: int) -> torch.Tensor:
    """RGB (B, N, 3) seen from camera centres campos (B, 3), as gsplat: clamp(SH(dir) + 0.5, 0)."""
    dirs = splats.means[None] - campos[:, None]  # (B, N, 3)
    dirs = dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return eval_sh_colors(splats.sh[None], dirs, sh_degree)  # (B, N, 3)

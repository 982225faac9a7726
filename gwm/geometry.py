"""Rigid-body helpers: quaternions are (w, x, y, z) unless a name says otherwise."""

from __future__ import annotations

import torch


def normalize_quats(quats_wxyz: torch.Tensor) -> torch.Tensor:
    return quats_wxyz / quats_wxyz.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def quat_to_rotmat(quats_wxyz: torch.Tensor) -> torch.Tensor:
    """(..., 4) w-first quaternions (normalised here) -> (..., 3, 3) rotation matrices."""
    w, x, y, z = normalize_quats(quats_wxyz).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(*w.shape, 3, 3)


def rotmat_to_quat(rotmats: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation matrices -> (..., 4) unit w-first quaternions with w >= 0."""
    m = rotmats
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    cands = torch.stack(
        [
            torch.stack([1 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2], m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
            torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], m[..., 1, 2] + m[..., 2, 1]], -1),
            torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1),
        ],
        dim=-2,
    )  # (..., 4 candidates, 4); candidate i is 4*q_i*q, best conditioned where q_i is largest
    diag = torch.stack([trace, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]], -1)
    best = diag.argmax(-1, keepdim=True)
    q = torch.gather(cands, -2, best[..., None].expand(*best.shape, 4)).squeeze(-2)
    q = normalize_quats(q)
    return torch.where(q[..., :1] < 0, -q, q)


def quat_multiply(a_wxyz: torch.Tensor, b_wxyz: torch.Tensor) -> torch.Tensor:
    """Hamilton product a * b (apply b, then a)."""
    aw, ax, ay, az = a_wxyz.unbind(-1)
    bw, bx, by, bz = b_wxyz.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def wxyz_to_xyzw(quats_wxyz: torch.Tensor) -> torch.Tensor:
    return quats_wxyz[..., [1, 2, 3, 0]]


def xyzw_to_wxyz(quats_xyzw: torch.Tensor) -> torch.Tensor:
    return quats_xyzw[..., [3, 0, 1, 2]]


def make_transform(rotation: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """(3,3) rotation and (3,) translation -> (4,4) homogeneous transform."""
    t = torch.eye(4, dtype=rotation.dtype, device=rotation.device)
    t[:3, :3] = rotation
    t[:3, 3] = translation
    return t


def pose_to_matrix(position: torch.Tensor, quat_wxyz: torch.Tensor) -> torch.Tensor:
    """(..., 3) positions and (..., 4) quaternions -> (..., 4, 4) transforms."""
    out = torch.zeros(*position.shape[:-1], 4, 4, dtype=position.dtype, device=position.device)
    out[..., :3, :3] = quat_to_rotmat(quat_wxyz)
    out[..., :3, 3] = position
    out[..., 3, 3] = 1.0
    return out

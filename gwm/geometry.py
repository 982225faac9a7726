"""The one geometry layer: quaternions, rotations, poses, yaw and camera-axis conventions.

Conventions (shared/DESIGN.md): quaternions are (w, x, y, z) unless a name says otherwise
(`quats_xyzw`: Newton/Warp, Isaac Lab 3 HDF5); a pose7 is xyz + quat wxyz; transforms are (4,4)
acting on column vectors; cameras use OpenCV axes (x right, y down, z forward).

Every function takes torch tensors or numpy arrays and returns the same kind: one implementation
serves both, so the numpy callers (simulator, demonstrator, scene tools) and the torch callers
(renderer, datasets, world model) cannot drift apart. Python floats and lists count as numpy.
Numpy results are float64 unless the input was float32.
"""

from __future__ import annotations

import math

import numpy as np
import torch


# array-kind helpers: the few operations whose spelling differs between torch and numpy -------------
def _is_torch(x) -> bool:
    return isinstance(x, torch.Tensor)


def _as_array(x):
    """Tensors stay tensors; everything else becomes a float numpy array (float32 kept, else float64)."""
    if _is_torch(x):
        return x
    a = np.asarray(x)
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float64)


def _stack(parts, axis: int, like):
    return torch.stack(parts, dim=axis) if _is_torch(like) else np.stack(parts, axis=axis)


def _norm(x):
    """Euclidean norm over the last axis, kept as a length-1 axis."""
    if _is_torch(x):
        return x.norm(dim=-1, keepdim=True)
    return np.linalg.norm(x, axis=-1, keepdims=True)


def _where(cond, a, b):
    return torch.where(cond, a, b) if _is_torch(a) else np.where(cond, a, b)


def _eye4(like, lead: tuple[int, ...]):
    if _is_torch(like):
        return torch.eye(4, dtype=like.dtype, device=like.device).expand(*lead, 4, 4).clone()
    return np.broadcast_to(np.eye(4, dtype=like.dtype), (*lead, 4, 4)).copy()


# quaternions ------------------------------------------------------------------------------------------
def normalize_quats(quats_wxyz):
    q = _as_array(quats_wxyz)
    n = _norm(q)
    return q / (n.clamp_min(1e-12) if _is_torch(n) else np.maximum(n, 1e-12))


def positive_w(quats_wxyz):
    """The sign of q and -q (one rotation) fixed so that w >= 0."""
    q = _as_array(quats_wxyz)
    return _where(q[..., :1] < 0, -q, q)


def quat_to_rotmat(quats_wxyz):
    """(..., 4) w-first quaternions (normalised here) -> (..., 3, 3) rotation matrices."""
    q = normalize_quats(quats_wxyz)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return _stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        -1, q,
    ).reshape(*w.shape, 3, 3)


def rotmat_to_quat(rotmats):
    """(..., 3, 3) rotation matrices -> (..., 4) unit w-first quaternions with w >= 0."""
    m = _as_array(rotmats)
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    cands = _stack(
        [
            _stack([1 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1, m),
            _stack([m[..., 2, 1] - m[..., 1, 2], 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2], m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1, m),
            _stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], m[..., 1, 2] + m[..., 2, 1]], -1, m),
            _stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1, m),
        ],
        -2, m,
    )  # (..., 4 candidates, 4); candidate i is 4*q_i*q, best conditioned where q_i is largest
    diag = _stack([trace, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]], -1, m)
    if _is_torch(m):
        best = diag.argmax(-1, keepdim=True)
        q = torch.gather(cands, -2, best[..., None].expand(*best.shape, 4)).squeeze(-2)
    else:
        best = diag.argmax(-1)[..., None, None]
        q = np.take_along_axis(cands, best, axis=-2)[..., 0, :]
    return positive_w(normalize_quats(q))


def quat_multiply(a_wxyz, b_wxyz):
    """Hamilton product a * b (apply b, then a); broadcasts over leading axes."""
    a, b = _as_array(a_wxyz), _as_array(b_wxyz)
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return _stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        -1, a,
    )


def wxyz_to_xyzw(quats_wxyz):
    return _as_array(quats_wxyz)[..., [1, 2, 3, 0]]


def xyzw_to_wxyz(quats_xyzw):
    return _as_array(quats_xyzw)[..., [3, 0, 1, 2]]


# poses ------------------------------------------------------------------------------------------------
def make_transform(rotation, translation):
    """(..., 3, 3) rotations and (..., 3) translations -> (..., 4, 4) homogeneous transforms."""
    r, t = _as_array(rotation), _as_array(translation)
    out = _eye4(r, tuple(r.shape[:-2]))
    out[..., :3, :3] = r
    out[..., :3, 3] = t
    return out


def pose_to_matrix(position, quat_wxyz):
    """(..., 3) positions and (..., 4) quaternions -> (..., 4, 4) transforms."""
    return make_transform(quat_to_rotmat(quat_wxyz), _as_array(position))


def pose7_to_matrix(pose7):
    """(..., 7) xyz + quat wxyz -> (..., 4, 4)."""
    p = _as_array(pose7)
    return pose_to_matrix(p[..., :3], p[..., 3:7])


def matrix_to_pose7(transform):
    """(..., 4, 4) -> (..., 7) xyz + quat wxyz (w >= 0)."""
    m = _as_array(transform)
    q = rotmat_to_quat(m[..., :3, :3])
    return torch.cat([m[..., :3, 3], q], -1) if _is_torch(m) else np.concatenate([m[..., :3, 3], q], -1)


def pose7_xyzw_to_matrix(pose7_xyzw):
    """Newton/Warp transform (..., 7) px py pz qx qy qz qw -> (..., 4, 4)."""
    p = _as_array(pose7_xyzw)
    return pose_to_matrix(p[..., :3], xyzw_to_wxyz(p[..., 3:7]))


def pose7_wxyz_to_xyzw(poses):
    """(..., 7) xyz + quat wxyz -> xyz + quat xyzw (the Newton / Isaac Lab 3 order)."""
    return _as_array(poses)[..., [0, 1, 2, 4, 5, 6, 3]]


def pose7_xyzw_to_wxyz(poses):
    """(..., 7) xyz + quat xyzw -> xyz + quat wxyz (our order)."""
    return _as_array(poses)[..., [0, 1, 2, 6, 3, 4, 5]]


# yaw (rotation about the world's +Z, the up axis) -----------------------------------------------------
def yaw_rotation(yaw):
    """Yaw angles (...,) in radians -> (..., 3, 3) rotations about +Z."""
    y = _as_array(yaw)
    c, s = (torch.cos(y), torch.sin(y)) if _is_torch(y) else (np.cos(y), np.sin(y))
    zero, one = c * 0, c * 0 + 1
    return _stack([c, -s, zero, s, c, zero, zero, zero, one], -1, y).reshape(*c.shape, 3, 3)


def yaw_quat(yaw):
    """Yaw angles (...,) in radians -> (..., 4) w-first quaternions about +Z."""
    half = _as_array(yaw) / 2
    c, s = (torch.cos(half), torch.sin(half)) if _is_torch(half) else (np.cos(half), np.sin(half))
    return _stack([c, c * 0, c * 0, s], -1, half)


def yaw_of(rotation) -> float:
    """Heading (radians) of a rotation's x axis projected on the ground plane."""
    r = np.asarray(rotation.tolist() if _is_torch(rotation) else rotation, np.float64)
    return math.atan2(r[1, 0], r[0, 0])


# camera axes ------------------------------------------------------------------------------------------
# OpenCV (x right, y down, z forward) and OpenGL (x right, y up, z backward) camera axes differ by
# flipping y and z; the flip is its own inverse, so one right-multiplication converts either way.
CV_FROM_GL = np.diag([1.0, -1.0, -1.0, 1.0])


def opengl_to_opencv(world_from_cam_gl):
    """Camera-to-world (..., 4, 4) in OpenGL axes (nerfstudio transforms.json) -> OpenCV axes."""
    m = _as_array(world_from_cam_gl)
    flip = torch.tensor(CV_FROM_GL, dtype=m.dtype, device=m.device) if _is_torch(m) else CV_FROM_GL.astype(m.dtype)
    return m @ flip


def opencv_to_opengl(world_from_cam):
    """Camera-to-world (..., 4, 4) in OpenCV axes -> OpenGL axes (nerfstudio transforms.json)."""
    return opengl_to_opencv(world_from_cam)


def scale_intrinsics(Ks, sx: float, sy: float):
    """Intrinsics (..., 3, 3) of an image resized by sx horizontally and sy vertically (pixel units)."""
    k = _as_array(Ks)
    k = k.clone() if _is_torch(k) else k.copy()
    k[..., 0, :] *= sx
    k[..., 1, :] *= sy
    return k


__all__ = ["CV_FROM_GL", "make_transform", "matrix_to_pose7", "normalize_quats", "opencv_to_opengl",
           "opengl_to_opencv", "pose7_to_matrix", "pose7_wxyz_to_xyzw", "pose7_xyzw_to_matrix", "pose7_xyzw_to_wxyz",
           "pose_to_matrix", "positive_w", "quat_multiply", "quat_to_rotmat", "rotmat_to_quat", "scale_intrinsics",
           "wxyz_to_xyzw", "xyzw_to_wxyz", "yaw_of", "yaw_quat", "yaw_rotation"]

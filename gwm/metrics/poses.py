"""Camera pose accuracy: Umeyama similarity alignment and per-camera pose errors.

Poses are world_from_cam (N, 4, 4), OpenCV axes. Numpy float64 throughout (torch tensors
and lists are accepted and converted). SfM recovers poses up to a similarity, so errors are
measured after aligning the estimated camera centres onto the reference centres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Similarity:
    """x_dst = scale * rotation @ x_src + translation."""

    scale: float
    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)

    @classmethod
    def identity(cls) -> "Similarity":
        return cls(1.0, np.eye(3), np.zeros(3))

    @classmethod
    def from_matrix(cls, m) -> "Similarity":
        """From a (4,4) [sR | t] matrix."""
        m = np.asarray(m, dtype=np.float64)
        if m.shape == (3, 4):
            m = np.vstack([m, [0, 0, 0, 1]])
        scale = float(np.cbrt(np.linalg.det(m[:3, :3])))
        if scale <= 0:
            raise ValueError("Similarity.from_matrix: the 3x3 block must be a positive multiple of a rotation")
        return cls(scale, m[:3, :3] / scale, m[:3, 3].copy())

    def matrix(self) -> np.ndarray:
        """(4, 4) homogeneous [scale * R | t]."""
        m = np.eye(4)
        m[:3, :3] = self.scale * self.rotation
        m[:3, 3] = self.translation
        return m

    def compose(self, inner: "Similarity") -> "Similarity":
        """self after inner."""
        return Similarity(self.scale * inner.scale, self.rotation @ inner.rotation,
                          self.scale * self.rotation @ inner.translation + self.translation)

    def apply_points(self, points) -> np.ndarray:
        """(..., 3) -> (..., 3)."""
        p = np.asarray(points, dtype=np.float64)
        return self.scale * p @ self.rotation.T + self.translation

    def apply_poses(self, world_from_cam) -> np.ndarray:
        """(N, 4, 4) camera poses into the destination frame; rotations stay orthonormal."""
        w = np.asarray(world_from_cam, dtype=np.float64)
        out = w.copy()
        out[..., :3, :3] = self.rotation @ w[..., :3, :3]
        out[..., :3, 3] = self.apply_points(w[..., :3, 3])
        return out


def umeyama(src, dst, with_scale: bool = True) -> Similarity:
    """Least-squares similarity (Umeyama 1991) mapping src points (N,3) onto dst points (N,3)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 3:
        raise ValueError(f"umeyama: src {src.shape} and dst {dst.shape} must both be (N, 3)")
    if len(src) < 3:
        raise ValueError(f"umeyama: need at least 3 point pairs, got {len(src)}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    var_s = (xs**2).sum() / len(src)
    if var_s < 1e-24:
        raise ValueError("umeyama: source points are all the same point; the alignment is undefined")
    cov = xd.T @ xs / len(src)
    u, d, vt = np.linalg.svd(cov)
    s = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        s[2, 2] = -1.0  # reflection guard
    rot = u @ s @ vt
    scale = float(np.trace(np.diag(d) @ s) / var_s) if with_scale else 1.0
    return Similarity(scale, rot, mu_d - scale * rot @ mu_s)


def rotation_angle_deg(r_a, r_b) -> np.ndarray:
    """Geodesic angle between rotation matrices (..., 3, 3), in degrees."""
    rel = np.swapaxes(np.asarray(r_a, np.float64), -1, -2) @ np.asarray(r_b, np.float64)
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    # atan2 of sine and cosine stays accurate for tiny angles, where arccos loses digits
    axis = np.stack([rel[..., 2, 1] - rel[..., 1, 2], rel[..., 0, 2] - rel[..., 2, 0], rel[..., 1, 0] - rel[..., 0, 1]], -1)
    sin = np.linalg.norm(axis, axis=-1) / 2.0
    return np.degrees(np.arctan2(sin, cos))


@dataclass(frozen=True)
class PoseErrors:
    translation_m: np.ndarray  # (N,) camera-centre distance after alignment
    rotation_deg: np.ndarray  # (N,) geodesic angle after alignment
    alignment: Similarity  # estimated frame -> reference frame

    def summary(self) -> dict:
        t_cm = 100.0 * self.translation_m
        return {
            "num_cameras": int(len(t_cm)),
            "translation_cm_mean": float(t_cm.mean()),
            "translation_cm_median": float(np.median(t_cm)),
            "translation_cm_max": float(t_cm.max()),
            "rotation_deg_mean": float(self.rotation_deg.mean()),
            "rotation_deg_median": float(np.median(self.rotation_deg)),
            "rotation_deg_max": float(self.rotation_deg.max()),
            "alignment_scale": float(self.alignment.scale),
        }


def pose_errors(est_world_from_cam, ref_world_from_cam, align: str = "sim3") -> PoseErrors:
    """Per-camera errors of estimated poses against reference poses (same order).

    align: "sim3" (scale + rotation + translation fitted on camera centres, for SfM),
    "se3" (no scale), or "none" (poses already in the reference frame).
    """
    est = np.asarray(est_world_from_cam, dtype=np.float64)
    ref = np.asarray(ref_world_from_cam, dtype=np.float64)
    if est.shape != ref.shape or est.shape[-2:] != (4, 4) or est.ndim != 3:
        raise ValueError(f"pose_errors: estimated {est.shape} and reference {ref.shape} must both be (N, 4, 4)")
    if align == "none":
        sim = Similarity.identity()
    elif align in ("sim3", "se3"):
        sim = umeyama(est[:, :3, 3], ref[:, :3, 3], with_scale=align == "sim3")
    else:
        raise ValueError(f"pose_errors: align must be 'sim3', 'se3' or 'none', got {align!r}")
    aligned = sim.apply_poses(est)
    t_err = np.linalg.norm(aligned[:, :3, 3] - ref[:, :3, 3], axis=1)
    r_err = rotation_angle_deg(aligned[:, :3, :3], ref[:, :3, :3])
    return PoseErrors(t_err, r_err, sim)

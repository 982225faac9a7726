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


def umeyama(src, dst, with_scale: bool = True, weights=None) -> Similarity:
    """Least-squares similarity (Umeyama 1991) mapping src points (N,3) onto dst points (N,3),
    optionally weighted per point (weights >= 0, not all zero)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 3:
        raise ValueError(f"umeyama: src {src.shape} and dst {dst.shape} must both be (N, 3)")
    if len(src) < 3:
        raise ValueError(f"umeyama: need at least 3 point pairs, got {len(src)}")
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(src),) or (w < 0).any() or w.sum() <= 0:
        raise ValueError("umeyama: weights must be (N,), non-negative and not all zero")
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    xs, xd = src - mu_s, dst - mu_d
    var_s = float(w @ (xs**2).sum(1))
    if var_s < 1e-24:
        raise ValueError("umeyama: source points are all the same point; the alignment is undefined")
    cov = (xd * w[:, None]).T @ xs
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
    "robust" (the same, fitted only to the cameras that agree: `robust_similarity`),
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
    elif align == "robust":
        sim = robust_similarity(est, ref).similarity
    else:
        raise ValueError(f"pose_errors: align must be 'sim3', 'robust', 'se3' or 'none', got {align!r}")
    aligned = sim.apply_poses(est)
    t_err = np.linalg.norm(aligned[:, :3, 3] - ref[:, :3, 3], axis=1)
    r_err = rotation_angle_deg(aligned[:, :3, :3], ref[:, :3, :3])
    return PoseErrors(t_err, r_err, sim)


@dataclass(frozen=True)
class RobustAlignment:
    """A similarity fitted to the cameras that agree, and every camera's residual under it."""

    similarity: Similarity  # source frame -> destination frame
    inliers: np.ndarray  # (N,) bool: carried most weight in the final fit (residual within the loss scale)
    consistent: np.ndarray  # (N,) bool: not grossly wrong (within 10 robust sigmas and 1% of the spread)
    translation_residual: np.ndarray  # (N,) camera-centre distance after alignment, destination units
    rotation_residual_deg: np.ndarray  # (N,) geodesic angle after alignment (zeros without rotations)
    translation_sigma: float  # robust standard deviation of the inliers' translation residuals
    scale_rel_sigma: float  # relative standard deviation of the scale, by a block bootstrap over the inliers

    def per_camera(self, names: list[str], unit_scale: float = 1.0) -> list[dict]:
        """JSON rows; unit_scale converts destination units (e.g. 100 for metres -> cm)."""
        return [{"name": n, "inlier": bool(self.inliers[i]), "consistent": bool(self.consistent[i]),
                 "translation_residual": round(float(self.translation_residual[i]) * unit_scale, 6),
                 "rotation_residual_deg": round(float(self.rotation_residual_deg[i]), 4)} for i, n in enumerate(names)]


def _rotation_mean(rotations: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted chordal L2 mean of (K, 3, 3) rotations (their weighted sum projected onto SO(3))."""
    u, _, vt = np.linalg.svd(np.einsum("k,kij->ij", weights, rotations))
    return u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))]) @ vt


def _fit_similarity(src_c, dst_c, src_r, dst_r, weights=None) -> Similarity:
    """Weighted least-squares similarity from matched centres. With rotations it stays defined when
    the centres are (nearly) collinear, where centres alone leave a rotation about their line free."""
    w = np.ones(len(src_c)) if weights is None else np.asarray(weights, np.float64)
    mu_s = w @ src_c / w.sum()
    xs = (src_c - mu_s) * np.sqrt(w)[:, None]
    sv = np.linalg.svd(xs, compute_uv=False)
    if src_r is None or (len(src_c) >= 3 and sv[1] > 0.05 * sv[0]):
        return umeyama(src_c, dst_c, with_scale=True, weights=w)
    rot = _rotation_mean(dst_r @ np.swapaxes(src_r, -1, -2), w)
    mu_d = w @ dst_c / w.sum()
    var = float((w * ((src_c - mu_s) ** 2).sum(1)).sum())
    if var < 1e-24:
        raise ValueError("the source camera centres coincide")
    scale = float((w * (((src_c - mu_s) @ rot.T) * (dst_c - mu_d)).sum(1)).sum() / var)
    return Similarity(scale, rot, mu_d - scale * rot @ mu_s)


def robust_similarity(src_world_from_cam, dst_world_from_cam, *, use_rotations: bool = True,
                      min_rotation_threshold_deg: float = 5.0, iterations: int = 300, seed: int = 0) -> RobustAlignment:
    """Similarity taking source cameras onto destination cameras (matched by order), robust to
    cameras that disagree: a flipped registration, a camera placed far off, a wrong reference pose.

    A start by least median of squares over minimal samples (two cameras: rotation from their
    orientations, scale and shift from their centres; three centres when rotations are not used),
    so up to half the cameras may be wrong; then iteratively reweighted least squares with a
    Cauchy loss on the centre residuals (scale: 2.5 robust sigmas), cameras whose orientation is
    off by more than `min_rotation_threshold_deg` (or 3 robust sigmas) weighted zero. With no
    wrong camera the result is the plain least-squares fit, give or take the loss's soft weights.
    Deterministic for a given seed.
    """
    src = np.asarray(src_world_from_cam, dtype=np.float64)
    dst = np.asarray(dst_world_from_cam, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 3 or src.shape[1:] != (4, 4):
        raise ValueError(f"robust_similarity: source {src.shape} and destination {dst.shape} must both be (N, 4, 4)")
    n = len(src)
    if n < 3:
        raise ValueError(f"robust_similarity: need at least 3 cameras, got {n}")
    need = 2 if use_rotations else 3
    sc, dc = src[:, :3, 3], dst[:, :3, 3]
    sr, dr = (src[:, :3, :3], dst[:, :3, :3]) if use_rotations else (None, None)
    spread = float(np.median(np.linalg.norm(dc - np.median(dc, axis=0), axis=1)))
    t_floor = max(1e-5 * spread, 1e-12)

    def fit(idx, weights=None):
        return _fit_similarity(sc[idx], dc[idx], None if sr is None else sr[idx], None if dr is None else dr[idx],
                               weights)

    def residuals(sim: Similarity) -> tuple[np.ndarray, np.ndarray]:
        t = np.linalg.norm(sim.apply_points(sc) - dc, axis=1)
        r = rotation_angle_deg(sim.rotation @ sr, dr) if use_rotations else np.zeros(n)
        return t, r

    rng = np.random.default_rng(seed)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    if need == 2 and len(pairs) <= iterations:
        samples = [np.array(p) for p in pairs]
    else:
        samples = [rng.choice(n, need, replace=False) for _ in range(iterations)]
    best, best_cost = None, np.inf
    for idx in samples:
        try:
            sim = fit(idx)
        except ValueError:  # coincident or degenerate sample
            continue
        if not (np.isfinite(sim.scale) and sim.scale > 0):
            continue
        # a wrong orientation in the sample shows up as wrong centres for everyone else
        cost = float(np.median(residuals(sim)[0]))
        if cost < best_cost:
            best, best_cost = sim, cost
    if best is None:
        raise ValueError("robust_similarity: the source cameras are all at one place; the alignment is undefined")
    sim = best
    everyone = np.arange(n)
    for _ in range(20):
        t, r = residuals(sim)
        r_thr = max(3.0 * 1.4826 * float(np.median(r)), min_rotation_threshold_deg)
        c = max(2.5 * 1.4826 * float(np.median(t)), t_floor)
        w = np.where(r <= r_thr, 1.0 / (1.0 + (t / c) ** 2), 0.0)
        if (w > 1e-3).sum() < 3:
            w = (t <= np.sort(t)[2]).astype(float)
        new = fit(everyone, w)
        moved = np.linalg.norm(new.apply_points(sc) - sim.apply_points(sc), axis=1).max()
        sim = new
        if moved < 1e-9 * max(spread, 1e-12):
            break
    t, r = residuals(sim)
    sigma = max(1.4826 * float(np.median(t)), t_floor)
    inl = (t <= 2.5 * sigma * 1.0) | (w > 0.5)
    inl &= r <= r_thr
    consistent = (t <= max(10.0 * sigma, 0.01 * spread)) & (r <= r_thr)
    idx = np.flatnonzero(w > 1e-3)
    block = max(1, int(round(np.sqrt(len(idx)))))
    scales = []
    for _ in range(100):
        # moving-block bootstrap over the cameras that carry weight, in their given order: a drift
        # shared by neighbouring frames (a phone's tracking) is resampled as one error, not many
        starts = rng.integers(0, len(idx) - block + 1, size=-(-len(idx) // block))
        pick = np.concatenate([idx[s0:s0 + block] for s0 in starts])[:len(idx)]
        try:
            scales.append(fit(pick, w[pick]).scale)
        except ValueError:  # a resample of coincident cameras
            continue
    rel = float(np.std(scales) / sim.scale) if len(scales) > 1 else float("nan")
    return RobustAlignment(sim, inl, consistent, t, r, sigma, rel)

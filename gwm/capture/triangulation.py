"""Multi-view triangulation of points marked in several frames, robust to a wrong view.

Used by the scale cues (marker corners, the two ends of a known length): each view contributes
the pixel positions of the same P points; a view is right or wrong as a whole (a wrong marker
detection, a mis-clicked frame, a camera whose pose is off), so RANSAC runs over views: every
pair of views triangulates the points, the pair that most views agree with wins, and the
points are refined on the agreeing views by Gauss-Newton on the reprojection error. Each
point comes with its covariance (from the residuals' spread, never below a floor), so a scale
taken from the points carries an uncertainty.

Pixel positions are OpenCV's (the centre of the top-left pixel is (0, 0)); the cameras are an
SfM model's (K in the COLMAP convention, where that centre is (0.5, 0.5); OpenCV distortion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gwm.capture.config import CaptureError


@dataclass
class Triangulated:
    points: np.ndarray  # (P, 3) in the cameras' world frame
    covariances: np.ndarray  # (P, 3, 3)
    view_residual_px: np.ndarray  # (V,) worst reprojection error over the P points, per view
    inliers: np.ndarray  # (V,) bool: views the points were refined on
    sigma_px: float  # pixel noise used for the covariances


def normalised_coordinates(pixels: np.ndarray, K: np.ndarray, distortion: dict) -> np.ndarray:
    """(..., 2) OpenCV pixel positions -> (..., 2) undistorted normalised image coordinates."""
    import cv2

    shape = pixels.shape
    px = np.asarray(pixels, np.float64).reshape(-1, 1, 2) + 0.5  # OpenCV pixel centres -> COLMAP's convention
    dist = np.array([distortion.get(k, 0.0) for k in ("k1", "k2", "p1", "p2")], np.float64)
    out = cv2.undistortPoints(px, K.astype(np.float64), dist)
    return out.reshape(shape)


def _project(cam_from_world: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised coordinates (V, P, 2) and depths (V, P) of points X (P, 3) in cameras (V, 3, 4)."""
    pc = np.einsum("vij,pj->vpi", cam_from_world[:, :, :3], X) + cam_from_world[:, None, :, 3]
    return pc[..., :2] / pc[..., 2:3], pc[..., 2]


def _dlt(cam_from_world: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Linear triangulation of one point from V >= 2 views: xy (V, 2) normalised."""
    rows = []
    for P, (x, y) in zip(cam_from_world, xy):
        rows += [x * P[2] - P[0], y * P[2] - P[1]]
    _, _, vt = np.linalg.svd(np.asarray(rows))
    h = vt[-1]
    return h[:3] / h[3] if abs(h[3]) > 1e-15 else np.full(3, np.nan)


def _refine(cam_from_world: np.ndarray, xy: np.ndarray, X: np.ndarray, iterations: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Newton on the normalised reprojection error of one point; returns X and J^T J."""
    for _ in range(iterations):
        pc = cam_from_world[:, :, :3] @ X + cam_from_world[:, :, 3]
        z = pc[:, 2:3]
        r = (pc[:, :2] / z - xy).reshape(-1)
        # d(x/z)/dX = (R_row0 - x R_row2) / z
        R = cam_from_world[:, :, :3]
        J = ((R[:, :2, :] - (pc[:, :2] / z)[:, :, None] * R[:, 2:3, :]) / z[:, :, None]).reshape(-1, 3)
        JtJ = J.T @ J
        step = np.linalg.lstsq(JtJ, -J.T @ r, rcond=None)[0]
        X = X + step
        if np.linalg.norm(step) < 1e-12 * max(1.0, np.linalg.norm(X)):
            break
    pc = cam_from_world[:, :, :3] @ X + cam_from_world[:, :, 3]
    z = pc[:, 2:3]
    R = cam_from_world[:, :, :3]
    J = ((R[:, :2, :] - (pc[:, :2] / z)[:, :, None] * R[:, 2:3, :]) / z[:, :, None]).reshape(-1, 3)
    return X, J.T @ J


def triangulate_views(world_from_cam: np.ndarray, K: np.ndarray, distortion: dict, pixels: np.ndarray, *,
                      max_residual_px: float = 2.0, min_angle_deg: float = 1.0, sigma_floor_px: float = 0.3,
                      max_pairs: int = 300, seed: int = 0) -> Triangulated:
    """Triangulate P points seen in V views.

    world_from_cam (V, 4, 4) OpenCV; pixels (V, P, 2) OpenCV pixel positions. A view agrees when
    all its points reproject within max(max_residual_px, 4 x the agreeing views' median). Raises
    CaptureError when fewer than two views agree or the views are too close to triangulate.
    """
    world_from_cam = np.asarray(world_from_cam, np.float64)
    V, P = pixels.shape[:2]
    if V < 2:
        raise CaptureError(f"{V} view(s) to triangulate from; need at least 2")
    cfw = np.linalg.inv(world_from_cam)[:, :3, :]
    xy = normalised_coordinates(pixels, K, distortion)  # (V, P, 2)
    f = float(np.sqrt(K[0, 0] * K[1, 1]))
    centres = world_from_cam[:, :3, 3]

    def solve(views: np.ndarray) -> np.ndarray | None:
        X = np.stack([_dlt(cfw[views], xy[views, p]) for p in range(P)])
        if not np.isfinite(X).all():
            return None
        return np.stack([_refine(cfw[views], xy[views, p], X[p])[0] for p in range(P)])

    def view_residuals(X: np.ndarray) -> np.ndarray:
        proj, depth = _project(cfw, X)
        err = f * np.linalg.norm(proj - xy, axis=-1)  # (V, P) pixels
        err[depth <= 0] = np.inf  # behind the camera
        return err.max(axis=1)

    def ray_angle_deg(i: int, j: int, X: np.ndarray) -> float:
        a, b = X.mean(0) - centres[i], X.mean(0) - centres[j]
        return float(np.degrees(np.arccos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))))

    pairs = [(i, j) for i in range(V) for j in range(i + 1, V)]
    if len(pairs) > max_pairs:
        rng = np.random.default_rng(seed)
        pairs = [pairs[k] for k in sorted(rng.choice(len(pairs), max_pairs, replace=False))]
    best = None  # (count, -sum of agreeing residuals, inliers)
    for i, j in pairs:
        X = solve(np.array([i, j]))
        if X is None or ray_angle_deg(i, j, X) < min_angle_deg:
            continue
        res = view_residuals(X)
        inl = res <= max_residual_px
        key = (int(inl.sum()), -float(res[inl].sum()))
        if best is None or key > best[0]:
            best = (key, inl)
    if best is None or best[0][0] < 2:
        raise CaptureError("the marked points do not triangulate: no two views agree within "
                           f"{max_residual_px} px, or all views look from nearly the same place (< {min_angle_deg} deg "
                           "apart); mark them in frames taken from further apart")
    inl = best[1]
    for _ in range(3):
        X = solve(np.flatnonzero(inl))
        res = view_residuals(X)
        thr = max(max_residual_px, 4.0 * float(np.median(res[inl])))
        new = res <= thr
        if new.sum() < 2:
            break
        if np.array_equal(new, inl):
            break
        inl = new
    X = solve(np.flatnonzero(inl))
    res = view_residuals(X)
    views = np.flatnonzero(inl)
    # pixel noise from the residuals: 2 residual components per view and point, 3 unknowns per point
    proj, _ = _project(cfw[views], X)
    r = f * (proj - xy[views])
    dof = max(r.size - 3 * P, 1)
    sigma = max(float(np.sqrt((r**2).sum() / dof)), sigma_floor_px)
    covs = []
    for p in range(P):
        _, JtJ = _refine(cfw[views], xy[views, p], X[p], iterations=0)
        covs.append((sigma / f) ** 2 * np.linalg.pinv(JtJ))
    return Triangulated(X, np.stack(covs), res, inl, sigma)

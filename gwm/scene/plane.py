"""Support-plane estimation (RANSAC + least-squares refit) and the transforms that level a scene."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gwm.geometry import make_transform, yaw_rotation


@dataclass(frozen=True)
class Plane:
    """Points x with normal . (x - point) = 0; normal is unit and points up (+Z side)."""

    normal: np.ndarray  # (3,)
    point: np.ndarray  # (3,) a point on the plane (inlier centroid when estimated)
    inliers: np.ndarray | None = None  # (M,3) points that support it, when estimated

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        return (points - self.point) @ self.normal

    def frame(self) -> np.ndarray:
        """(3,3) rotation whose columns are two axes in the plane and its normal."""
        return rotation_between(np.array([0.0, 0.0, 1.0]), np.asarray(self.normal, np.float64))

    def plan(self, points: np.ndarray) -> np.ndarray:
        """(N,2) where points project onto the plane, in its frame's two in-plane axes."""
        return (np.asarray(points, np.float64) - self.point) @ self.frame()[:, :2]


def convex_outline(xy: np.ndarray) -> np.ndarray | None:
    """The convex hull of 2D points as a counter-clockwise ring (K,2); None when they span no area."""
    from scipy.spatial import ConvexHull, QhullError

    if len(xy) < 3:
        return None
    try:
        return np.asarray(xy)[ConvexHull(xy).vertices]
    except QhullError:  # all on a line
        return None


def inside_distance(ring: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(N,) how far each 2D point lies inside a convex counter-clockwise ring (negative: outside; exact
    inside, the distance to the nearest edge's line outside)."""
    edge = np.roll(ring, -1, axis=0) - ring
    inward = np.stack([-edge[:, 1], edge[:, 0]], 1) / np.linalg.norm(edge, axis=1, keepdims=True)
    return np.einsum("nkj,kj->nk", np.asarray(xy)[:, None, :] - ring[None], inward).min(1)


def fit_plane_lstsq(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Total-least-squares plane through points: (unit normal with +Z >= 0, centroid)."""
    c = points.mean(0)
    _, _, vt = np.linalg.svd(points - c, full_matrices=False)
    n = vt[-1]
    return (n if n[2] >= 0 else -n), c


def ransac_plane(
    points: np.ndarray,
    threshold: float,
    max_tilt_deg: float = 15.0,
    iterations: int = 1000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best near-horizontal plane by inlier count. Returns (normal, centroid, inlier mask).

    Only planes whose normal is within max_tilt_deg of +Z count, so walls are never chosen.
    The winning plane is refitted by least squares on its inliers (twice, re-selecting inliers).
    """
    n_pts = len(points)
    if n_pts < 3:
        raise ValueError(f"plane estimation needs at least 3 points, got {n_pts}")
    rng = np.random.default_rng(seed)
    cos_tilt = np.cos(np.deg2rad(max_tilt_deg))
    idx = rng.integers(0, n_pts, size=(iterations, 3))
    a, b, c = points[idx[:, 0]], points[idx[:, 1]], points[idx[:, 2]]
    normals = np.cross(b - a, c - a)  # (I,3)
    norms = np.linalg.norm(normals, axis=1)
    ok = norms > 1e-12
    normals[ok] /= norms[ok, None]
    normals *= np.where(normals[:, 2:3] < 0, -1.0, 1.0)
    ok &= normals[:, 2] >= cos_tilt
    if not ok.any():
        raise ValueError(f"no plane within {max_tilt_deg} deg of horizontal; check input.up_axis or plane.region")
    normals, a = normals[ok], a[ok]
    # Score hypotheses on a subsample (inlier fractions are what matter), refit on all points.
    score = points if n_pts <= 20_000 else points[rng.choice(n_pts, 20_000, replace=False)]
    best_count, best = -1, None
    chunk = max(1, 2_000_000 // len(score))  # bounds the (chunk, N) distance matrix
    for s in range(0, len(normals), chunk):
        d = np.abs((score[None, :, :] - a[s:s + chunk, None, :]) @ normals[s:s + chunk, :, None])[..., 0]
        counts = (d < threshold).sum(1)
        i = int(counts.argmax())
        if counts[i] > best_count:
            best_count, best = int(counts[i]), (normals[s + i], a[s + i])
    normal, origin = best
    mask = np.abs((points - origin) @ normal) < threshold
    for _ in range(2):
        normal, origin = fit_plane_lstsq(points[mask])
        mask = np.abs((points - origin) @ normal) < threshold
    return normal, points[mask].mean(0), mask


def find_support_plane(
    points: np.ndarray,
    threshold: float,
    max_tilt_deg: float,
    select: str = "largest",
    seed: int = 0,
    max_planes: int = 4,
    min_fraction: float = 0.2,
    min_separation: float = 0.0,
) -> Plane:
    """Sequential RANSAC over horizontal planes; 'largest' picks the most inliers, 'highest'
    the highest plane with at least min_fraction of the largest one's inliers (a table above a floor).
    A plane within min_separation (m) of one already found is the same surface's noise (a thick,
    noisy table top yields several thin layers): its points are dropped, the plane is not a candidate."""
    remaining = points
    found: list[Plane] = []
    for k in range(max_planes):
        if len(remaining) < 3:
            break
        try:
            normal, centroid, mask = ransac_plane(remaining, threshold, max_tilt_deg, seed=seed + k)
        except ValueError:
            if not found:
                raise
            break
        plane = Plane(normal, centroid, remaining[mask])
        if not any(abs(p.signed_distance(centroid[None])[0]) < min_separation for p in found):
            found.append(plane)
        if select == "largest":
            break
        remaining = remaining[~mask]
    if select == "largest":
        return found[0]
    largest = max(len(p.inliers) for p in found)
    candidates = [p for p in found if len(p.inliers) >= min_fraction * largest]
    return max(candidates, key=lambda p: p.point[2])


def refine_plane(points: np.ndarray, plane: Plane, band: float, iterations: int = 5) -> Plane:
    """Least-squares refit on every point within `band` of the plane, repeated: a thin RANSAC slab of a
    noisy surface can tilt; the whole band averages the noise out."""
    normal, point = plane.normal, plane.point
    inliers = plane.inliers
    for _ in range(iterations):
        near = np.abs((points - point) @ normal) < band
        if near.sum() < 3:
            break
        normal, point = fit_plane_lstsq(points[near])
        inliers = points[near]
    return Plane(normal, point, inliers)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation (3,3) taking unit vector a to unit vector b."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(a @ b)
    if c < -1 + 1e-12:  # opposite: rotate pi about any axis orthogonal to a
        axis = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(axis) < 1e-6:
            axis = np.cross(a, [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def level_transform(plane: Plane, level: bool = True, height: float | None = None) -> np.ndarray:
    """(4,4) rigid world_from_metric: rotate about the plane point so the plane is horizontal (level), then
    shift it to z = height (when given)."""
    rot = rotation_between(plane.normal, np.array([0.0, 0.0, 1.0])) if level else np.eye(3)
    shift = np.zeros(3)
    if height is not None:
        shift[2] = height - plane.point[2]
    m = np.eye(4)
    m[:3, :3] = rot
    m[:3, 3] = plane.point - rot @ plane.point + shift
    return m


def up_axis_rotation(up_axis: str) -> np.ndarray:
    """Rotation (3,3) taking the named input axis ('+y', '-z', ...) to +Z."""
    sign = -1.0 if up_axis[0] == "-" else 1.0
    axis = np.zeros(3)
    axis["xyz".index(up_axis[1])] = sign
    return rotation_between(axis, np.array([0.0, 0.0, 1.0]))


def support_box(center_xy, size_xy, top_z: float, thickness: float, yaw_deg: float = 0.0
                ) -> tuple[np.ndarray, np.ndarray]:
    """Closed box mesh (8 vertices, 12 outward triangles) whose top face is at z = top_z, turned by yaw about +Z."""
    import trimesh

    box = trimesh.creation.box(extents=[size_xy[0], size_xy[1], thickness])
    box.apply_transform(make_transform(yaw_rotation(np.radians(yaw_deg)), np.zeros(3)))
    box.apply_translation([center_xy[0], center_xy[1], top_z - thickness / 2])
    return np.asarray(box.vertices, np.float32), np.asarray(box.faces, np.int32)


__all__ = ["Plane", "fit_plane_lstsq", "ransac_plane", "find_support_plane", "refine_plane", "level_transform",
           "rotation_between",
           "up_axis_rotation", "support_box"]

"""Metric scale from a known length: two marked scene points, or the support surface's size.

Known points: the two ends of something measured (a ruler, a box edge, the table's edge), marked
as pixel positions in two or more frames each, triangulated with the SfM poses (robust to a
wrong view); scale = metres / triangulated distance, its uncertainty propagated from the
points' covariances (pixel noise from the residuals, never below 1 px: a click is rarely
better).

Support surface: the table plane's SfM points, seen from above, are enclosed by their
minimum-area rectangle after isolated points are dropped; its longer side is the width, the
shorter the depth. How robust: it needs texture up to all four edges and the whole top in
view. SfM points stop a little inside a real edge (no feature sits exactly on it), so the
rectangle is grown by half the typical point spacing along each edge, and the uncertainty is
that spacing: a sparsely textured rim gives a large, honest uncertainty. A table whose far edge
meets a wall is measured to the wall; a table partly out of view is measured short: give only
the side that is fully in view (width or depth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gwm.capture.config import CaptureError, KnownLength
from gwm.capture.triangulation import triangulate_views


@dataclass
class ScaleCue:
    """One metric cue's answer: metres per SfM unit, its relative uncertainty (one sigma; None when
    it cannot be estimated) and a JSON description for the report."""

    name: str  # "marker" | "known_length" | "table_size" | "known_distance" | "phone_poses" | "input"
    metres_per_unit: float
    rel_uncertainty: float | None
    info: dict


def known_length_cue(model, known: KnownLength, seed: int = 0) -> ScaleCue:
    index = {n: i for i, n in enumerate(model.image_names)}
    missing = sorted({v.frame for v in known.views} - set(index))
    usable = [v for v in known.views if v.frame in index]
    if len({v.frame for v in usable}) < 2:
        raise CaptureError(f"known length: frame(s) {missing} are not among the registered frames (blurred, not "
                           f"registered or left out as outliers), leaving {len(usable)} view(s); mark the points in at "
                           f"least 2 registered frames, e.g. {model.image_names[:3]}")
    views = np.array([index[v.frame] for v in usable])
    pixels = np.array([[v.a, v.b] for v in usable], dtype=np.float64)  # (V, 2, 2)
    tri = triangulate_views(model.world_from_cam[views], model.K, model.distortion, pixels,
                            max_residual_px=4.0, sigma_floor_px=1.0, seed=seed)
    a, b = tri.points
    d = float(np.linalg.norm(b - a))
    if d < 1e-12:
        raise CaptureError("known length: the two points triangulate to one place; mark two distinct points")
    u = (b - a) / d
    var = float(u @ (tri.covariances[0] + tri.covariances[1]) @ u)
    info = {"metres": known.metres, "views_given": len(known.views), "views_used": int(tri.inliers.sum()),
            "missing_frames": missing, "pixel_sigma_px": round(tri.sigma_px, 3),
            "per_view": [{"name": v.frame, "inlier": bool(tri.inliers[k]),
                          "reprojection_px": round(float(tri.view_residual_px[k]), 3)} for k, v in enumerate(usable)]}
    return ScaleCue("known_length", known.metres / d, float(np.sqrt(var) / d), info)


def _rectangle(xy: np.ndarray):
    """Minimum-area rectangle: centre (2,), unit axes (2, 2) rows (longer side first), half sizes (2,)."""
    import cv2

    (cx, cy), (w, h), ang = cv2.minAreaRect(xy.astype(np.float32))
    a = np.radians(ang)
    ax = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    sizes = np.array([w, h], dtype=np.float64)
    if sizes[1] > sizes[0]:
        ax, sizes = ax[::-1].copy(), sizes[::-1].copy()
    return np.array([cx, cy], dtype=np.float64), ax, sizes / 2.0


def support_extent(plane_xy: np.ndarray) -> dict:
    """Width/depth of the support surface from its points' (P, 2) in-plane coordinates, with the
    per-edge point spacing that bounds how well each edge is known."""
    from scipy.spatial import cKDTree

    if len(plane_xy) < 30:
        raise CaptureError(f"only {len(plane_xy)} SfM points lie on the support surface; its size cannot be measured "
                           "(capture more of its texture, or use a marker / known length)")
    tree = cKDTree(plane_xy)
    k = min(8, len(plane_xy) - 1)
    dist, _ = tree.query(plane_xy, k + 1)
    spacing = dist[:, k]
    keep = spacing <= 4.0 * np.median(spacing)  # isolated points (a stray match) do not stretch the rectangle
    xy = plane_xy[keep]
    centre, axes, half = _rectangle(xy)
    local = (xy - centre) @ axes.T  # along (width, depth)
    edges = {}
    grown = half.copy()
    for k_ax, label in ((0, "width"), (1, "depth")):
        gaps = []
        for sign in (-1.0, 1.0):
            # points within a band along this edge: their spacing along the edge is how finely it is sampled
            d_edge = half[k_ax] - sign * local[:, k_ax]
            band = d_edge <= max(0.05 * half[k_ax], np.percentile(d_edge, 2))
            along = np.sort(local[band, 1 - k_ax])
            gap = float(np.median(np.diff(along))) if len(along) >= 3 else float(half[1 - k_ax])
            gaps.append(gap)
        edges[label] = gaps
        grown[k_ax] = half[k_ax] + 0.25 * sum(gaps)  # half the typical spacing at each of the two edges
    width, depth = 2.0 * grown
    return {"width": float(width), "depth": float(depth), "centre": centre, "axes": axes,
            "width_sigma": float(np.hypot(*edges["width"]) / 2.0), "depth_sigma": float(np.hypot(*edges["depth"]) / 2.0),
            "points": int(len(xy)), "points_dropped": int((~keep).sum())}


def table_size_cue(plane_xy: np.ndarray, width_m: float | None, depth_m: float | None) -> ScaleCue:
    """Scale from the measured width and/or depth of the support surface; plane_xy in SfM units."""
    ext = support_extent(plane_xy)
    estimates = []
    if width_m is not None:
        estimates.append((width_m / ext["width"], ext["width_sigma"] / ext["width"]))
    if depth_m is not None:
        estimates.append((depth_m / ext["depth"], ext["depth_sigma"] / ext["depth"]))
    w = np.array([1.0 / max(u, 1e-9) ** 2 for _, u in estimates])
    scale = float(np.sum(w * np.array([s for s, _ in estimates])) / w.sum())
    rel = float(1.0 / np.sqrt(w.sum()))
    if len(estimates) == 2:
        # two sides that disagree beyond their uncertainties: the rectangle is not the table
        diff = abs(estimates[0][0] - estimates[1][0]) / scale
        rel = max(rel, diff / 2.0)
    info = {"width_m": width_m, "depth_m": depth_m,
            "measured_width_units": round(ext["width"], 6), "measured_depth_units": round(ext["depth"], 6),
            "width_rel_sigma": round(ext["width_sigma"] / ext["width"], 6),
            "depth_rel_sigma": round(ext["depth_sigma"] / ext["depth"], 6),
            "points": ext["points"], "isolated_points_dropped": ext["points_dropped"]}
    return ScaleCue("table_size", scale, rel, info)

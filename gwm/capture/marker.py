"""A printed ArUco marker of known side: metric scale and the table frame.

The marker's four corners are detected in every registered frame (OpenCV's ArucoDetector,
sub-pixel corners), triangulated with the SfM poses (robust to a wrong detection or a view
whose pose is off: `triangulation.triangulate_views`), and a square of the known side is
fitted to them: scale = known side / triangulated side. Corners are located as the meeting
points of the four edges' lines (OpenCV's own sub-pixel corners sit ~0.2 px inside a blurred
marker, a 1% scale error at 35 px). The marker also gives a frame: origin
at its centre, +z its normal towards the cameras, +x its own x axis (OpenCV's marker axes:
corner 0 -> corner 1 is +x, corner 3 -> corner 0 is +y, printed face towards +z).

Uncertainty of the scale (relative, one sigma): the corners' covariances propagated through
the square fit by sampling, combined with the spread of the six side estimates (four sides,
two diagonals / sqrt 2), which catches a marker that does not triangulate as a square (a
bent print, a wrong calibration).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gwm.capture.config import CaptureConfig, CaptureError
from gwm.capture.triangulation import triangulate_views
from gwm.metrics.poses import umeyama


@dataclass
class MarkerCue:
    marker_id: int
    side_m: float
    corners: np.ndarray  # (4, 3) in the SfM frame, OpenCV corner order
    centre: np.ndarray  # (3,) SfM frame
    axes: np.ndarray  # (3, 3) columns: marker x, y, z (normal towards the cameras), in the SfM frame
    metres_per_unit: float  # scale: SfM units -> metres
    rel_uncertainty: float  # one sigma, relative
    info: dict  # JSON: detections, per-view residuals, side estimates, uncertainty parts


def square_corners(side: float) -> np.ndarray:
    """(4, 3) corners of a marker of this side in its own frame, OpenCV's order."""
    h = side / 2.0
    return np.array([[-h, h, 0.0], [h, h, 0.0], [h, -h, 0.0], [-h, -h, 0.0]])


def detect_markers(images_dir: Path, names: list[str], dictionary: str) -> dict[str, dict[int, np.ndarray]]:
    """{image name: {marker id: (4, 2) OpenCV pixel corners}}; ids seen twice in one image are left out.
    Corners are refined by edge-line fitting (`refine_corners`)."""
    import cv2

    aruco = cv2.aruco
    params = aruco.DetectorParameters()
    params.cornerRefinementMethod = aruco.CORNER_REFINE_SUBPIX
    dict_ = aruco.getPredefinedDictionary(getattr(aruco, dictionary))
    detector = aruco.ArucoDetector(dict_, params)
    cells = dict_.markerSize + 2  # bits across, with the one-bit black border
    found: dict[str, dict[int, np.ndarray]] = {}
    for name in names:
        grey = cv2.imread(str(images_dir / name), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            continue
        corners, ids, _ = detector.detectMarkers(grey)
        if ids is None:
            continue
        ids = ids.ravel().tolist()
        found[name] = {}
        for i, c in zip(ids, corners):
            if ids.count(i) == 1:
                c = c.reshape(4, 2).astype(np.float64)
                refined = refine_corners(grey, c, cells=cells)
                found[name][i] = c if refined is None else refined
    return found


def _fit_square(corners: np.ndarray, side: float):
    """Similarity marker frame (metres) -> SfM frame fitted to 4 corners; (units per metre, R, t, rms)."""
    sim = umeyama(square_corners(side), corners, with_scale=True)
    rms = float(np.sqrt(((sim.apply_points(square_corners(side)) - corners) ** 2).sum(1).mean()))
    return sim.scale, sim.rotation, sim.translation, rms


def marker_cue(model, images_dir: Path, config: CaptureConfig) -> MarkerCue:
    """Find, triangulate and measure the configured marker in a model's registered frames."""
    side = float(config.marker_size_m)
    detections = detect_markers(images_dir, model.image_names, config.marker_dictionary)
    counts: dict[int, int] = {}
    for d in detections.values():
        for i in d:
            counts[i] = counts.get(i, 0) + 1
    hint = (f"print a {config.marker_dictionary} marker and keep it in view, at least ~20 px wide in the frames "
            "(--marker-dictionary / --marker-id must match it); or capture without --marker-size")
    if config.marker_id is not None:
        mid = config.marker_id
        if counts.get(mid, 0) < 2:
            seen = f"; ids seen: {dict(sorted(counts.items()))}" if counts else ""
            raise CaptureError(f"marker {config.marker_dictionary} id {mid} found in {counts.get(mid, 0)} of "
                               f"{model.num_registered} registered frames (need 2){seen}: {hint}")
    else:
        if not counts or max(counts.values()) < 2:
            raise CaptureError(f"no {config.marker_dictionary} marker found in 2 or more of the {model.num_registered} "
                               f"registered frames: {hint}")
        mid = min(counts, key=lambda i: (-counts[i], i))  # most frames; the lower id on a tie
    names = [n for n in model.image_names if mid in detections.get(n, {})]
    index = {n: i for i, n in enumerate(model.image_names)}
    views = np.array([index[n] for n in names])
    pixels = np.stack([detections[n][mid] for n in names])  # (V, 4, 2)
    tri = triangulate_views(model.world_from_cam[views], model.K, model.distortion, pixels, seed=config.seed)
    corners = tri.points
    units_per_m, rot, centre, rms = _fit_square(corners, side)
    # the corner order fixes the normal's side: it must face the cameras that saw the marker
    facing = (model.world_from_cam[views[tri.inliers], :3, 3] - centre) @ rot[:, 2]
    if np.median(facing) <= 0:
        raise CaptureError("the marker triangulates facing away from the cameras that see it (a mirrored print or a "
                           "wrong detection); print the marker unmirrored, or capture without --marker-size")

    # uncertainty: corner covariances through the square fit, and the six side estimates' spread
    rng = np.random.default_rng(config.seed)
    chol = np.linalg.cholesky(tri.covariances + 1e-30 * np.eye(3))
    samples = []
    for _ in range(200):
        noisy = corners + np.einsum("pij,pj->pi", chol, rng.standard_normal((4, 3)))
        samples.append(_fit_square(noisy, side)[0])
    mc = float(np.std(samples) / units_per_m)
    c = corners
    sides = np.array([np.linalg.norm(c[(k + 1) % 4] - c[k]) for k in range(4)]
                     + [np.linalg.norm(c[2] - c[0]) / np.sqrt(2), np.linalg.norm(c[3] - c[1]) / np.sqrt(2)])
    spread = float(np.std(sides, ddof=1) / np.mean(sides) / np.sqrt(len(sides)))
    rel = float(np.hypot(mc, spread))
    info = {
        "dictionary": config.marker_dictionary, "id": int(mid), "side_m": side,
        "ids_seen": {str(k): v for k, v in sorted(counts.items())},
        "views_detected": len(names), "views_used": int(tri.inliers.sum()),
        "per_view": [{"name": n, "inlier": bool(tri.inliers[k]), "reprojection_px": round(float(tri.view_residual_px[k]), 3)}
                     for k, n in enumerate(names)],
        "side_estimates_m": [round(float(s / units_per_m), 6) for s in sides],
        "square_fit_rms_m": round(rms / units_per_m, 6),
        "uncertainty_parts": {"corner_noise": round(mc, 6), "side_spread": round(spread, 6)},
        "pixel_sigma_px": round(tri.sigma_px, 3),
    }
    return MarkerCue(int(mid), side, corners, centre, rot, 1.0 / units_per_m, rel, info)


def refine_corners(grey: np.ndarray, corners: np.ndarray, cells: int = 6) -> np.ndarray | None:
    """Corners as intersections of the four edge lines, each fitted to sub-pixel edge points
    (the steepest point of the intensity profile across the edge).

    OpenCV's sub-pixel refinement pulls the corners of a blurred dark square inwards (by ~0.2 px
    in a 400x300 view: a 1% scale error on a 35 px marker); an edge's steepest point does not move
    under a symmetric blur, so lines through those points meet at the true corner. Returns None
    when an edge is not found cleanly (the caller keeps OpenCV's corners).
    """
    import cv2

    img = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), 0.7)
    c = np.asarray(corners, np.float64)
    side = float(np.mean([np.linalg.norm(c[(k + 1) % 4] - c[k]) for k in range(4)]))
    reach = float(np.clip(0.45 * side / cells, 1.0, 4.0))  # stay within the black border's width
    offsets = np.arange(-reach, reach + 1e-9, 0.1)
    centre = c.mean(axis=0)
    lines = []
    for k in range(4):
        a, b = c[k], c[(k + 1) % 4]
        d = (b - a) / np.linalg.norm(b - a)
        n = np.array([d[1], -d[0]])
        if (a - centre) @ n < 0:
            n = -n  # outward
        ts = np.linspace(0.15, 0.85, max(5, int(0.7 * side)))
        pts = []
        for t in ts:
            p = a + t * (b - a)
            prof = p[None] + offsets[:, None] * n[None]
            vals = cv2.remap(img, prof[:, 0:1].astype(np.float32), prof[:, 1:2].astype(np.float32), cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE).ravel()
            g = np.gradient(vals)  # dark inside -> bright outside: positive along n
            i = int(np.argmax(g))
            if i == 0 or i == len(g) - 1 or g[i] <= 0:
                continue
            den = g[i - 1] - 2 * g[i] + g[i + 1]
            frac = 0.5 * (g[i - 1] - g[i + 1]) / den if den < 0 else 0.0
            pts.append(p + (offsets[i] + frac * 0.1) * n)
        if len(pts) < 4:
            return None
        pts = np.asarray(pts)
        for _ in range(2):  # total least squares, then without points off the line by > 0.5 px
            mu = pts.mean(axis=0)
            _, _, vt = np.linalg.svd(pts - mu)
            normal = vt[1]
            off = np.abs((pts - mu) @ normal)
            if (off > 0.5).any() and (off <= 0.5).sum() >= 4:
                pts = pts[off <= 0.5]
        lines.append((normal, float(normal @ mu)))
    out = np.empty((4, 2))
    for k in range(4):
        (n1, d1), (n2, d2) = lines[(k - 1) % 4], lines[k]
        A = np.array([n1, n2])
        if abs(np.linalg.det(A)) < 1e-6:
            return None
        out[k] = np.linalg.solve(A, [d1, d2])
    if np.abs(out - c).max() > 2.0:  # a refinement that wanders off is not trusted
        return None
    return out

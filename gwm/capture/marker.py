"""A printed ArUco marker of known side: metric scale and the table frame.

The marker's four corners are detected in every registered frame (OpenCV's ArucoDetector,
sub-pixel corners), triangulated with the SfM poses (robust to a wrong detection or a view
whose pose is off: `triangulation.triangulate_views`), and a square of the known side is
fitted to them: scale = known side / triangulated side. Corners are refined beyond OpenCV's
(`refine_corners`): its own sub-pixel corners sit 0.3-0.7 px inside a blurred or over-exposed
marker, a 2-4% scale error on a 25-30 px marker. The marker also gives a frame: origin
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
                refined = refine_corners(grey, c, cells=cells, bits=_marker_bits(dict_, i))
                found[name][i] = c if refined is None else refined
    return found


def _marker_bits(dictionary, marker_id: int) -> np.ndarray:
    """(cells, cells) bool, True where the printed marker is white, black border included."""
    import cv2

    n = dictionary.markerSize + 2
    return cv2.aruco.generateImageMarker(dictionary, marker_id, n) > 127


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


def refine_corners(grey: np.ndarray, corners: np.ndarray, cells: int = 6, bits: np.ndarray | None = None
                   ) -> np.ndarray | None:
    """Sub-pixel corners of a detected marker, in three passes.

    OpenCV's sub-pixel refinement pulls the corners of a blurred dark square inwards (by ~0.3 px
    in a 400x300 view: a 2% scale error on a 30 px marker). Instead: (1) lines through each edge's
    steepest points (a symmetric blur does not move them) meet at the corners; (2) each line is
    refitted to every pixel along its edge with a blurred-step model, over-exposed pixels censored;
    (3) with the marker's bits, the square is grown or shrunk until its black border is one cell
    wide (`_border_scale`), which cancels what clipping or gamma still leaves. Returns None when the
    edges are not found cleanly (the caller keeps OpenCV's corners).
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
    out = _intersect(lines)
    if out is None or np.abs(out - c).max() > 2.0:  # a refinement that wanders off is not trusted
        return None
    # second pass: a blurred-step model fitted to all pixels along each edge, over-exposed ones censored
    raw = grey.astype(np.float32)
    cell = side / cells
    window = raw[max(int(out[:, 1].min() - cell), 0):int(out[:, 1].max() + cell) + 1,
                 max(int(out[:, 0].min() - cell), 0):int(out[:, 0].max() + cell) + 1]
    top = float(window.max())
    clip = top - 3.0 if np.mean(window >= top - 3.0) > 0.1 else None
    fitted = []
    centre = out.mean(axis=0)
    for k in range(4):
        a, b = out[k], out[(k + 1) % 4]
        d = (b - a) / np.linalg.norm(b - a)
        n = np.array([d[1], -d[0]])
        if (a - centre) @ n < 0:
            n = -n
        line = _fit_edge(raw, a, b, n, reach_in=min(0.8 * cell, 4.0), reach_out=min(1.0 * cell, 5.0), clip=clip)
        if line is None:
            return out
        fitted.append(line)
    refined = _intersect(fitted)
    if refined is None or np.abs(refined - out).max() > 1.0:
        refined = out
    if bits is None:
        return refined
    # third: undo the pull towards the ink that an over-exposed paper margin gives every edge estimate
    k = _border_scale(raw, refined, bits)
    if k is None or abs(k - 1.0) > 0.1:
        return refined
    centre_h = bits.shape[0] / 2.0
    canon = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * centre_h
    H = cv2.getPerspectiveTransform(canon.astype(np.float32), refined.astype(np.float32))
    return cv2.perspectiveTransform((canon * k)[None], H)[0]


def _intersect(lines: list) -> np.ndarray | None:
    """Corner k where edge k-1 meets edge k; lines as (unit normal, offset)."""
    out = np.empty((4, 2))
    for k in range(4):
        (n1, d1), (n2, d2) = lines[(k - 1) % 4], lines[k]
        A = np.array([n1, n2])
        if abs(np.linalg.det(A)) < 1e-6:
            return None
        out[k] = np.linalg.solve(A, [d1, d2])
    return out


def _fit_edge(img: np.ndarray, a_pt: np.ndarray, b_pt: np.ndarray, outward: np.ndarray, reach_in: float,
              reach_out: float, clip: float | None) -> tuple[np.ndarray, float] | None:
    """Line (unit normal, offset) of one marker edge by fitting a blurred step to every pixel
    near it: I = dark + (bright - dark) * Phi(s / sigma), s the signed distance to the line.
    Pixels at the clip level are censored (the model need only reach it), so an over-exposed
    paper margin does not pull the edge towards the dark side."""
    import cv2
    from scipy.optimize import least_squares
    from scipy.special import ndtr

    d = (b_pt - a_pt) / np.linalg.norm(b_pt - a_pt)
    n = outward
    length = float(np.linalg.norm(b_pt - a_pt))
    ts = np.arange(0.15 * length, 0.85 * length, 0.5)
    us = np.arange(-reach_in, reach_out + 1e-9, 0.25)
    T, U = np.meshgrid(ts, us, indexing="ij")
    pts = a_pt[None, None] + T[..., None] * d + U[..., None] * n
    mx, my = pts[..., 0].astype(np.float32), pts[..., 1].astype(np.float32)
    vals = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel().astype(np.float64)
    v, u = (T - 0.5 * length).ravel(), U.ravel()
    if clip is None:
        censored = np.zeros(len(vals), bool)
    else:  # a sample interpolated from any clipped pixel is only a lower bound
        touched = cv2.remap((img >= clip).astype(np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        censored = touched.ravel() > 0
    if (~censored).sum() < 20:
        return None

    def residuals(p):
        off, tilt, dark, bright, log_sigma = p
        pred = dark + (bright - dark) * ndtr((u - off - tilt * v) / np.exp(log_sigma))
        r = pred - vals
        if clip is not None:  # censored: the model need only reach the sample's (lower-bound) value
            r = np.where(censored, np.minimum(pred - vals, 0.0), r)
        return r

    p0 = [0.0, 0.0, float(np.percentile(vals, 5)), float(np.percentile(vals, 95)), np.log(0.8)]
    fit = least_squares(residuals, p0, loss="soft_l1", f_scale=8.0, x_scale=[0.5, 0.01, 20.0, 20.0, 0.3])
    off, tilt, dark, bright, log_sigma = fit.x
    if not (fit.success and bright > dark + 10 and abs(off) < 2.0 and 0.1 < np.exp(log_sigma) < 4.0):
        return None
    direction = d + tilt * n
    direction /= np.linalg.norm(direction)
    normal = np.array([direction[1], -direction[0]])
    point = a_pt + 0.5 * length * d + off * n
    return normal, float(normal @ point)


def _border_scale(img: np.ndarray, corners: np.ndarray, bits: np.ndarray) -> float | None:
    """Factor k by which to grow the corner square (about its centre, in the marker's own plane)
    so that the black border has its true width of one cell.

    Any edge estimator is pulled towards the dark side when the white paper is over-exposed
    (clipped: the bright half of the blurred step is cut off) or gamma-encoded. The border's outer
    edge (paper -> ink) is then seen too far in and its inner edge (ink -> a white cell) too far
    out, by the same amount. In marker units (cells, centre 0, outer edge at 3 for a 4x4 marker)
    the observed outer edge is 3k - e and the inner one 2k + e, so k = (outer + inner) / 5
    whatever e is. Measured across every white cell touching the border; None when none does.
    """
    import cv2

    half = bits.shape[0] / 2.0  # 3 cells for a 4x4 marker with its border
    canon = np.array([[-half, -half], [half, -half], [half, half], [-half, half]], np.float64)  # x right, y down
    H = cv2.getPerspectiveTransform(canon.astype(np.float32), corners.astype(np.float32))
    steps = np.arange(-(half + 0.8), -(half - 1.8) + 1e-9, 0.05)  # outside the paper edge .. into the white cell
    sums = []
    n = bits.shape[0]
    for side in range(4):  # top, right, bottom, left: rotate canonical coordinates by 90 deg each
        rot = np.array([[1, 0], [0, 1]]) if side == 0 else np.linalg.matrix_power(np.array([[0, -1], [1, 0]]), side)
        for j in range(1, n - 1):
            r, c = (1, j) if side == 0 else (j, n - 2) if side == 1 else (n - 2, n - 1 - j) if side == 2 else (n - 1 - j, 1)
            if not bits[r, c]:
                continue
            along = (j + 0.5 - half) + np.linspace(-0.25, 0.25, 6)
            pts = np.stack(np.meshgrid(along, steps, indexing="ij"), -1).reshape(-1, 2) @ rot.T  # (x, y) canonical
            img_pts = cv2.perspectiveTransform(pts[None].astype(np.float64), H)[0].astype(np.float32)
            vals = cv2.remap(img, img_pts[:, 0:1], img_pts[:, 1:2], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            prof = vals.reshape(len(along), len(steps)).mean(axis=0)  # from outside the marker inwards
            k_dark = int(np.argmin(prof))
            out_bright, in_bright, dark = prof[:k_dark].max(initial=0.0), prof[k_dark:].max(initial=0.0), prof[k_dark]
            # one level for both edges, half way up to the paper's white: the white cells are the same paper
            contrast = out_bright - dark
            level = dark + 0.5 * contrast
            if contrast < 20 or in_bright < level + 0.25 * contrast or k_dark == 0 or k_dark == len(prof) - 1:
                continue
            outer = _crossing(steps[:k_dark + 1], prof[:k_dark + 1], level)
            inner = _crossing(steps[k_dark:], prof[k_dark:], level)
            if outer is not None and inner is not None:
                sums.append(-(outer + inner))  # distances from the centre: |outer| + |inner| = 5k for 4x4
    if len(sums) < 2:
        return None
    return float(np.median(sums) / (2 * half - 1))


def _crossing(x: np.ndarray, y: np.ndarray, level: float) -> float | None:
    """First x where the piecewise-linear profile y crosses level."""
    s = np.sign(y - level)
    idx = np.flatnonzero(s[:-1] * s[1:] <= 0)
    if not len(idx):
        return None
    i = idx[0]
    if y[i + 1] == y[i]:
        return float(x[i])
    return float(x[i] + (level - y[i]) * (x[i + 1] - x[i]) / (y[i + 1] - y[i]))

"""The output frame of a capture: metric scale and gravity up.

SfM recovers the scene up to a similarity (scale, rotation, translation). Three ways to
pin it down, in order of preference:

1. `align_to_reference`: known camera centres for some frames (the bundled sample's ground
   truth, or poses from ARKit / a robot) -> Umeyama similarity; metric and Z up at once.
2. Gravity up from the scene (`up="plane"`, the default): the cameras give a rough up
   (people hold cameras level: up is the direction most perpendicular to every camera's
   x axis); the dominant plane of the sparse points within 30 deg of it (the table)
   refines it. The
   table plane becomes z = 0, the origin its inlier points' median, +y the mean viewing
   direction. `up="orbit"` uses the cameras' up only and puts the origin where the
   optical axes meet.
3. Scale from one known distance between two camera centres (`KnownDistance`); without
   it the scale stays SfM's arbitrary unit and the capture is marked not metric.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gwm.capture.config import CaptureConfig, CaptureError
from gwm.metrics.poses import Similarity, umeyama

_CV_FROM_GL = np.diag([1.0, -1.0, -1.0, 1.0])


def align_to_reference(centres: dict[str, np.ndarray], reference_centres: dict[str, np.ndarray]) -> Similarity:
    """Similarity taking SfM camera centres onto known centres, matched by image name."""
    common = sorted(set(centres) & set(reference_centres))
    if len(common) < 3:
        raise CaptureError(
            f"only {len(common)} registered frames have a reference pose (need 3); reference names look like "
            f"{sorted(reference_centres)[:3]}, frames like {sorted(centres)[:3]}: use the reference that belongs "
            "to this capture"
        )
    src = np.stack([centres[n] for n in common])
    dst = np.stack([reference_centres[n] for n in common])
    return umeyama(src, dst, with_scale=True)


def scale_from_known_distance(centres: dict[str, np.ndarray], frame_a: str, frame_b: str, metres: float) -> float:
    """Factor that makes the distance between two camera centres equal `metres`."""
    missing = [n for n in (frame_a, frame_b) if n not in centres]
    if missing:
        raise CaptureError(f"known distance: frame(s) {missing} were not registered; pick two registered frames "
                           f"(e.g. {sorted(centres)[:2]})")
    d = float(np.linalg.norm(centres[frame_a] - centres[frame_b]))
    if d < 1e-9:
        raise CaptureError(f"known distance: {frame_a} and {frame_b} share one camera centre; pick frames further apart")
    return metres / d


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(np.linalg.norm(v), 1e-12)


def up_from_cameras(world_from_cam: np.ndarray) -> np.ndarray:
    """Up estimated from the cameras, assuming they are held level (little roll): the
    direction most perpendicular to every camera's x (right) axis, signed to agree with the
    cameras' up axes (-y in OpenCV). Falls back to the mean camera up when all cameras face
    one way (their x axes do not span a plane)."""
    cam_up = _unit(-world_from_cam[:, :3, 1].mean(axis=0))
    x = world_from_cam[:, :3, 0]
    evals, evecs = np.linalg.eigh(x.T @ x)  # ascending
    if len(x) >= 2 and evals[0] < 0.5 * evals[1]:
        n = evecs[:, 0]
        return n if n @ cam_up > 0 else -n
    return cam_up


def fit_plane_ransac(points: np.ndarray, up_hint: np.ndarray, threshold: float, max_angle_deg: float = 30.0,
                     iterations: int = 1000, seed: int = 0) -> tuple[np.ndarray, float, np.ndarray]:
    """Largest plane n.x = d whose normal is within max_angle_deg of up_hint (n signed along it).

    Returns (n, d, inlier mask); refined by least squares on the inliers.
    """
    if len(points) < 3:
        raise CaptureError("too few SfM points to find the table plane; use up='orbit' or capture more texture")
    rng = np.random.default_rng(seed)
    cos_max = np.cos(np.radians(max_angle_deg))
    best, best_count = None, 0
    for _ in range(iterations):
        a, b, c = points[rng.choice(len(points), 3, replace=False)]
        n = np.cross(b - a, c - a)
        if np.linalg.norm(n) < 1e-12:
            continue
        n = _unit(n)
        if abs(n @ up_hint) < cos_max:
            continue
        inliers = np.abs(points @ n - n @ a) < threshold
        count = int(inliers.sum())
        if count > best_count:
            best, best_count = inliers, count
    if best is None or best_count < 3:
        raise CaptureError("no roughly horizontal plane (table, floor) found in the SfM points; use up='orbit' "
                           "or include the supporting surface in the capture")
    p = points[best]
    centroid = p.mean(axis=0)
    _, _, vt = np.linalg.svd(p - centroid)
    n = vt[2] if vt[2] @ up_hint > 0 else -vt[2]
    return n, float(n @ centroid), np.abs(points @ n - n @ centroid) < threshold


def rotation_z_to(up: np.ndarray, forward_hint: np.ndarray) -> np.ndarray:
    """Rotation R (world_new_from_sfm) with R @ up = +z and forward_hint projected to +y."""
    z = _unit(up)
    f = forward_hint - (forward_hint @ z) * z
    if np.linalg.norm(f) < 1e-9:  # looking straight down: any horizontal direction will do
        f = np.cross(z, [1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.cross(z, [0.0, 1.0, 0.0])
    y = _unit(f)
    x = np.cross(y, z)
    return np.stack([x, y, z])  # rows: new axes expressed in the SfM frame


def optical_axes_meeting_point(world_from_cam: np.ndarray) -> np.ndarray:
    """Least-squares point nearest to every camera's optical axis (what an orbit looks at)."""
    a, b = np.zeros((3, 3)), np.zeros(3)
    for m in world_from_cam:
        d = _unit(m[:3, 2])
        p = np.eye(3) - np.outer(d, d)
        a += p
        b += p @ m[:3, 3]
    if np.linalg.cond(a) > 1e8:  # parallel axes (a straight dolly): use the mean centre
        return world_from_cam[:, :3, 3].mean(axis=0)
    return np.linalg.solve(a, b)


def gravity_alignment(world_from_cam: np.ndarray, points: np.ndarray, method: str, seed: int = 0) -> tuple[Similarity, dict]:
    """Rigid transform to a Z-up frame (no scale); info says how it was found."""
    if method == "none":
        return Similarity.identity(), {"up": "none"}
    up = up_from_cameras(world_from_cam)
    forward = world_from_cam[:, :3, 2].mean(axis=0)
    info: dict = {"up": method}
    if method == "plane":
        spread = np.median(np.linalg.norm(points - np.median(points, axis=0), axis=1)) if len(points) else 0.0
        n, d, inliers = fit_plane_ransac(points, up, threshold=0.01 * max(spread, 1e-9), seed=seed)
        up = n
        origin = np.median(points[inliers], axis=0)
        origin = origin - (origin @ n - d) * n  # onto the plane
        info.update(plane_inliers=int(inliers.sum()), plane_points=int(len(points)))
    elif method == "orbit":
        origin = optical_axes_meeting_point(world_from_cam)
    else:
        raise CaptureError(f"up={method!r}: use 'plane', 'orbit' or 'none'")
    rot = rotation_z_to(up, forward)
    return Similarity(1.0, rot, -rot @ origin), info


def compute_normalisation(world_from_cam: np.ndarray, names: list[str], points: np.ndarray,
                          config: CaptureConfig, reference_centres: dict[str, np.ndarray] | None = None
                          ) -> tuple[Similarity, dict]:
    """world_from_sfm similarity and a JSON-able description of how it was chosen."""
    centres = {n: world_from_cam[i, :3, 3] for i, n in enumerate(names)}
    if reference_centres is not None:
        sim = align_to_reference(centres, reference_centres)
        used = sorted(set(centres) & set(reference_centres))
        return sim, {"method": "reference", "metric": True, "up": "reference", "reference_frames": len(used)}
    sim, info = gravity_alignment(world_from_cam, points, config.up, seed=config.seed)
    metric = False
    if config.known_distance is not None:
        k = config.known_distance
        s = scale_from_known_distance(centres, k.frame_a, k.frame_b, k.metres)
        sim = Similarity(s, np.eye(3), np.zeros(3)).compose(sim)
        metric = True
        info["known_distance"] = {"frame_a": k.frame_a, "frame_b": k.frame_b, "metres": k.metres}
    return sim, {"method": "gravity" if config.up != "none" else "none", "metric": metric, **info}


def load_reference_poses(path: str | Path, video: bool) -> dict[str, np.ndarray]:
    """Known OpenCV world_from_cam poses by output image name.

    path: the bundled sample's ground_truth.json (stills by file name; for a video input,
    frame index i -> "frame_<i:05d>.png") or a nerfstudio transforms.json (by file name).
    """
    from gwm.capture.frames import video_frame_name

    path = Path(path)
    if path.is_dir():
        path = path / "transforms.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CaptureError(f"{path}: cannot read the reference poses ({e}); pass ground_truth.json or transforms.json") from e
    if data.get("format") == "gwm.kitchen_capture.ground_truth":
        if video:
            return {video_frame_name(f["index"]): np.asarray(f["world_from_cam"]) for f in data["video"]["frames"]}
        return {Path(f["file_path"]).name: np.asarray(f["world_from_cam"]) for f in data["frames"]}
    if "frames" in data and all("transform_matrix" in f for f in data["frames"]):
        out = {}
        for f in data["frames"]:
            m = np.asarray(f["transform_matrix"], dtype=np.float64)
            if m.shape == (3, 4):
                m = np.vstack([m, [0, 0, 0, 1]])
            out[Path(f["file_path"]).name] = m @ _CV_FROM_GL
        return out
    raise CaptureError(f"{path}: neither a gwm ground_truth.json nor a transforms.json with frames")

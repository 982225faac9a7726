"""The output frame of a capture: gravity up, origin and heading, metric scale, and how sure each is.

SfM recovers the scene up to a similarity (scale, rotation, translation). What pins it down:

- Up (+z). With `up="plane"` (the default) the table plane: the largest plane of SfM points
  within 30 deg of a prior up (10 deg when the prior is a marker's normal or a phone's gravity),
  its normal is +z and it becomes z = 0. The prior, best first: a metric phone capture's gravity
  (`input_up`), the marker's normal, the cameras (held level: the direction most perpendicular to
  every camera's x axis). `up="orbit"` uses the prior alone; `up="none"` keeps SfM's axes.
- Origin and heading: the marker's centre and x axis when a marker is given; else the table
  points' median (orbit: where the optical axes meet) and the mean viewing direction as +y.
- Scale, from the cues the config names (`marker_size_m`, `known_length`, `table_width_m` /
  `table_depth_m`, `known_distance`, `metric_input`): each gives metres per SfM unit with a
  relative uncertainty; the most certain one is used and the others are reported as checks
  (a warning when they disagree beyond their uncertainties). No cue: not metric.
- `reference` poses (benchmarks, tests): a robust similarity onto them sets everything at once.

Alignments to poses (reference, phone) are robust to wrong cameras (least median of squares over
camera pairs, `gwm.metrics.poses.robust_similarity`); the marker and known points are
triangulated robustly over views; the plane is a RANSAC fit. Each reports per-camera (or
per-view) residuals, and cameras found inconsistent (far from the reference or phone pose,
below the table) are returned so the pipeline can leave them out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gwm.capture.config import CaptureConfig, CaptureError
from gwm.capture.lengths import ScaleCue
from gwm.capture.outliers import up_from_cameras
from gwm.geometry import opengl_to_opencv
from gwm.metrics.poses import RobustAlignment, Similarity, robust_similarity

_AXES = {"+y": np.array([0.0, 1.0, 0.0]), "+z": np.array([0.0, 0.0, 1.0])}


@dataclass
class OutputFrame:
    similarity: Similarity  # world_from_sfm
    info: dict  # JSON: method, metric, metric_from, scale_uncertainty, up_from, frame_from, cues, per_camera, warnings
    rejected: dict[str, str] = field(default_factory=dict)  # camera name -> why it is inconsistent with this frame


def align_to_reference(world_from_cam: dict[str, np.ndarray], reference: dict[str, np.ndarray],
                       seed: int = 0) -> tuple[RobustAlignment, list[str]]:
    """Robust similarity taking SfM cameras onto known poses, matched by image name; and the names used."""
    common = sorted(set(world_from_cam) & set(reference))
    if len(common) < 3:
        raise CaptureError(
            f"only {len(common)} registered frames have a reference pose (need 3); reference names look like "
            f"{sorted(reference)[:3]}, frames like {sorted(world_from_cam)[:3]}: use the reference that belongs "
            "to this capture"
        )
    src = np.stack([world_from_cam[n] for n in common])
    dst = np.stack([reference[n] for n in common])
    return robust_similarity(src, dst, seed=seed), common


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


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(_unit(a) @ _unit(b), -1.0, 1.0))))


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


def rotation_x_to(up: np.ndarray, x_hint: np.ndarray) -> np.ndarray:
    """Rotation R (world_new_from_sfm) with R @ up = +z and x_hint projected to +x."""
    z = _unit(up)
    x = _unit(x_hint - (x_hint @ z) * z)
    return np.stack([x, np.cross(z, x), z])


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


def _points_spread(points: np.ndarray) -> float:
    return float(np.median(np.linalg.norm(points - np.median(points, axis=0), axis=1))) if len(points) else 0.0


def _choose_scale(cues: list[ScaleCue]) -> tuple[ScaleCue | None, list[str], dict]:
    """The most certain cue, warnings for cues that disagree with it, and every cue's JSON."""
    if not cues:
        return None, [], {}
    best = min(cues, key=lambda c: np.inf if c.rel_uncertainty is None else c.rel_uncertainty)
    warnings, report = [], {}
    for c in cues:
        dev = c.metres_per_unit / best.metres_per_unit - 1.0
        row = {"metres_per_unit": c.metres_per_unit, "rel_uncertainty": c.rel_uncertainty, "used": c is best,
               "deviation_from_used": round(dev, 6), **c.info}
        report[c.name] = row
        if c is not best:
            sig = np.hypot(best.rel_uncertainty or 0.0, c.rel_uncertainty or 0.0)
            if abs(dev) > max(3.0 * sig, 0.01):
                warnings.append(f"scale cues disagree: {c.name} gives a scale {100 * dev:+.1f}% from {best.name}'s "
                                f"(more than 3 sigma); check the {c.name} and {best.name} settings (a marker printed "
                                "at another size, a mis-measured length)")
    return best, warnings, report


@dataclass(frozen=True)
class MetricInput:
    """The model's poses are already metric: a phone AR export, or a metric gwm capture re-ingested."""

    cue: str  # "phone_poses" | "input"
    rel_uncertainty: float | None
    up: str  # the input world's up axis: "+y", "+z" or "none"
    note: str


def choose_output_frame(model, config: CaptureConfig, images_dir: Path, *, reference: dict | None = None,
                        phone: dict | None = None, metric_input: MetricInput | None = None) -> OutputFrame:
    """world_from_sfm for an SfM model (see the module docstring).

    reference: {image name: world_from_cam} known metric poses (benchmarks, tests): align to them.
    phone: {image name: world_from_cam} metric phone poses of the frames SfM re-posed (`rerun_sfm`).
    metric_input: the model's poses are themselves metric (a nerfstudio input that says so).
    """
    poses = model.world_from_cam
    names = model.image_names
    if reference is not None:
        ra, common = align_to_reference(dict(zip(names, poses)), reference, seed=config.seed)
        rejected = {n: (f"disagrees with the reference poses: {100 * ra.translation_residual[k]:.1f} cm / "
                        f"{ra.rotation_residual_deg[k]:.1f} deg after robust alignment")
                    for k, n in enumerate(common) if not ra.consistent[k]}
        info = {"method": "reference", "metric": True, "metric_from": "reference", "scale_uncertainty": ra.scale_rel_sigma,
                "up_from": "reference", "frame_from": "reference", "reference_frames": len(common),
                "reference_inliers": int(ra.inliers.sum()), "per_camera": ra.per_camera(common, unit_scale=100.0),
                "per_camera_units": "translation_residual in cm", "warnings": []}
        return OutputFrame(ra.similarity, info, rejected)

    cues: list[ScaleCue] = []
    rejected: dict[str, str] = {}
    info: dict = {"method": "cues", "warnings": []}

    # priors for up, best first
    up_prior, prior_name, prior_angle = up_from_cameras(poses), "cameras (held level)", 30.0
    if phone is not None:
        ra, common = align_to_reference(dict(zip(names, poses)), phone, seed=config.seed)
        rejected.update({n: (f"its SfM pose disagrees with the phone's: {100 * ra.translation_residual[k]:.1f} cm / "
                             f"{ra.rotation_residual_deg[k]:.1f} deg after robust alignment")
                         for k, n in enumerate(common) if not ra.consistent[k]})
        cues.append(ScaleCue("phone_poses", ra.similarity.scale, ra.scale_rel_sigma,
                         {"frames": len(common), "inliers": int(ra.inliers.sum()),
                          "per_camera": ra.per_camera(common, unit_scale=100.0),
                          "per_camera_units": "translation_residual in cm"}))
        if config.input_up != "none":
            up_prior = ra.similarity.rotation.T @ _AXES[config.input_up]
            prior_name, prior_angle = f"phone gravity ({config.input_up} of its world)", 10.0
    elif metric_input is not None:
        cues.append(ScaleCue(metric_input.cue, 1.0, metric_input.rel_uncertainty,
                             {"frames": len(names), "note": metric_input.note}))
        if metric_input.up != "none":
            up_prior = _AXES[metric_input.up].copy()
            prior_name, prior_angle = f"the input's gravity ({metric_input.up} of its world)", 10.0

    marker = None
    if config.marker_size_m is not None:
        from gwm.capture.marker import marker_cue

        marker = marker_cue(model, images_dir, config)
        cues.append(ScaleCue("marker", marker.metres_per_unit, marker.rel_uncertainty, marker.info))
        if prior_name.startswith("cameras"):
            up_prior, prior_name, prior_angle = marker.axes[:, 2], "marker normal", 10.0

    # up and the table plane
    points = model.points
    plane = None
    use_plane = config.up == "plane"
    if use_plane and len(points) < 30 and not prior_name.startswith("cameras"):
        # a pose-only input (a phone export without a point cloud): its gravity stands in for the table
        use_plane = False
        info["warnings"].append(f"{len(points)} SfM points: no table plane to fit; up from {prior_name} "
                                "(--rerun-sfm finds the table)")
    if use_plane:
        thr = 0.01 * max(_points_spread(points), 1e-9)
        if marker is not None:
            side_units = marker.side_m / marker.metres_per_unit
            near = np.linalg.norm(points - marker.centre, axis=1) < 10.0 * side_units
            n, d, inl_near = fit_plane_ransac(points[near], up_prior, thr, prior_angle, seed=config.seed)
            if abs(marker.centre @ n - d) > 0.25 * side_units:
                raise CaptureError("the marker does not lie on the plane around it (it is held up, or the table is "
                                   "not flat there); lay the marker flat on the support surface")
            inliers = np.zeros(len(points), bool)
            inliers[np.flatnonzero(near)[inl_near]] = True
        else:
            n, d, inliers = fit_plane_ransac(points, up_prior, thr, prior_angle, seed=config.seed)
        plane = (n, d, inliers)
        up = n
        info["up_from"] = "table plane"
        info["up_prior"] = {"from": prior_name, "angle_to_plane_normal_deg": round(_angle_deg(n, up_prior), 4)}
        info.update(plane_inliers=int(inliers.sum()), plane_points=int(len(points)))
    elif config.up != "none" or marker is not None:
        up = up_prior
        info["up_from"] = prior_name
    else:
        up = None
        info["up_from"] = "none (SfM axes)"

    # origin and heading
    if marker is not None:
        origin = marker.centre if plane is None else marker.centre - (marker.centre @ plane[0] - plane[1]) * plane[0]
        rot = rotation_x_to(up, marker.axes[:, 0])
        info["frame_from"] = "marker (origin at its centre, +x its x axis)"
    elif up is None:
        origin, rot = np.zeros(3), np.eye(3)
        info["frame_from"] = "none (SfM frame)"
    else:
        forward = poses[:, :3, 2].mean(axis=0)
        if plane is not None:
            n, d, inliers = plane
            origin = np.median(points[inliers], axis=0)
            origin = origin - (origin @ n - d) * n
            info["frame_from"] = "table plane (origin at its points' median, +y the mean viewing direction)"
        else:
            origin = optical_axes_meeting_point(poses)
            info["frame_from"] = "orbit (origin where the optical axes meet, +y the mean viewing direction)"
        rot = rotation_z_to(up, forward)

    # scale
    if config.known_length is not None:
        from gwm.capture.lengths import known_length_cue

        cues.append(known_length_cue(model, config.known_length, seed=config.seed))
    if config.table_width_m is not None or config.table_depth_m is not None:
        from gwm.capture.lengths import table_size_cue

        if plane is None:
            raise CaptureError("table size: no support plane was fitted (it needs --up plane and SfM points; for "
                               "a phone export pass --rerun-sfm)")
        xy = (points[plane[2]] - origin) @ rot[:2].T
        cues.append(table_size_cue(xy, config.table_width_m, config.table_depth_m))
    if config.known_distance is not None:
        k = config.known_distance
        s = scale_from_known_distance(model.centres(), k.frame_a, k.frame_b, k.metres)
        cues.append(ScaleCue("known_distance", s, None, {"frame_a": k.frame_a, "frame_b": k.frame_b, "metres": k.metres}))
    best, warnings, report = _choose_scale(cues)
    scale = best.metres_per_unit if best is not None else 1.0
    info.update(metric=best is not None, metric_from=best.name if best else None,
                scale_uncertainty=best.rel_uncertainty if best else None, cues=report)
    info["warnings"] += warnings

    sim = Similarity(scale, rot, -scale * rot @ origin)
    if plane is not None:
        heights = sim.apply_points(poses[:, :3, 3])[:, 2]
        if np.mean(heights > 0) >= 0.75:  # the table's side is clear: a camera under it cannot see its top
            rejected.update({n: f"below the table plane ({heights[k]:+.3f} {'m' if best else 'units'})"
                             for k, n in enumerate(names) if heights[k] < 0})
        x_axes = poses[:, :3, 0] @ rot.T
        info["per_camera"] = [{"name": n, "x_axis_tilt_deg": round(float(np.degrees(np.arcsin(np.clip(x_axes[k, 2], -1, 1)))), 3),
                               "height": round(float(heights[k]), 6)} for k, n in enumerate(names)]
        info["per_camera_units"] = "x_axis_tilt_deg: the camera's x axis from horizontal (the level-camera prior); height above the plane"
    return OutputFrame(sim, info, rejected)


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
    if str(data.get("format", "")).endswith(".ground_truth") and "frames" in data:
        if video:
            return {video_frame_name(f["index"]): np.asarray(f["world_from_cam"]) for f in data["video"]["frames"]}
        return {Path(f["file_path"]).name: np.asarray(f["world_from_cam"]) for f in data["frames"]}
    if "frames" in data and all("transform_matrix" in f for f in data["frames"]):
        out = {}
        for f in data["frames"]:
            m = np.asarray(f["transform_matrix"], dtype=np.float64)
            if m.shape == (3, 4):
                m = np.vstack([m, [0, 0, 0, 1]])
            out[Path(f["file_path"]).name] = opengl_to_opencv(m)
        return out
    raise CaptureError(f"{path}: neither a gwm ground_truth.json nor a transforms.json with frames")

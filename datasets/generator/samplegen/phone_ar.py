"""A phone AR export (what Record3D / Polycam data look like after `ns-process-data`): JPEG frames
and a nerfstudio transforms.json whose poses are metric OpenGL camera-to-world matrices in an
ARKit-like world frame, with ARKit-like tracking error.

The ARKit world (ARWorldAlignment.gravity): +y up against gravity, origin at the first frame's
estimated camera centre, -z along that camera's horizontal viewing direction. Tracking error is
a slow drift (starts at zero, grows smoothly) plus a little per-frame jitter.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .imaging import jpeg_bytes
from .poses import rigid, rotvec_matrix
from .scene import ArExportDef

_GL_FROM_CV = np.diag([1.0, -1.0, -1.0, 1.0])


def _drift(rng: np.random.Generator, n: int, peak: float, axis_weights) -> np.ndarray:
    """(n, 3) smooth curves from 0 (twice-integrated white noise), largest norm = peak."""
    d = np.cumsum(np.cumsum(rng.standard_normal((n, 3)), axis=0), axis=0) * np.asarray(axis_weights, float)
    d -= d[0]
    return d * (peak / np.linalg.norm(d, axis=1).max())


def tracked_poses(true_world_from_cam: list[np.ndarray], spec: ArExportDef, rng: np.random.Generator) -> list[np.ndarray]:
    """ARKit-like estimates (OpenCV world_from_cam, in the true world) of the true poses."""
    n = len(true_world_from_cam)
    drift_t = _drift(rng, n, spec.drift_m, (1.0, 1.0, 0.5))
    drift_r = _drift(rng, n, math.radians(spec.drift_deg), (0.3, 0.3, 1.0))  # mostly yaw: gravity is observed
    out = []
    for k, m in enumerate(true_world_from_cam):
        err_r = rotvec_matrix(drift_r[k] + math.radians(spec.jitter_deg) * rng.standard_normal(3))
        err_t = drift_t[k] + spec.jitter_m * rng.standard_normal(3)
        out.append(rigid(err_r @ m[:3, :3], m[:3, 3] + err_t))
    return out


def arkit_world(first_estimate: np.ndarray) -> np.ndarray:
    """world_from_arkit for a Z-up world: y_arkit = +z, origin at the first camera, -z_arkit its heading."""
    forward = first_estimate[:3, 2].copy()  # OpenCV +z is the viewing direction
    forward[2] = 0.0
    z_a = -forward / np.linalg.norm(forward)
    y_a = np.array([0.0, 0.0, 1.0])
    x_a = np.cross(y_a, z_a)
    return rigid(np.stack([x_a, y_a, z_a], axis=1), first_estimate[:3, 3])


def write_ar_export(folder: Path, frames: list[np.ndarray], true_poses: list[np.ndarray], video_indices: list[int],
                    K: np.ndarray, spec: ArExportDef, rng: np.random.Generator) -> dict:
    """Write folder/images/*.jpg and folder/transforms.json; return its ground truth."""
    (folder / "images").mkdir(parents=True)
    estimates = tracked_poses(true_poses, spec, rng)
    world_from_arkit = arkit_world(estimates[0])
    arkit_from_world = np.linalg.inv(world_from_arkit)
    h, w = frames[0].shape[:2]
    tf_frames, gt_frames = [], []
    for k, (rgb, true, est, vi) in enumerate(zip(frames, true_poses, estimates, video_indices)):
        name = f"images/frame_{k:05d}.jpg"
        (folder / name).write_bytes(jpeg_bytes(rgb, spec.jpeg_quality))
        tf_frames.append({"file_path": name, "transform_matrix": (arkit_from_world @ est @ _GL_FROM_CV).tolist()})
        cos = np.clip((np.trace(est[:3, :3] @ true[:3, :3].T) - 1) / 2, -1, 1)
        gt_frames.append({"file_path": name, "video_index": vi, "world_from_cam": np.round(true, 9).tolist(),
                          "translation_error_m": float(np.linalg.norm(est[:3, 3] - true[:3, 3])),
                          "rotation_error_deg": math.degrees(math.acos(cos))})
    transforms = {"w": w, "h": h, "fl_x": K[0, 0], "fl_y": K[1, 1], "cx": K[0, 2], "cy": K[1, 2],
                  "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0, "camera_model": "OPENCV", "frames": tf_frames}
    (folder / "transforms.json").write_text(json.dumps(transforms, indent=1) + "\n")
    t_err = np.array([f["translation_error_m"] for f in gt_frames])
    r_err = np.array([f["rotation_error_deg"] for f in gt_frames])
    return {
        "folder": folder.name,
        "world_from_arkit": world_from_arkit.tolist(),
        "arkit_frame": "OpenGL camera-to-world poses in metres; ARKit world: +y up (gravity -y), origin at the first "
                       "frame's estimated camera centre, -z along its horizontal viewing direction",
        "noise": {"drift_max_m": spec.drift_m, "drift_max_deg": spec.drift_deg, "jitter_std_m": spec.jitter_m,
                  "jitter_std_deg": spec.jitter_deg, "jpeg_quality": spec.jpeg_quality,
                  "translation_error_m": {"max": float(t_err.max()), "rms": float(np.sqrt((t_err**2).mean()))},
                  "rotation_error_deg": {"max": float(r_err.max()), "rms": float(np.sqrt((r_err**2).mean()))}},
        "intrinsics": "exact (the video's K); no distortion",
        "frames": gt_frames,
    }

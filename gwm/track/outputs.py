"""What `gwm track` writes: the tracked body trajectories as a dataset, and an overlay video."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gwm.data.spec import ACTION, BODY_POSES, DatasetSpec, FeatureSpec

TRACK_FORMAT_VERSION = 1
TRACK_TASK = "track a camera stream with visual forces"


def tracked_dataset_spec(fps: float, body_names, body_roles, camera_specs) -> DatasetSpec:
    """Body poses per frame (background first) and, as the action, the visual wrench on each body
    (force xyz, torque xyz per body, flattened; zero for bodies that are not corrected)."""
    names = tuple(body_names)
    wrench_names = [f"{b}.{c}" for b in names for c in ("fx", "fy", "fz", "tx", "ty", "tz")]
    features = {
        BODY_POSES: FeatureSpec("float32", (len(names), 7), ["x", "y", "z", "qw", "qx", "qy", "qz"]),
        ACTION: FeatureSpec("float32", (6 * len(names),), wrench_names),
    }
    return DatasetSpec(fps=max(1, int(round(fps))), features=features, robot_type="none", body_names=names,
                       body_roles=tuple(body_roles), cameras=tuple(camera_specs))


def write_tracked_dataset(root: Path, fmt: str, poses: np.ndarray, wrenches: np.ndarray, fps: float, body_names,
                          body_roles, canonical, camera_specs, metadata: dict) -> Path:
    """poses (T,B,7) and wrenches (T,B,6), rows in body_names order (background first, identity)."""
    from gwm.data.api import create_recorder

    spec = tracked_dataset_spec(fps, body_names, body_roles, camera_specs)
    meta = {"format_version": TRACK_FORMAT_VERSION, "source": "gwm.track", **metadata}
    rec = create_recorder(root, spec, fmt, canonical_gaussians=canonical, image_format="png", metadata=meta)
    try:
        if rec.num_episodes:
            raise FileExistsError(f"{root}: already holds a dataset; write the tracking output to an empty folder")
        for t in range(len(poses)):
            rec.add_frame({BODY_POSES: poses[t].astype(np.float32), ACTION: wrenches[t].reshape(-1).astype(np.float32)},
                          TRACK_TASK)
        rec.save_episode(success=True, seed=0)
    finally:
        path = rec.finalize()
    return path


OVERLAY_LABELS = ("observed", "corrected", "open loop")


def _labelled(panel: np.ndarray, text: str) -> np.ndarray:
    """(T,H,W,3) frames with `text` in their top-left corner, white on a black outline, so it reads on any scene."""
    import cv2

    scale = max(0.3, panel.shape[2] / 480)
    org = (3, 3 + int(round(22 * scale)))
    out = np.ascontiguousarray(panel.copy())
    for frame in out:
        cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_8)
        cv2.putText(frame, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_8)
    return out


def overlay_frames(observed: np.ndarray, corrected: np.ndarray, open_loop: np.ndarray | None) -> np.ndarray:
    """(T,C,H,W,3) uint8 each -> (T, C*H, k*W, 3): per camera a row observed | corrected | open loop, the
    first camera's panels labelled."""
    cols = [observed, corrected] + ([open_loop] if open_loop is not None else [])
    cols = [np.concatenate([_labelled(col[:, 0], label)[:, None], col[:, 1:]], axis=1)
            for col, label in zip(cols, OVERLAY_LABELS)]
    t, c, h, w, _ = observed.shape
    row = np.concatenate(cols, axis=3)  # (T,C,H,k*W,3)
    return row.reshape(t, c * h, row.shape[3], 3)


def write_overlay_video(path: Path, observed, corrected, open_loop, fps: float) -> Path:
    from gwm.data.frames_codec import encode_video

    frames = overlay_frames(observed, corrected, open_loop)
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2  # yuv420p needs even sizes
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
    return encode_video(Path(path), np.ascontiguousarray(frames), max(1, int(round(fps))))


__all__ = ["OVERLAY_LABELS", "TRACK_FORMAT_VERSION", "overlay_frames", "tracked_dataset_spec", "write_overlay_video",
           "write_tracked_dataset"]

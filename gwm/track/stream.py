"""A recorded camera stream for `gwm track`: frames per camera plus the cameras' known poses.

FRAMES is a folder with, per camera, either a folder of images (<name>/000000.png, ... in name
order) or a video (<name>.mp4). CAMERAS is a JSON file: {"fps": 30, "cameras": [CameraSpec dicts]}
(gwm.cameras.CameraSpec.to_dict: name, K, width, height, mount "world", mount_from_cam), OpenCV
axes. Every camera with frames needs a pose, every posed camera needs frames, and all cameras
share one image size and frame count. Problems raise TrackInputError with one line saying what
to fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gwm.cameras import Cameras, CameraSpec
from gwm.track.loop import TrackInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi")


@dataclass
class CameraStream:
    fps: float
    specs: tuple[CameraSpec, ...]
    cameras: Cameras
    frames: np.ndarray  # (T, C, H, W, 3) uint8

    @property
    def num_frames(self) -> int:
        return len(self.frames)


def read_cameras_json(path: Path) -> tuple[float | None, tuple[CameraSpec, ...]]:
    path = Path(path)
    if not path.is_file():
        raise TrackInputError(f"{path}: no such cameras file (JSON with the cameras' intrinsics and poses)")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise TrackInputError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    entries = doc.get("cameras") if isinstance(doc, dict) else doc
    if not isinstance(entries, list) or not entries:
        raise TrackInputError(f"{path}: expected {{\"fps\": ..., \"cameras\": [...]}} with at least one camera")
    specs = []
    for i, e in enumerate(entries):
        try:
            specs.append(CameraSpec.from_dict(e))
        except (KeyError, TypeError, ValueError) as err:
            raise TrackInputError(f"{path}: camera {i}: {err}") from None
    moving = [s.name for s in specs if not s.is_fixed]
    if moving:
        raise TrackInputError(f"{path}: cameras {moving} are mounted on {specs[0].mount!r}; the tracker takes fixed "
                              "cameras (mount 'world') with known poses")
    fps = doc.get("fps") if isinstance(doc, dict) else None
    return (None if fps is None else float(fps)), tuple(specs)


def _camera_sources(folder: Path) -> dict[str, Path]:
    sources = {}
    for p in sorted(folder.iterdir()):
        if p.is_dir() and any(q.suffix.lower() in IMAGE_SUFFIXES for q in p.iterdir()):
            sources[p.name] = p
        elif p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES:
            sources[p.stem] = p
    return sources


def _read_source(src: Path, spec: CameraSpec) -> np.ndarray:
    import cv2

    if src.is_dir():
        files = sorted(q for q in src.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        out = []
        for f in files:
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is None:
                raise TrackInputError(f"{f}: cannot be read as an image")
            if img.shape[:2] != (spec.height, spec.width):
                raise TrackInputError(f"{f}: image is {img.shape[1]}x{img.shape[0]} but camera {spec.name!r} is "
                                      f"{spec.width}x{spec.height} in the cameras file")
            out.append(img[..., ::-1])
        return np.stack(out)
    from gwm.data.frames_codec import decode_video
    from gwm.data.spec import DatasetError

    try:
        frames = decode_video(src, spec.height, spec.width)
    except DatasetError as e:
        raise TrackInputError(f"{src}: {e} (is the video {spec.width}x{spec.height} as the cameras file says?)") from None
    return frames


def read_stream(frames_dir: Path, cameras_json: Path, fps: float | None = None) -> CameraStream:
    frames_dir = Path(frames_dir)
    if not frames_dir.is_dir():
        raise TrackInputError(f"{frames_dir}: no such folder (one image folder or video per camera)")
    file_fps, specs = read_cameras_json(cameras_json)
    fps = fps if fps is not None else file_fps
    if fps is None or not fps > 0:
        raise TrackInputError(f"{cameras_json}: no frame rate; give --fps or \"fps\" in the cameras file")
    sources = _camera_sources(frames_dir)
    names = [s.name for s in specs]
    unposed = sorted(set(sources) - set(names))
    if unposed:
        raise TrackInputError(f"{frames_dir}: frames for cameras {unposed} have no pose in {cameras_json} "
                              f"(it lists {names})")
    if len(sources) != len(specs):
        missing = sorted(set(names) - set(sources))
        raise TrackInputError(f"{cameras_json} lists {len(specs)} cameras but {frames_dir} has frames for "
                              f"{len(sources)}: no frames for {missing}")
    sizes = {(s.width, s.height) for s in specs}
    if len(sizes) != 1:
        raise TrackInputError(f"{cameras_json}: cameras have different image sizes {sorted(sizes)}; give one size")
    per_camera = [_read_source(sources[s.name], s) for s in specs]
    counts = {s.name: len(f) for s, f in zip(specs, per_camera)}
    if len(set(counts.values())) != 1:
        raise TrackInputError(f"{frames_dir}: cameras have different frame counts {counts}; give one frame per "
                              "camera per time step")
    if not counts[names[0]]:
        raise TrackInputError(f"{frames_dir}: no frames")
    w, h = sizes.pop()
    cams = Cameras(torch.tensor([s.K for s in specs], dtype=torch.float32),
                   torch.stack([s.world_from_cam() for s in specs]), w, h)
    return CameraStream(float(fps), specs, cams, np.stack(per_camera, 1))


JOINT_COLUMNS = 9  # the Panda's seven arm joints (rad) and two fingers (m), as the datasets' joint state


def _has_header(path: Path) -> bool:
    """Whether the CSV's first line is a header (not all numbers)."""
    first = path.read_text().splitlines()[:1]
    try:
        [float(v) for v in first[0].split(",")] if first else None
    except ValueError:
        return True
    return False


def read_joint_states(path: Path, frames: int) -> np.ndarray:
    """(T, 9) the robot's joint positions per frame from a CSV (one row per frame, a header line allowed) or a
    .npy file; one clear error when it does not fit the stream."""
    path = Path(path)
    if not path.is_file():
        raise TrackInputError(f"{path}: no such joint-states file (one row per frame: 7 arm joints in rad, 2 "
                              "fingers in m; .csv or .npy)")
    try:
        if path.suffix.lower() == ".npy":
            q = np.load(path, allow_pickle=False)
        else:
            q = np.loadtxt(path, delimiter=",", skiprows=int(_has_header(path)), ndmin=2)
    except ValueError as e:
        raise TrackInputError(f"{path}: not a table of numbers ({e})") from None
    q = np.asarray(q, np.float64)
    if q.ndim != 2 or q.shape[1] != JOINT_COLUMNS:
        raise TrackInputError(f"{path}: {q.shape[-1] if q.ndim else 0} columns; give {JOINT_COLUMNS} per row "
                              "(7 arm joints in rad, 2 fingers in m)")
    if len(q) != frames:
        raise TrackInputError(f"{path}: {len(q)} rows of joint states for {frames} frames; give one row per frame")
    if not np.isfinite(q).all():
        row = int(np.flatnonzero(~np.isfinite(q).all(1))[0])
        raise TrackInputError(f"{path}: joint states have NaN or inf (row {row})")
    return q


def write_joint_states(path: Path, joints: np.ndarray) -> Path:
    """The robot's joint positions per frame (T, 9) as the CSV read_joint_states reads (exactly: 17 digits)."""
    from gwm.atomic_io import write_text_atomic

    header = ",".join([f"joint{i}" for i in range(1, 8)] + ["finger1", "finger2"])
    rows = "\n".join(",".join(f"{v:.17g}" for v in row) for row in np.asarray(joints, np.float64))
    return write_text_atomic(Path(path), header + "\n" + rows + "\n")


def write_stream(folder: Path, frames: np.ndarray, specs, fps: float) -> Path:
    """Write (T, C, H, W, 3) uint8 frames as per-camera PNG folders plus cameras.json (read_stream's layout)."""
    import cv2

    from gwm.atomic_io import write_bytes_atomic, write_json_atomic

    folder = Path(folder)
    for c, spec in enumerate(specs):
        for t in range(len(frames)):
            ok, buf = cv2.imencode(".png", frames[t, c][..., ::-1])
            write_bytes_atomic(folder / spec.name / f"{t:06d}.png", buf.tobytes())
    write_json_atomic(folder / "cameras.json", {"fps": fps, "cameras": [s.to_dict() for s in specs]})
    return folder


__all__ = ["CameraStream", "JOINT_COLUMNS", "read_cameras_json", "read_joint_states", "read_stream",
           "write_joint_states", "write_stream"]

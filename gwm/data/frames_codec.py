"""Camera frames on disk: H.264 mp4 (yuv420p) through the ffmpeg that imageio-ffmpeg bundles, or PNG bytes."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gwm.atomic_io import atomic_write_path
from gwm.data.spec import DatasetError


@dataclass(frozen=True)
class VideoConfig:
    """libx264 settings. A short GOP keeps random access cheap for LeRobot's seeking decoders."""

    crf: int = 18
    gop: int = 2
    preset: str = "veryfast"
    threads: int = 1  # cameras encode in parallel; one thread each


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def encode_video(path: Path, frames: np.ndarray, fps: int, config: VideoConfig = VideoConfig()) -> Path:
    """Write (T, H, W, 3) uint8 RGB frames as H.264 mp4 at `fps`, atomically."""
    t, h, w, c = frames.shape
    if frames.dtype != np.uint8 or c != 3:
        raise ValueError(f"encode_video wants (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    if h % 2 or w % 2:
        raise DatasetError(f"yuv420p video needs even image sizes, got {w}x{h}; use image_format='png'")
    with atomic_write_path(path) as tmp:
        _ffmpeg_encode(path, tmp, frames, fps, config)
    return Path(path)


def _ffmpeg_encode(path: Path, tmp: Path, frames: np.ndarray, fps: int, config: VideoConfig) -> None:
    t, h, w, c = frames.shape
    cmd = [
        _ffmpeg(), "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(int(fps)), "-i", "-",
        "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", config.preset,
        "-crf", str(config.crf), "-g", str(config.gop), "-threads", str(config.threads),
        "-f", "mp4", str(tmp),
    ]  # fmt: skip
    proc = subprocess.run(cmd, input=np.ascontiguousarray(frames).tobytes(), capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed to encode {path}: {proc.stderr.decode(errors='replace')[-2000:]}")


def decode_video(path: Path, height: int, width: int, first: int = 0, count: int | None = None) -> np.ndarray:
    """Frames [first, first + count) of an mp4 as (count, H, W, 3) uint8 RGB."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: video file missing; the dataset is incomplete (re-record or re-convert it)")
    cmd = [_ffmpeg(), "-loglevel", "error", "-i", str(path), "-sws_flags", "bicubic+accurate_rnd+full_chroma_int",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        raise DatasetError(
            f"{path}: ffmpeg cannot decode it ({proc.stderr.decode(errors='replace').strip()[-500:]}); "
            "the file is damaged: re-record or re-convert the episode"
        )
    frame_bytes = height * width * 3
    if len(proc.stdout) % frame_bytes:
        raise DatasetError(f"{path}: decoded size is not a whole number of {width}x{height} frames")
    frames = np.frombuffer(proc.stdout, np.uint8).reshape(-1, height, width, 3)
    stop = len(frames) if count is None else first + count
    if stop > len(frames):
        raise DatasetError(
            f"{path}: has {len(frames)} frames, metadata expects frames {first}..{stop - 1}; "
            "the video and the episode table disagree (re-record or re-convert the episode)"
        )
    return frames[first:stop]


def encode_png(image: np.ndarray, compression: int = 1) -> bytes:
    """(H, W, 3) uint8 RGB -> PNG bytes (lossless)."""
    import cv2

    ok, buf = cv2.imencode(".png", image[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, compression])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def decode_png(data: bytes) -> np.ndarray:
    import cv2

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise DatasetError("a PNG image in the dataset cannot be decoded; the data file is damaged")
    return img[..., ::-1]

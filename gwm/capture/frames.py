"""Frames for SfM: pick sharp, evenly spaced frames from a video; list and check an image folder.

Sharpness is the variance of the Laplacian of the grey image (downscaled so the longer side
is at most 640 px, which makes the number comparable across resolutions). A video is cut
into `max_frames` equal slots and the sharpest frame of each slot is kept; a kept frame that
is much blurrier than the kept frames around it (a shake that spans a whole slot) is dropped.
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gwm.capture.config import CaptureConfig, CaptureError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".hevc", ".h265", ".h264", ".mts")
_ANALYSIS_SIZE = 640


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the Laplacian of an (H, W, 3) uint8 image; higher is sharper."""
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    if max(h, w) > _ANALYSIS_SIZE:
        s = _ANALYSIS_SIZE / max(h, w)
        grey = cv2.resize(grey, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def resize_to(rgb: np.ndarray, max_size: int | None) -> np.ndarray:
    """Downscale (never upscale) so the longer side is at most max_size pixels."""
    import cv2

    if max_size is None:
        return rgb
    h, w = rgb.shape[:2]
    if max(h, w) <= max_size:
        return rgb
    s = max_size / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f"could not write {path}; check free disk space and permissions")


def read_rgb(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise CaptureError(f"{path}: not a readable image; re-export it as PNG or JPEG (or remove it)")
    return img[..., ::-1]


@dataclass
class FrameSelection:
    """What frame selection kept and why (written to capture_report.json)."""

    source: str
    names: list[str]  # image names written to images/
    source_indices: list[int]  # video frame index (or position in the sorted folder) of each name
    num_candidates: int  # frames decoded (video) or images found (folder)
    sharpness: list[float] = field(default_factory=list)  # of each kept frame
    dropped_blurred: list[int] = field(default_factory=list)  # source indices dropped as blurred
    fps: float | None = None

    def to_json(self) -> dict:
        return {"source": self.source, "num_candidates": self.num_candidates, "num_kept": len(self.names),
                "source_indices": self.source_indices, "sharpness": [round(s, 2) for s in self.sharpness],
                "dropped_blurred": self.dropped_blurred, "fps": self.fps}


def video_frame_name(index: int) -> str:
    return f"frame_{index:05d}.png"


def _open_video(path: Path):
    """imageio-ffmpeg frame generator (H.264, HEVC, ...) and its metadata; clear errors."""
    import imageio_ffmpeg

    if not path.is_file():
        raise CaptureError(f"{path}: no such video file; check the path")
    if path.stat().st_size == 0:
        raise CaptureError(f"{path}: the video file is empty (0 bytes); copy the recording again")
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        meta = next(gen)
    except Exception as e:  # ffmpeg reports unreadable input as IOError/RuntimeError with its log
        gen.close()
        raise CaptureError(
            f"{path}: ffmpeg cannot read this video ({str(e).strip().splitlines()[-1][:200]}); "
            "re-encode it, e.g. `ffmpeg -i in.mov -c:v libx264 out.mp4`, or extract frames to a folder"
        ) from e
    return gen, meta


def select_video_frames(path: str | Path, images_dir: Path, config: CaptureConfig, progress: bool = True) -> FrameSelection:
    """Decode the video once; keep the sharpest frame per slot, drop relative blur; write PNGs."""
    from tqdm.auto import tqdm

    path = Path(path)
    gen, meta = _open_video(path)
    w, h = meta["size"]
    fps = float(meta.get("fps") or 0.0) or None
    est = meta.get("duration", 0.0) * (fps or 0.0)
    n_est = int(round(est)) if est and math.isfinite(est) and est > 0 else None
    # Slot length in frames: the duration cut into max_frames slots; unknown length -> every frame a slot.
    slot = max(1.0, n_est / config.max_frames) if n_est else 1.0
    best: dict[int, tuple[float, int, np.ndarray]] = {}
    all_sharp: list[float] = []
    bar = tqdm(total=n_est, desc=f"reading {path.name}", unit="frame", disable=not progress)
    n = 0
    try:
        for raw in gen:
            rgb = np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
            s = sharpness(rgb)
            all_sharp.append(s)
            k = int(n / slot)
            if k not in best or s > best[k][0]:
                best[k] = (s, n, rgb.copy())
            n += 1
            bar.update(1)
    except Exception as e:  # a truncated file fails part-way
        raise CaptureError(f"{path}: the video is damaged after frame {n} ({e}); re-encode or trim it") from e
    finally:
        bar.close()
        gen.close()
    if n == 0:
        raise CaptureError(f"{path}: the video has no decodable frames; check the recording or re-encode it")
    if max(all_sharp) < config.min_sharpness:
        raise CaptureError(
            f"{path}: all {n} frames are blurred (sharpest variance of Laplacian {max(all_sharp):.1f} < "
            f"{config.min_sharpness}); record again moving slower in good light, or lower min_sharpness "
            "(--min-sharpness) if the scene is simply plain"
        )
    if len(best) > config.max_frames:  # the duration estimate was short: merge surplus slots evenly
        keys = sorted(best)
        keep = {keys[int(i * len(keys) / config.max_frames)] for i in range(config.max_frames)}
        best = {k: best[k] for k in keys if k in keep}
    picks = [best[k] for k in sorted(best)]
    sharp = np.array([p[0] for p in picks])
    kept, dropped = [], []
    for i, (s, idx, rgb) in enumerate(picks):
        nb = np.concatenate([sharp[max(0, i - 3):i], sharp[i + 1:i + 4]])  # up to 3 kept frames each side
        ref = float(np.median(nb)) if len(nb) else s
        if s < config.min_sharpness or s < config.min_relative_sharpness * ref:
            dropped.append(idx)
        else:
            kept.append((s, idx, rgb))
    if len(kept) < 3:
        raise CaptureError(
            f"{path}: only {len(kept)} usable frame(s) of {n} (after dropping {len(dropped)} blurred); SfM needs "
            "at least 3: record a longer, steadier video around the scene, or raise --max-frames"
        )
    names = []
    for s, idx, rgb in kept:
        name = video_frame_name(idx)
        write_rgb(images_dir / name, resize_to(rgb, config.max_image_size))
        names.append(name)
    return FrameSelection("video", names, [k[1] for k in kept], n, [k[0] for k in kept], dropped, fps)


def _natural_key(p: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


def list_images(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)


def check_image_sizes(paths: list[Path]) -> tuple[int, int]:
    """(W, H) shared by all images; raises on unreadable files or mixed sizes."""
    import cv2

    sizes: dict[tuple[int, int], list[str]] = {}
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise CaptureError(f"{p}: not a readable image; re-export it as PNG or JPEG (or remove it)")
        sizes.setdefault((img.shape[1], img.shape[0]), []).append(p.name)
    if len(sizes) > 1:
        listing = "; ".join(f"{w}x{h}: {len(v)} (e.g. {v[0]})" for (w, h), v in sorted(sizes.items()))
        raise CaptureError(
            f"images have mixed sizes ({listing}); a capture uses one camera for all frames: resize or "
            "crop them to one size (or split them into one folder per camera)"
        )
    return next(iter(sizes))


def select_folder_images(folder: str | Path, images_dir: Path, config: CaptureConfig,
                         progress: bool = True) -> FrameSelection:
    """Images of a folder (sorted naturally), evenly thinned to max_frames, copied or downscaled."""
    from tqdm.auto import tqdm

    folder = Path(folder)
    paths = list_images(folder)
    if len(paths) < 3:
        raise CaptureError(
            f"{folder}: {len(paths)} image(s) found ({', '.join(IMAGE_SUFFIXES)}); SfM needs at least 3 "
            "overlapping views: add more images of the scene"
        )
    check_image_sizes(paths)
    if len(paths) > config.max_frames:
        positions = [int(i * len(paths) / config.max_frames) for i in range(config.max_frames)]
    else:
        positions = list(range(len(paths)))
    names, sharp = [], []
    for i in tqdm(positions, desc="images", unit="img", disable=not progress):
        p = paths[i]
        rgb = read_rgb(p)
        sharp.append(sharpness(rgb))
        small = resize_to(rgb, config.max_image_size)
        if small is rgb:
            shutil.copyfile(p, images_dir / p.name)
        else:
            write_rgb(images_dir / p.name, small)
        names.append(p.name)
    if max(sharp) < config.min_sharpness:
        raise CaptureError(
            f"{folder}: all {len(names)} images are blurred (sharpest variance of Laplacian {max(sharp):.1f} < "
            f"{config.min_sharpness}); take sharper photos, or lower --min-sharpness if the scene is plain"
        )
    return FrameSelection("images", names, positions, len(paths), sharp, [])

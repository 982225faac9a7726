"""Frames for SfM: pick sharp, evenly spaced frames from a video; list, check and filter an image folder.

Sharpness is the variance of the Laplacian of the grey image (downscaled so the longer side
is at most 640 px, which makes the number comparable across resolutions). Blur is judged
relative to the capture itself, not by one absolute number (texture and noise move it a lot
from scene to scene): a video is cut into `max_frames` equal slots, the sharpest frame of each
slot is picked, and a pick much blurrier than the picks around it (a shake that spans a whole
slot) is dropped; a still much blurrier than the median still of its folder is dropped. Every
candidate's sharpness, its reference and the reason it was dropped go to the capture report.
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
    # one row per frame considered (video: each slot's pick; folder: each image): name, source_index,
    # sharpness, reference (what it was compared with), ratio, kept, reason (why it was dropped)
    frames: list[dict] = field(default_factory=list)

    @property
    def dropped_names(self) -> list[str]:
        return [f["name"] for f in self.frames if not f["kept"]]

    def to_json(self) -> dict:
        return {"source": self.source, "num_candidates": self.num_candidates, "num_kept": len(self.names),
                "source_indices": self.source_indices, "sharpness": [round(s, 2) for s in self.sharpness],
                "dropped_blurred": self.dropped_blurred, "fps": self.fps, "frames": self.frames}


def _blur_record(name: str, index: int, s: float, reference: float, config: CaptureConfig, what: str,
                 forced: bool = False) -> dict:
    """One frame's sharpness verdict: blurred when under the absolute floor or under
    `min_relative_sharpness` of its reference (kept anyway when `forced`: a cue names the frame)."""
    ratio = s / reference if reference > 0 else 1.0
    reason = None
    if s < config.min_sharpness:
        reason = f"blurred: sharpness {s:.1f} < min_sharpness {config.min_sharpness}"
    elif ratio < config.min_relative_sharpness:
        reason = (f"blurred: sharpness {s:.1f} is {ratio:.2f} of {what} {reference:.1f} "
                  f"(< min_relative_sharpness {config.min_relative_sharpness})")
    row = {"name": name, "source_index": int(index), "sharpness": round(s, 2), "reference": round(reference, 2),
           "ratio": round(ratio, 3), "kept": reason is None or forced, "reason": reason}
    if forced and reason is not None:
        row["reason"] = reason + "; kept because a scale cue names this frame"
    return row


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


def select_video_frames(path: str | Path, images_dir: Path, config: CaptureConfig, progress: bool = True,
                        keep_indices: tuple[int, ...] = ()) -> FrameSelection:
    """Decode the video once; keep the sharpest frame per slot, drop relative blur; write PNGs.

    keep_indices: frames that are kept whatever their slot or sharpness (a known length marks
    pixels in them).
    """
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
    forced: dict[int, tuple[float, int, np.ndarray]] = {}
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
            if n in keep_indices:
                forced[n] = (s, n, rgb.copy())
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
    missing = sorted(set(keep_indices) - set(forced))
    if missing:
        raise CaptureError(f"{path}: frame(s) {missing} named by a scale cue are beyond the video's {n} frames; "
                           f"use frame indices 0..{n - 1}")
    picks = sorted({p[1]: p for p in [best[k] for k in best] + list(forced.values())}.values(), key=lambda p: p[1])
    sharp = np.array([p[0] for p in picks])
    kept, dropped, rows = [], [], []
    for i, (s, idx, rgb) in enumerate(picks):
        nb = np.concatenate([sharp[max(0, i - 3):i], sharp[i + 1:i + 4]])  # up to 3 picks each side
        ref = float(np.median(nb)) if len(nb) else s
        row = _blur_record(video_frame_name(idx), idx, s, ref, config, "the median of its neighbours",
                           forced=idx in forced)
        rows.append(row)
        if row["kept"]:
            kept.append((s, idx, rgb))
        else:
            dropped.append(idx)
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
    return FrameSelection("video", names, [k[1] for k in kept], n, [k[0] for k in kept], dropped, fps, rows)


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
                         progress: bool = True, keep_names: tuple[str, ...] = ()) -> FrameSelection:
    """Images of a folder (sorted naturally), evenly thinned to max_frames, blurred ones dropped
    (relative to the median still), the rest copied or downscaled.

    keep_names: images kept whatever their position or sharpness (a scale cue marks pixels in them).
    """
    from tqdm.auto import tqdm

    folder = Path(folder)
    paths = list_images(folder)
    if len(paths) < 3:
        raise CaptureError(
            f"{folder}: {len(paths)} image(s) found ({', '.join(IMAGE_SUFFIXES)}); SfM needs at least 3 "
            "overlapping views: add more images of the scene"
        )
    check_image_sizes(paths)
    missing = sorted(set(keep_names) - {p.name for p in paths})
    if missing:
        raise CaptureError(f"{folder}: image(s) {missing} named by a scale cue are not in the folder; "
                           f"use file names from it (e.g. {paths[0].name})")
    if len(paths) > config.max_frames:
        positions = [int(i * len(paths) / config.max_frames) for i in range(config.max_frames)]
    else:
        positions = list(range(len(paths)))
    positions = sorted(set(positions) | {i for i, p in enumerate(paths) if p.name in keep_names})
    sharp = [sharpness(read_rgb(paths[i])) for i in tqdm(positions, desc="sharpness", unit="img", disable=not progress)]
    if max(sharp) < config.min_sharpness:
        raise CaptureError(
            f"{folder}: all {len(positions)} images are blurred (sharpest variance of Laplacian {max(sharp):.1f} < "
            f"{config.min_sharpness}); take sharper photos, or lower --min-sharpness if the scene is plain"
        )
    reference = float(np.median(sharp))
    rows = [_blur_record(paths[i].name, i, s, reference, config, "the median still", forced=paths[i].name in keep_names)
            for i, s in zip(positions, sharp)]
    kept = [(i, s) for (i, s), row in zip(zip(positions, sharp), rows) if row["kept"]]
    if len(kept) < 3:
        raise CaptureError(f"{folder}: only {len(kept)} sharp image(s) of {len(positions)}; SfM needs at least 3: "
                           "take more, steadier photos, or lower --min-relative-sharpness")
    for i, _ in kept:
        p = paths[i]
        rgb = read_rgb(p)
        small = resize_to(rgb, config.max_image_size)
        if small is rgb:
            shutil.copyfile(p, images_dir / p.name)
        else:
            write_rgb(images_dir / p.name, small)
    return FrameSelection("images", [paths[i].name for i, _ in kept], [i for i, _ in kept], len(paths),
                          [s for _, s in kept], [r["source_index"] for r in rows if not r["kept"]], None, rows)

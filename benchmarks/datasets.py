"""Dataset write/read throughput (frames/s): state-only and two 128x128 cameras, LeRobot (video, png) and HDF5.

Reference in the same run: the same frames saved as raw .npy per episode (np.save, no metadata,
no atomic rename) gives the machine's plain-I/O rate, so ratios compare across machines.

    python benchmarks/datasets.py [--episodes-state 20] [--episodes-camera 5] [--length 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gwm.data import DatasetSpec, FeatureSpec, create_recorder, open_dataset  # noqa: E402

SIZE = 128
BODIES = ("cube", "bowl", "background")
ROLES = ("object", "container", "background")


def make_spec(cameras: int) -> DatasetSpec:
    features = {
        "observation.state": FeatureSpec("float32", (9,)),
        "observation.ee_pose": FeatureSpec("float32", (7,)),
        "observation.body_poses": FeatureSpec("float32", (len(BODIES), 7)),
        "action": FeatureSpec("float32", (8,)),
        "next.reward": FeatureSpec("float32", (1,)),
        "next.done": FeatureSpec("bool", (1,)),
    }
    for c in range(cameras):
        features[f"observation.images.cam{c}"] = FeatureSpec("image", (SIZE, SIZE, 3))
    return DatasetSpec(fps=30, features=features, body_names=BODIES, body_roles=ROLES)


def render_like(t: int, cam: int) -> np.ndarray:
    """A smooth scene with a moving disc, like a rasterized Gaussian render."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    cx, cy = 30 + 0.4 * t + 20 * cam, 64 + 20 * np.sin(0.05 * t)
    d2 = (xx - cx) ** 2 + (yy - cy) ** 2
    shade = np.exp(-d2 / 300.0)[..., None]
    bg = np.stack([80 + 80 * xx / SIZE, 60 + 100 * yy / SIZE, np.full_like(xx, 110.0 + 20 * cam)], -1)
    return (bg * (1 - shade) + np.array([230.0, 190, 40]) * shade).round().astype(np.uint8)


def make_episodes(spec: DatasetSpec, count: int, length: int) -> list[list[dict]]:
    rng = np.random.default_rng(0)
    episodes = []
    for e in range(count):
        frames = []
        for t in range(length):
            q = rng.normal(size=(len(BODIES), 4))
            q /= np.linalg.norm(q, axis=1, keepdims=True)
            frame = {
                "observation.state": rng.normal(size=9).astype(np.float32),
                "observation.ee_pose": np.r_[rng.normal(size=3), 1, 0, 0, 0].astype(np.float32),
                "observation.body_poses": np.concatenate([rng.normal(size=(len(BODIES), 3)), q], 1).astype(np.float32),
                "action": rng.normal(size=8).astype(np.float32),
                "next.reward": np.zeros(1, np.float32),
                "next.done": np.array([t == length - 1]),
            }
            for key in spec.camera_keys:
                frame[key] = render_like(t + 7 * e, int(key[-1]))
            frames.append(frame)
        episodes.append(frames)
    return episodes


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg): what an idle machine would take."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def bench_write(root: Path, spec, fmt: str, image_format: str, episodes) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), cpu_seconds()
    rec = create_recorder(root, spec, fmt, image_format=image_format)
    for frames in episodes:
        for frame in frames:
            rec.add_frame(frame, "put the cube in the bowl")
        rec.save_episode(success=True, seed=0)
    rec.finalize()
    return time.perf_counter() - t0, cpu_seconds() - c0


def bench_read(path: Path) -> tuple[float, dict]:
    t0 = time.perf_counter()
    ds = open_dataset(path)
    last = {}
    for e in range(ds.num_episodes):
        last = ds.episode(e)
    return time.perf_counter() - t0, last


def bench_npy(root: Path, episodes) -> float:
    t0 = time.perf_counter()
    for e, frames in enumerate(episodes):
        for key in frames[0]:
            np.save(root / f"{e}_{key}.npy", np.stack([f[key] for f in frames]))
    return time.perf_counter() - t0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes-state", type=int, default=20)
    ap.add_argument("--episodes-camera", type=int, default=5)
    ap.add_argument("--length", type=int, default=200)
    args = ap.parse_args()

    cases = [
        ("state-only", 0, "lerobot", "video", args.episodes_state),
        ("state-only", 0, "hdf5", "png", args.episodes_state),
        ("2 cams 128x128", 2, "lerobot", "video", args.episodes_camera),
        ("2 cams 128x128", 2, "lerobot", "png", args.episodes_camera),
        ("2 cams 128x128", 2, "hdf5", "png", args.episodes_camera),
    ]
    import h5py  # noqa: F401  (imports outside the timed region)
    import pyarrow.parquet  # noqa: F401

    work = Path(tempfile.mkdtemp(prefix="gwm_bench_datasets_"))
    print(f"episode length {args.length} frames; wall-clock timings on a shared machine are noisy, so the "
          f"write rate per CPU second (this process + ffmpeg) is shown too; load average {os.getloadavg()[0]:.1f}")
    print(f"{'data':<15} {'format':<14} {'frames':>7} {'write f/s':>10} {'write f/cpu-s':>14} {'read f/s':>10} "
          f"{'npy write f/s':>14} {'write/npy':>10} {'MB':>7}  image check")
    try:
        made: dict[int, list] = {}
        for label, cams, fmt, image_format, count in cases:
            spec = make_spec(cams)
            key = (cams, count)
            if key not in made:
                made[key] = make_episodes(spec, count, args.length)
            episodes = made[key]
            frames = count * args.length
            root = work / f"{fmt}_{image_format}_{cams}"
            t_write, cpu_write = bench_write(root, spec, fmt, image_format, episodes)
            path = root if fmt == "lerobot" else root / "dataset.hdf5"
            t_read, last = bench_read(path)
            npy_root = work / f"npy_{cams}"
            npy_root.mkdir(exist_ok=True)
            t_npy = bench_npy(npy_root, episodes)
            size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6
            check = ""
            if cams:
                ref = np.stack([f["observation.images.cam0"] for f in episodes[-1]])
                check = f"PSNR {psnr(last['observation.images.cam0'], ref):.1f} dB"
            name = fmt if fmt == "hdf5" else f"lerobot/{image_format}" if cams else "lerobot"
            print(f"{label:<15} {name:<14} {frames:>7} {frames / t_write:>10.0f} {frames / cpu_write:>14.0f} "
                  f"{frames / t_read:>10.0f} "
                  f"{frames / t_npy:>14.0f} {t_npy / t_write:>10.2f} {size:>7.1f}  {check}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

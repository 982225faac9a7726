"""Synthetic demonstrations shared by the dataset tests (small, deterministic)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gwm.data import DatasetSpec, FeatureSpec, create_recorder
from gwm.geometry import normalize_quats
from gwm.splats import GaussianSplats

H, W = 32, 48
BODIES = ("cube", "bowl")


def make_spec(cameras: int = 1, depth: bool = True) -> DatasetSpec:
    features = {
        "observation.state": FeatureSpec("float32", (9,), [f"q{i}" for i in range(7)] + ["grip_l", "grip_r"]),
        "observation.ee_pose": FeatureSpec("float32", (7,), ["x", "y", "z", "qw", "qx", "qy", "qz"]),
        "observation.body_poses": FeatureSpec("float32", (len(BODIES), 7)),
        "action": FeatureSpec("float32", (8,)),
        "next.reward": FeatureSpec("float32", (1,)),
        "next.done": FeatureSpec("bool", (1,)),
    }
    for c in range(cameras):
        features[f"observation.images.cam{c}"] = FeatureSpec("image", (H, W, 3))
    if depth:
        features["observation.depth.cam0"] = FeatureSpec("float32", (H, W, 1))
    return DatasetSpec(fps=15, features=features, body_names=BODIES)


def make_gaussians(seed: int = 0) -> dict[str, GaussianSplats]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for i, body in enumerate(BODIES):
        n = 40 + 10 * i
        out[body] = GaussianSplats(
            means=torch.randn(n, 3, generator=g) * 0.05,
            quats_wxyz=normalize_quats(torch.randn(n, 4, generator=g)),
            log_scales=torch.randn(n, 3, generator=g) * 0.2 - 4.0,
            logit_opacities=torch.randn(n, generator=g),
            sh=torch.randn(n, 4, 3, generator=g) * 0.3,
        )
    return out


def _unit(rng, n):
    q = rng.normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def make_image(t: int, cam: int) -> np.ndarray:
    """Smooth moving gradients and a disc: realistic enough for a lossy codec."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    cx, cy = 10 + 1.5 * t + 5 * cam, 16 + 4 * np.sin(0.3 * t)
    disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < 36
    r = 60 + 120 * xx / W
    g = 40 + 150 * yy / H
    b = np.full_like(r, 90 + 30 * cam)
    img = np.stack([r, g, b], -1)
    img[disc] = (230, 200, 40)
    return img.round().astype(np.uint8)


def make_episode(spec: DatasetSpec, length: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(length):
        poses = np.concatenate([rng.normal(size=(len(BODIES), 3)) * 0.3, _unit(rng, len(BODIES))], 1)
        frame = {
            "observation.state": rng.normal(size=9).astype(np.float32),
            "observation.ee_pose": np.concatenate([rng.normal(size=3), _unit(rng, 1)[0]]).astype(np.float32),
            "observation.body_poses": poses.astype(np.float32),
            "action": rng.normal(size=8).astype(np.float32),
            "next.reward": np.array([float(t == length - 1)], np.float32),
            "next.done": np.array([t == length - 1]),
        }
        for key in spec.camera_keys:
            frame[key] = make_image(t + seed, int(key[-1]))
        if "observation.depth.cam0" in spec.features:
            frame["observation.depth.cam0"] = rng.random((H, W, 1)).astype(np.float32)
        frames.append(frame)
    return frames


def stack(frames: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.stack([f[k] for f in frames]) for k in frames[0]}


def record(root, spec, fmt, episodes, image_format="png", tasks=None, gaussians=None, metadata=None):
    """Write episodes (lists of frames); episode e gets success = e even, seed = 100 + e."""
    rec = create_recorder(root, spec, fmt, canonical_gaussians=gaussians, image_format=image_format,
                          metadata=metadata or {"config": {"task": "kitchen"}, "normalisation": np.eye(4).tolist()})
    for e, frames in enumerate(episodes):
        for t, frame in enumerate(frames):
            rec.add_frame(frame, tasks[e][t] if tasks else "put the cube in the bowl")
        rec.save_episode(success=e % 2 == 0, seed=100 + e)
    return rec.finalize()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def spec():
    return make_spec()


@pytest.fixture(scope="module")
def gaussians():
    return make_gaussians()


@pytest.fixture(scope="module")
def episodes(spec):
    return [make_episode(spec, n, seed=e) for e, n in enumerate((12, 9, 14))]

"""Small inputs of every kind `gwm view` opens, built in seconds (no pipeline outputs needed)."""

from __future__ import annotations

import numpy as np
import pytest

from gwm.cameras import look_at
from gwm.data import DatasetSpec, FeatureSpec, create_recorder
from gwm.ply import write_ply
from gwm.scene.synthetic import make_tabletop, scene_toml_for
from tests.data.conftest import make_gaussians

BODIES = ("cube", "bowl")
FRAMES = 10
IMG_H, IMG_W = 32, 48


@pytest.fixture(scope="session")
def small_tabletop(tmp_path_factory):
    """(folder with splat.ply + scene.toml, splats): a coarse tabletop (~4k Gaussians)."""
    root = tmp_path_factory.mktemp("viewer_tabletop")
    splats, truth = make_tabletop(spacing=0.02, seed=3, floaters=10)
    write_ply(root / "splat.ply", splats)
    (root / "scene.toml").write_text(scene_toml_for(truth))
    return root, splats


@pytest.fixture(scope="session")
def scene_usdz(small_tabletop):
    from exporters.usd import export_usd
    from gwm.scene import assemble_scene

    root, _ = small_tabletop
    return export_usd(assemble_scene(root / "scene.toml"), root / "scene.usdz")


@pytest.fixture(scope="session")
def capture_folder(small_tabletop, tmp_path_factory):
    """A nerfstudio capture folder: 4 cameras around the table, their images, and the splat beside them."""
    import cv2

    from gwm.capture.nerfstudio import write_transforms

    root = tmp_path_factory.mktemp("viewer_capture")
    (root / "images").mkdir()
    names, poses = [], []
    for i in range(4):
        a = i * np.pi / 2
        eye = (0.8 * np.cos(a), 0.8 * np.sin(a), 0.6)
        poses.append(np.asarray(look_at(eye, (0.0, 0.0, 0.0))))
        names.append(f"frame_{i:03d}.png")
        img = np.zeros((48, 64, 3), np.uint8)
        img[:, :, i % 3] = 200
        cv2.imwrite(str(root / "images" / names[-1]), img)
    K = np.array([[60.0, 0, 32], [0, 60.0, 24], [0, 0, 1]])
    write_transforms(root / "transforms.json", names, np.stack(poses), K, 64, 48, {}, np.eye(4), {})
    (root / "splat.ply").write_bytes((small_tabletop[0] / "splat.ply").read_bytes())
    return root


def moving_episode(length: int, seed: int) -> list[dict]:
    """Cube slides along x, bowl along y, a few cm per frame (so the timeline moves them in view)."""
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(length):
        s = t / (length - 1) - 0.5
        poses = np.array([[0.3 * s, 0.0, 0.05, 1, 0, 0, 0], [0.0, 0.25 * s + 0.1, 0.05, 1, 0, 0, 0]], np.float32)
        img = np.full((IMG_H, IMG_W, 3), 40, np.uint8)
        img[:, : IMG_W * (t + 1) // length] = 220
        frames.append({"observation.body_poses": poses, "action": rng.normal(size=2).astype(np.float32),
                       "observation.images.cam0": img})
    return frames


CAM0_WORLD_FROM_CAM = np.asarray(look_at((0.6, -0.6, 0.5), (0.0, 0.0, 0.05)), np.float64)


def moving_spec() -> DatasetSpec:
    from gwm.cameras import CameraSpec

    cam = CameraSpec("cam0", ((40.0, 0, IMG_W / 2), (0, 40.0, IMG_H / 2), (0, 0, 1)), IMG_W, IMG_H, "world",
                     tuple(map(tuple, CAM0_WORLD_FROM_CAM)))
    return DatasetSpec(fps=10, body_names=BODIES, body_roles=("object", "container"), cameras=(cam,), features={
        "observation.body_poses": FeatureSpec("float32", (len(BODIES), 7)),
        "action": FeatureSpec("float32", (2,)),
        "observation.images.cam0": FeatureSpec("image", (IMG_H, IMG_W, 3)),
    })


def record_moving(root, fmt: str, episodes: int = 2):
    rec = create_recorder(root, moving_spec(), fmt, canonical_gaussians=make_gaussians(), image_format="png",
                          metadata={"normalisation": np.eye(4).tolist()})
    for e in range(episodes):
        for frame in moving_episode(FRAMES, seed=e):
            rec.add_frame(frame, "slide the cube")
        rec.save_episode(success=True, seed=e)
    return rec.finalize()


@pytest.fixture(scope="session")
def lerobot_dataset(tmp_path_factory):
    return record_moving(tmp_path_factory.mktemp("viewer_lerobot") / "ds", "lerobot")


@pytest.fixture(scope="session")
def hdf5_dataset(tmp_path_factory):
    return record_moving(tmp_path_factory.mktemp("viewer_hdf5") / "ds", "hdf5")


@pytest.fixture(scope="session")
def validation_run(tmp_path_factory):
    """A validation folder written by gwm.model.validate for an untrained tiny model (the viewer shows whatever
    the model predicts; training quality is not its concern) on the synthetic push dataset."""
    from gwm.model.cli import open_world_dataset
    from gwm.model.config import preset
    from gwm.model.train import Trainer
    from gwm.model.training import dataset_meta
    from gwm.model.trajectories import load_trajectories
    from gwm.model.validate import ValidationConfig, validate

    root = tmp_path_factory.mktemp("viewer_validation")
    ds = open_world_dataset("synthetic:3")
    cfg = preset("tiny")
    trainer = Trainer(cfg, load_trajectories(ds, cfg.data), root / "model", dataset_meta("synthetic:3", ds),
                      device="cpu", progress=False)
    model = trainer.save(root / "model" / "model.safetensors", with_training_state=False)
    validate(model, ds, root / "validation", ValidationConfig(horizon=2, max_windows=2, image_size=16, videos=0,
                                                              batch_size=2, video_baseline=False), progress=False)
    return root / "validation"

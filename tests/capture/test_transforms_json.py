"""transforms.json round trip: OpenCV poses -> nerfstudio OpenGL file -> gwm Cameras."""

import json

import numpy as np
import pytest
import torch

from gwm.cameras import Cameras, look_at
from gwm.capture import CaptureError
from gwm.capture.alignment import align_to_reference, load_reference_poses, scale_from_known_distance
from gwm.capture.nerfstudio import read_sparse_ply, read_transforms_cameras, write_sparse_ply, write_transforms


def _poses(n=5):
    eyes = [(np.cos(a), np.sin(a) - 0.2, 0.6 + 0.1 * a) for a in np.linspace(0, 2, n)]
    return np.stack([look_at(e, (0.0, 0.1, 0.05)).double().numpy() for e in eyes])


def test_round_trip_through_cameras_from_opengl(tmp_path):
    poses = _poses()
    K = np.array([[250.0, 0, 160], [0, 251.0, 120], [0, 0, 1]])
    names = [f"frame_{i:05d}.png" for i in range(len(poses))]
    (tmp_path / "images").mkdir()
    for n in names:
        (tmp_path / "images" / n).write_bytes(b"")
    norm = np.diag([2.0, 2.0, 2.0, 1.0])
    write_transforms(tmp_path / "transforms.json", names, poses, K, 320, 240, {"k1": 0.01}, norm, {"format_version": 1})
    data = json.loads((tmp_path / "transforms.json").read_text())
    assert data["camera_model"] == "OPENCV" and data["k1"] == 0.01 and data["ply_file_path"] == "sparse_pc.ply"
    assert data["applied_transform"] == norm[:3].tolist()
    gl = np.array([f["transform_matrix"] for f in data["frames"]])
    # nerfstudio's axes: OpenGL camera looks down -z, so its z column is minus OpenCV's.
    np.testing.assert_allclose(gl[:, :3, 2], -poses[:, :3, 2], atol=1e-12)
    np.testing.assert_allclose(gl[:, :3, 3], poses[:, :3, 3], atol=1e-12)

    cams, paths, meta = read_transforms_cameras(tmp_path)
    np.testing.assert_allclose(cams.world_from_cam.numpy(), poses, atol=1e-12)
    np.testing.assert_allclose(cams.Ks[0].numpy(), K)
    np.testing.assert_allclose(cams.to_opengl().numpy(), gl, atol=1e-12)
    assert [p.name for p in paths] == names and (cams.width, cams.height) == (320, 240)
    # the same cameras built directly agree on projections
    direct = Cameras(torch.tensor(K)[None].expand(len(poses), 3, 3), torch.tensor(poses), 320, 240)
    pts = torch.tensor([[0.0, 0.1, 0.05], [0.1, 0.0, 0.2]], dtype=torch.float64)
    assert torch.allclose(cams.project(pts)[0], direct.project(pts)[0], atol=1e-9)


def test_sparse_ply_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    pts, cols = rng.normal(size=(50, 3)), rng.integers(0, 256, (50, 3)).astype(np.uint8)
    write_sparse_ply(tmp_path / "sparse_pc.ply", pts, cols)
    p2, c2 = read_sparse_ply(tmp_path / "sparse_pc.ply")
    np.testing.assert_allclose(p2, pts, atol=1e-6)
    np.testing.assert_array_equal(c2, cols)


def test_alignment_helpers():
    from gwm.metrics import Similarity

    poses = _poses(6)
    named = {f"f{i}": p for i, p in enumerate(poses)}
    centres = {k: p[:3, 3] for k, p in named.items()}
    truth = {k: Similarity(3.0, np.eye(3), np.array([1.0, 2.0, 3.0])).apply_poses(p[None])[0] for k, p in named.items()}
    fit, used = align_to_reference(named, truth)
    assert used == sorted(named) and fit.inliers.all()
    assert abs(fit.similarity.scale - 3.0) < 1e-9 and fit.scale_rel_sigma < 1e-9
    np.testing.assert_allclose(fit.similarity.apply_points(centres["f2"]), truth["f2"][:3, 3], atol=1e-9)
    d = np.linalg.norm(centres["f0"] - centres["f5"])
    assert abs(scale_from_known_distance(centres, "f0", "f5", 2 * d) - 2.0) < 1e-12
    with pytest.raises(CaptureError, match="not registered"):
        scale_from_known_distance(centres, "f0", "nope", 1.0)
    with pytest.raises(CaptureError, match="only 2 registered frames have a reference pose"):
        align_to_reference(named, {"f0": truth["f0"], "f1": truth["f1"]})


def test_reference_loader_names(kitchen):
    stills = load_reference_poses(kitchen / "ground_truth.json", video=False)
    video = load_reference_poses(kitchen / "ground_truth.json", video=True)
    from_transforms = load_reference_poses(kitchen / "transforms.json", video=False)
    assert "frame_000.png" in stills and "frame_00149.png" in video and len(video) == 150
    np.testing.assert_allclose(from_transforms["frame_007.png"], stills["frame_007.png"], atol=1e-12)

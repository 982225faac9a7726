"""Loading nerfstudio-layout captures: cameras, split, errors that name the fix."""

import json

import numpy as np
import pytest
import torch

from gwm.reconstruct.dataset import holdout_split, load_capture, normalisation_from_transforms
from gwm.reconstruct.synthetic import orbit_cameras


def test_load_capture_gives_opencv_cameras_images_and_points(tiny_capture):
    data = load_capture(tiny_capture)
    assert len(data) == 24 and data.images.shape == (24, 48, 64, 3)
    assert data.images.dtype == torch.float32 and 0 <= data.images.min() and data.images.max() <= 1
    expected = orbit_cameras(24, 64, 48)  # what the generator rendered with (OpenCV axes)
    assert torch.allclose(data.cameras.world_from_cam, expected.world_from_cam, atol=1e-5)
    assert torch.allclose(data.cameras.Ks, expected.Ks, atol=1e-4)
    assert data.points.shape == (150, 3) and data.point_colors.shape == (150, 3)
    assert 0 <= data.point_colors.min() and data.point_colors.max() <= 1
    assert data.normalisation == np.eye(4).tolist()
    assert data.image_names == sorted(data.image_names)
    # extent: 1.1 x the largest distance of a camera from the cameras' centroid
    c = expected.centers
    assert data.scene_extent() == pytest.approx(1.1 * float((c - c.mean(0)).norm(dim=1).max()), rel=1e-5)


def test_downscale_scales_images_and_intrinsics(tiny_capture):
    full, half = load_capture(tiny_capture), load_capture(tiny_capture, downscale=2)
    assert half.images.shape == (24, 24, 32, 3)
    assert torch.allclose(half.cameras.Ks[:, :2], full.cameras.Ks[:, :2] / 2)
    # area averaging: the mean colour is preserved
    assert torch.allclose(half.images.mean(), full.images.mean(), atol=1e-3)


def test_every_eighth_frame_is_held_out():
    train, held = holdout_split(20, 8)
    assert held == [0, 8, 16]
    assert sorted(train + held) == list(range(20)) and not set(train) & set(held)
    assert holdout_split(5, 0) == ([0, 1, 2, 3, 4], [])


def test_missing_images_error_names_them_and_the_fix(capture_copy):
    (capture_copy / "images" / "frame_00003.png").unlink()
    (capture_copy / "images" / "frame_00007.png").unlink()
    with pytest.raises(ValueError, match=r"2 of 24 images it lists are missing .*frame_00003.*copy the images there"):
        load_capture(capture_copy)


def test_missing_transforms_json_says_to_run_capture(tmp_path):
    with pytest.raises(FileNotFoundError, match="no transforms.json; run `gwm capture run`"):
        load_capture(tmp_path)


def test_missing_point_cloud_error(capture_copy):
    (capture_copy / "sparse_pc.ply").unlink()
    with pytest.raises(FileNotFoundError, match="no SfM point cloud sparse_pc.ply"):
        load_capture(capture_copy)


def test_corrupt_image_and_bad_json_errors(capture_copy):
    (capture_copy / "images" / "frame_00001.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="frame_00001.png: not a readable image"):
        load_capture(capture_copy)
    (capture_copy / "transforms.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_capture(capture_copy)


def test_mixed_image_sizes_are_refused(capture_copy):
    meta = json.loads((capture_copy / "transforms.json").read_text())
    meta["frames"][2]["w"] = 32
    (capture_copy / "transforms.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="mixed image sizes"):
        load_capture(capture_copy)


def test_normalisation_from_transforms():
    m = np.eye(4)
    m[:3, 3] = [1, 2, 3]
    assert normalisation_from_transforms({"normalisation": m.tolist()}) == m.tolist()
    applied = [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, -1, 0]]
    assert normalisation_from_transforms({"applied_transform": applied})[:3] == [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, -1, 0]]
    assert normalisation_from_transforms({}) == np.eye(4).tolist()
    with pytest.raises(ValueError, match="4x4"):
        normalisation_from_transforms({"normalisation": [[1, 0], [0, 1]]})

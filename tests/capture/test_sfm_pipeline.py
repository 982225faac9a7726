"""The real pycolmap pipeline on 12 stills of the kitchen sample, and re-ingesting its outputs."""

import json

import cv2
import numpy as np

from gwm.capture import CaptureConfig, KnownDistance, evaluate_capture, load_reference_poses, run_capture
from gwm.capture.nerfstudio import read_sparse_ply, read_transforms_cameras
from gwm.metrics import pose_errors

from .conftest import GROUND_TRUTH


def test_subset_registers_with_accurate_poses(subset_capture):
    result, out = subset_capture
    assert result.num_frames == 12
    assert result.num_registered >= 11
    assert result.mean_reprojection_error_px < 1.0
    assert result.pose_error["translation_cm_mean"] < 1.0
    assert result.pose_error["rotation_deg_mean"] < 0.5
    assert result.pose_error["translation_cm_max"] < 2.0
    assert result.alignment["method"] == "reference" and result.alignment["metric"]
    report = json.loads((out / "capture_report.json").read_text())
    assert report["num_registered"] == result.num_registered and report["format_version"] == 1


def test_output_is_in_the_ground_truth_metric_frame(subset_capture, kitchen):
    """Without re-aligning: cameras sit at their true centres, intrinsics match the 320x240
    rescale of the truth, and SfM points seen as table in a mask lie on z = 0."""
    result, out = subset_capture
    cams, paths, meta = read_transforms_cameras(out)
    assert (cams.width, cams.height) == (320, 240)
    ref = load_reference_poses(GROUND_TRUTH, video=False)
    gt = np.stack([ref[p.name] for p in paths])
    direct = pose_errors(cams.world_from_cam.numpy(), gt, align="none")
    assert direct.translation_m.max() < 0.02 and direct.rotation_deg.max() < 0.5
    f_true = 0.5 * 240 / np.tan(np.radians(55.0) / 2)
    assert abs(meta["fl_x"] - f_true) / f_true < 0.01
    assert meta["gwm"]["scale_is_metric"] and np.asarray(meta["normalisation"]).shape == (4, 4)
    assert meta["applied_transform"] == meta["normalisation"][:3]

    points, _ = read_sparse_ply(out / meta["ply_file_path"])
    assert len(points) == result.num_points > 300
    gt_json = json.loads((kitchen / "ground_truth.json").read_text())
    frame = gt_json["frames"][0]
    mask = cv2.imread(str(kitchen / frame["mask_path"]), cv2.IMREAD_UNCHANGED)
    w2c = np.asarray(frame["world_from_cam"])
    K = np.asarray(gt_json["camera"]["K"])
    pc = (points - w2c[:3, 3]) @ w2c[:3, :3]
    uv = pc[:, :2] / pc[:, 2:] * K[[0, 1], [0, 1]] + K[:2, 2]
    inside = (pc[:, 2] > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < 400) & (uv[:, 1] >= 0) & (uv[:, 1] < 300)
    on_table = inside.copy()
    on_table[inside] = mask[uv[inside, 1].astype(int), uv[inside, 0].astype(int)] == 1
    assert on_table.sum() > 50
    assert np.median(np.abs(points[on_table, 2])) < 0.005  # table plane z = 0 within 5 mm


def test_evaluate_capture_matches_the_run(subset_capture):
    result, out = subset_capture
    summary = evaluate_capture(out, GROUND_TRUTH)
    assert summary["num_cameras"] == result.num_registered
    assert abs(summary["translation_cm_mean"] - result.pose_error["translation_cm_mean"]) < 1e-6


def test_colmap_model_with_plane_up_and_known_distance(subset_capture, tmp_path):
    """A user's capture: no reference. Gravity from the table plane, scale from one distance;
    the result is the true frame up to a yaw and a shift in the table plane."""
    _, out = subset_capture
    ref = load_reference_poses(GROUND_TRUTH, video=False)
    metres = float(np.linalg.norm(ref["frame_000.png"][:3, 3] - ref["frame_018.png"][:3, 3]))
    config = CaptureConfig(up="plane", known_distance=KnownDistance("frame_000.png", "frame_018.png", metres))
    user = tmp_path / "user"
    result = run_capture(out / "colmap" / "sparse" / "0", user, config, images_dir=out / "images", progress=False)
    assert result.source == "colmap" and result.num_registered >= 11
    assert result.alignment["up_from"] == "table plane" and result.alignment["metric_from"] == "known_distance"
    cams, paths, _ = read_transforms_cameras(user)
    gt = np.stack([ref[p.name] for p in paths])
    err = pose_errors(cams.world_from_cam.numpy(), gt, align="sim3")
    sim = err.alignment  # user frame -> true frame
    tilt = np.degrees(np.arccos(np.clip(sim.rotation[2, 2], -1, 1)))
    assert tilt < 0.5  # up is up
    assert abs(sim.scale - 1) < 0.01  # metric
    assert abs(sim.translation[2]) < 0.005  # the table is z = 0 in both
    points, _ = read_sparse_ply(user / "sparse_pc.ply")
    assert np.mean(np.abs(points[:, 2]) < 0.005) > 0.3  # many points on the table plane


def test_nerfstudio_input_round_trip(subset_capture, tmp_path):
    """Ingesting our own output with up='none' keeps every pose and composes the normalisation."""
    result, out = subset_capture
    again = tmp_path / "again"
    r2 = run_capture(out, again, CaptureConfig(up="none"), progress=False)
    assert r2.source == "nerfstudio" and r2.num_registered == result.num_registered
    assert r2.alignment["metric"]  # the input said its poses are metres; up='none' keeps them
    a, pa, ma = read_transforms_cameras(out)
    b, pb, mb = read_transforms_cameras(again)
    assert [p.name for p in pa] == [p.name for p in pb]
    np.testing.assert_allclose(a.world_from_cam.numpy(), b.world_from_cam.numpy(), atol=1e-9)
    np.testing.assert_allclose(mb["normalisation"], ma["normalisation"], atol=1e-12)
    assert all(p.is_file() for p in pb)

"""Inconsistent cameras injected into a real SfM model are flagged, left out, and do not move the alignment."""

import json
import shutil

import numpy as np
import pytest

from gwm.capture import CaptureConfig, load_reference_poses, run_capture
from gwm.capture.alignment import choose_output_frame
from gwm.capture.outliers import check_cameras
from gwm.capture.sfm import load_colmap_model, model_from_reconstruction
from gwm.metrics import pose_errors, umeyama

from .conftest import GROUND_TRUTH

FLIP = np.diag([-1.0, -1.0, 1.0])  # 180 deg about the optical axis


@pytest.fixture(scope="module")
def model(subset_capture):
    _, out = subset_capture
    return model_from_reconstruction(load_colmap_model(out / "colmap" / "sparse" / "0"))


def _inject(model):
    """Camera 3 upside down, camera 7 far off, camera 9 turned to look away, camera 5 barely observed."""
    bad = model.world_from_cam.copy()
    centres = bad[:, :3, 3]
    spread = np.median(np.linalg.norm(centres - np.median(centres, 0), axis=1))
    bad[3, :3, :3] = bad[3, :3, :3] @ FLIP
    bad[7, :3, 3] += 6.0 * spread * np.array([0.6, 0.0, 0.8])
    bad[9, :3, :3] = bad[9, :3, :3] @ np.diag([-1.0, 1.0, -1.0])  # 180 deg about its own y axis
    obs = model.num_observations.copy()
    obs[5] = 8
    return type(model)(**{**model.__dict__, "world_from_cam": bad, "num_observations": obs})


def test_injected_cameras_are_flagged_with_their_reasons(model):
    assert not any(r["outlier"] for r in check_cameras(model))  # the real model is clean
    rows = check_cameras(_inject(model))
    flagged = {r["name"]: " ".join(r["reasons"]) for r in rows if r["outlier"]}
    names = model.image_names
    assert set(flagged) == {names[3], names[5], names[7], names[9]}
    assert "upside down" in flagged[names[3]]
    assert "far from the other cameras" in flagged[names[7]]
    assert "looks away" in flagged[names[9]]
    assert "weakly registered" in flagged[names[5]]


def test_robust_alignment_is_unaffected_by_wrong_cameras(model):
    """Kept in (no outlier removal), wrong cameras leave the robust reference alignment as it is
    without them; a plain least-squares similarity is dragged by centimetres."""
    ref = load_reference_poses(GROUND_TRUTH, video=False)
    gt = np.stack([ref[n] for n in model.image_names])
    bad = _inject(model)
    clean = [i for i in range(model.num_registered) if i not in (3, 5, 7, 9)]
    config = CaptureConfig()
    base = choose_output_frame(model.without_images({model.image_names[i] for i in (3, 7, 9)}), config, None,
                               reference=ref)
    hurt = choose_output_frame(bad, config, None, reference=ref)
    assert {bad.image_names[3], bad.image_names[7], bad.image_names[9]} <= set(hurt.rejected)
    rows = {r["name"]: r for r in hurt.info["per_camera"]}
    assert not rows[bad.image_names[7]]["inlier"] and rows[bad.image_names[7]]["translation_residual"] > 10  # cm
    e_base = pose_errors(base.similarity.apply_poses(model.world_from_cam[clean]), gt[clean], align="none")
    e_hurt = pose_errors(hurt.similarity.apply_poses(bad.world_from_cam[clean]), gt[clean], align="none")
    np.testing.assert_allclose(e_hurt.translation_m, e_base.translation_m, atol=1e-4)  # as without them, to 0.1 mm
    assert np.median(e_hurt.translation_m) < 0.01
    plain = umeyama(bad.world_from_cam[:, :3, 3], gt[:, :3, 3])
    e_plain = pose_errors(plain.apply_poses(bad.world_from_cam[clean]), gt[clean], align="none")
    assert np.median(e_plain.translation_m) > 0.01


def test_outlier_cameras_do_not_reach_transforms_json(subset_capture, tmp_path):
    """Through the pipeline: a nerfstudio input with a flipped and a far-off camera."""
    result, out = subset_capture
    broken = tmp_path / "broken"
    shutil.copytree(out, broken, ignore=shutil.ignore_patterns("colmap"))
    data = json.loads((broken / "transforms.json").read_text())
    frames = data["frames"]
    flipped, far = frames[2]["file_path"].split("/")[-1], frames[8]["file_path"].split("/")[-1]
    m = np.asarray(frames[2]["transform_matrix"])
    m[:3, :3] = m[:3, :3] @ FLIP
    frames[2]["transform_matrix"] = m.tolist()
    m = np.asarray(frames[8]["transform_matrix"])
    m[:3, 3] += [4.0, 0.0, 3.0]
    frames[8]["transform_matrix"] = m.tolist()
    (broken / "transforms.json").write_text(json.dumps(data))

    r = run_capture(broken, tmp_path / "again", CaptureConfig(up="none"), reference=GROUND_TRUTH, progress=False)
    assert set(r.outliers) == {flipped, far}
    assert "upside down" in r.outliers[flipped] and "far from the other cameras" in r.outliers[far]
    written = [f["file_path"].split("/")[-1] for f in json.loads((tmp_path / "again" / "transforms.json").read_text())["frames"]]
    assert flipped not in written and far not in written and len(written) == result.num_registered - 2
    report = json.loads((tmp_path / "again" / "capture_report.json").read_text())
    assert {c["name"] for c in report["cameras"] if c["outlier"]} == {flipped, far}
    assert r.pose_error["translation_cm_median"] < 1.0


def test_a_camera_below_the_table_is_rejected(tmp_path):
    """Once the table plane is known, a camera under it (it could not see the top) is inconsistent."""
    from . import synthetic as S

    model, poses, sfm_from_world = S.make_scene(tmp_path, n_views=6)
    under = poses.copy()
    under[2, :3, 3] *= [1.0, 1.0, -1.0]  # mirrored below the table, still looking at the origin
    under[2, :3, :3] = np.diag([1.0, 1.0, -1.0]) @ under[2, :3, :3] @ np.diag([-1.0, 1.0, 1.0])
    bad = type(model)(**{**model.__dict__, "world_from_cam": sfm_from_world.apply_poses(under)})
    frame = choose_output_frame(bad, CaptureConfig(), tmp_path)
    assert set(frame.rejected) == {model.image_names[2]} and "below the table plane" in frame.rejected[model.image_names[2]]
    assert not choose_output_frame(model, CaptureConfig(), tmp_path).rejected

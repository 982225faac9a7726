"""The ArUco marker cue on a synthetic tabletop with exact answers: scale, table frame, uncertainty,
robustness to a wrong view, and the errors a user can cause."""

import numpy as np
import pytest

from gwm.capture import CaptureConfig, CaptureError
from gwm.capture.alignment import choose_output_frame
from gwm.capture.marker import _marker_bits, detect_markers, marker_cue, refine_corners

from . import synthetic as S

CENTRE, YAW, SIDE = (0.08, -0.04), 25.0, 0.10


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("marker")
    model, poses, sfm_from_world = S.make_scene(folder, marker_side=SIDE, marker_centre=CENTRE, marker_yaw_deg=YAW)
    return folder, model, poses, sfm_from_world


def test_corners_are_unbiased(scene):
    """Edge-line corners land on the true projections (OpenCV's sub-pixel corners sit ~0.2 px inside)."""
    folder, model, poses, _ = scene
    found = detect_markers(folder, model.image_names, "DICT_4X4_50")
    true = S.marker_corners_world(SIDE, CENTRE, YAW)
    err, radial = [], []
    for k, name in enumerate(model.image_names):
        c = found[name][7]
        t = S.project(poses[k], true)
        err.append(np.abs(c - t).max())
        out = (t - t.mean(0)) / np.linalg.norm(t - t.mean(0), axis=1, keepdims=True)
        radial += list(((c - t) * out).sum(1))
    assert max(err) < 0.35
    assert abs(np.mean(radial)) < 0.05  # no shrink or growth: no scale bias


def test_corners_are_unbiased_on_over_exposed_paper(scene):
    """White paper clipped (1.8x over-exposed) and blurred pulls every edge towards the ink; the
    border-width correction cancels it. Without the marker's bits (no correction) the pull shows."""
    import cv2

    folder, model, poses, _ = scene
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)
    detector = cv2.aruco.ArucoDetector(dictionary)
    true = S.marker_corners_world(SIDE, CENTRE, YAW)
    radial = {True: [], False: []}
    for k, name in enumerate(model.image_names):
        grey = cv2.imread(str(folder / name), cv2.IMREAD_GRAYSCALE).astype(np.float32)
        grey = np.clip(1.8 * cv2.GaussianBlur(grey, (0, 0), 0.8), 0, 255).astype(np.uint8)
        found, ids, _ = detector.detectMarkers(grey)
        t = S.project(poses[k], true)
        out = (t - t.mean(0)) / np.linalg.norm(t - t.mean(0), axis=1, keepdims=True)
        for with_bits in (True, False):
            c = refine_corners(grey, found[0].reshape(4, 2), bits=_marker_bits(dictionary, 7) if with_bits else None)
            radial[with_bits] += list(((c - t) * out).sum(1))
    assert abs(np.mean(radial[True])) < 0.08
    assert np.mean(radial[False]) < -0.15


def test_scale_and_frame_from_the_marker(scene):
    folder, model, poses, sfm_from_world = scene
    config = CaptureConfig(marker_size_m=SIDE)
    cue = marker_cue(model, folder, config)
    assert cue.marker_id == 7 and cue.info["views_used"] == len(poses)
    scale_err = cue.metres_per_unit * sfm_from_world.scale - 1.0
    assert abs(scale_err) < 0.003
    assert 0.0005 < cue.rel_uncertainty < 0.01
    assert abs(scale_err) < 3 * cue.rel_uncertainty  # the uncertainty is honest

    frame = choose_output_frame(model, config, folder)
    info = frame.info
    assert info["metric"] and info["metric_from"] == "marker" and info["up_from"] == "table plane"
    assert info["frame_from"].startswith("marker") and info["scale_uncertainty"] == cue.rel_uncertainty
    total = frame.similarity.compose(sfm_from_world)  # true world -> output frame
    assert abs(total.scale - 1.0) < 0.003
    np.testing.assert_allclose(total.apply_points([*CENTRE, 0.0]), 0.0, atol=5e-4)  # origin at the marker centre
    yaw = np.radians(YAW)
    x_out = total.rotation @ [np.cos(yaw), np.sin(yaw), 0.0]
    assert np.degrees(np.arccos(np.clip(x_out[0], -1, 1))) < 0.5  # heading: marker x -> +x
    assert np.degrees(np.arccos(np.clip((total.rotation @ [0, 0, 1.0])[2], -1, 1))) < 0.1  # up
    assert frame.rejected == {}


def test_a_view_with_a_wrong_pose_is_outvoted(scene):
    """One camera's pose off by 3 deg: its view disagrees, the marker is measured without it."""
    folder, model, poses, sfm_from_world = scene
    from scipy.spatial.transform import Rotation

    bad = model.world_from_cam.copy()
    bad[4, :3, :3] = Rotation.from_euler("x", 3, degrees=True).as_matrix() @ bad[4, :3, :3]
    model_bad = type(model)(**{**model.__dict__, "world_from_cam": bad})
    cue = marker_cue(model_bad, folder, CaptureConfig(marker_size_m=SIDE))
    rows = {r["name"]: r for r in cue.info["per_view"]}
    assert not rows["view_04.png"]["inlier"] and rows["view_04.png"]["reprojection_px"] > 5
    assert sum(r["inlier"] for r in rows.values()) == len(poses) - 1
    assert abs(cue.metres_per_unit * sfm_from_world.scale - 1.0) < 0.003


def test_wrong_dictionary_or_id_is_a_clear_error(scene):
    folder, model, _, _ = scene
    with pytest.raises(CaptureError, match=r"no DICT_5X5_50 marker found.*--marker-dictionary"):
        marker_cue(model, folder, CaptureConfig(marker_size_m=SIDE, marker_dictionary="DICT_5X5_50"))
    with pytest.raises(CaptureError, match=r"id 3 found in 0 .*ids seen: \{7: 10\}"):
        marker_cue(model, folder, CaptureConfig(marker_size_m=SIDE, marker_id=3))


def test_marker_size_scales_the_result(scene):
    """A marker printed at another size than declared scales everything by the same factor."""
    folder, model, _, sfm_from_world = scene
    cue = marker_cue(model, folder, CaptureConfig(marker_size_m=2 * SIDE))
    assert abs(cue.metres_per_unit * sfm_from_world.scale - 2.0) < 0.006


def test_config_rejects_bad_marker_settings():
    with pytest.raises(CaptureError, match="give the marker's side in metres"):
        CaptureConfig(marker_size_m=100.0)
    with pytest.raises(CaptureError, match="must be positive"):
        CaptureConfig(marker_size_m=-0.1)
    with pytest.raises(CaptureError, match="DICT_4X4_50"):
        CaptureConfig(marker_size_m=0.1, marker_dictionary="DICT_9X9_1")


def test_a_marker_of_the_wrong_size_disagrees_with_the_table_size(scene):
    """Given 0.20 m for a 0.10 m marker, the marker alone cannot tell (test_marker_size_scales_the_result);
    with the table's measured size as a second cue the capture warns, naming both settings."""
    folder, model, _, sfm_from_world = scene
    right = choose_output_frame(model, CaptureConfig(marker_size_m=SIDE, table_width_m=S.TABLE[0],
                                                     table_depth_m=S.TABLE[1]), folder)
    assert not [w for w in right.info["warnings"] if "disagree" in w]
    wrong = choose_output_frame(model, CaptureConfig(marker_size_m=2 * SIDE, table_width_m=S.TABLE[0],
                                                     table_depth_m=S.TABLE[1]), folder)
    (warning,) = [w for w in wrong.info["warnings"] if "scale cues disagree" in w]
    assert "table_size gives a scale -50." in warning and "marker" in warning and "\n" not in warning
    assert wrong.info["metric_from"] == "marker"  # the more certain cue is still used; the warning says so

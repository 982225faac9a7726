"""Known-length cues: two marked points (triangulated, robust to a mis-click) and the table's size."""

import numpy as np
import pytest

from gwm.capture import CaptureConfig, CaptureError, KnownLength, LengthView
from gwm.capture.alignment import choose_output_frame
from gwm.capture.lengths import known_length_cue, support_extent, table_size_cue
from gwm.capture.triangulation import triangulate_views

from . import synthetic as S

A, B = np.array([-0.3, -0.2, 0.0]), np.array([0.25, 0.22, 0.06])
TRUE_M = float(np.linalg.norm(B - A))


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lengths")
    model, poses, sfm_from_world = S.make_scene(folder, n_views=8)
    return folder, model, poses, sfm_from_world


def _views(model, poses, frames, noise_px=0.7, misclick=None, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for k in frames:
        a, b = S.project(poses[k], np.stack([A, B])) + rng.normal(0, noise_px, (2, 2))
        if k == misclick:
            b = b + [25.0, -10.0]
        out.append(LengthView(model.image_names[k], tuple(a), tuple(b)))
    return tuple(out)


def test_known_length_sets_the_scale(scene):
    _, model, poses, sfm_from_world = scene
    cue = known_length_cue(model, KnownLength(_views(model, poses, [0, 3, 7]), TRUE_M))
    err = cue.metres_per_unit * sfm_from_world.scale - 1.0
    assert abs(err) < 0.01
    assert 0.0005 < cue.rel_uncertainty < 0.02 and abs(err) < 3 * cue.rel_uncertainty


def test_a_misclicked_frame_is_outvoted(scene):
    _, model, poses, sfm_from_world = scene
    cue = known_length_cue(model, KnownLength(_views(model, poses, [0, 2, 4, 7], misclick=4), TRUE_M))
    rows = {r["name"]: r for r in cue.info["per_view"]}
    assert not rows[model.image_names[4]]["inlier"] and cue.info["views_used"] == 3
    assert abs(cue.metres_per_unit * sfm_from_world.scale - 1.0) < 0.01


def test_known_length_in_unregistered_frames_is_a_clear_error(scene):
    _, model, poses, _ = scene
    views = _views(model, poses, [0, 3])
    views = (views[0], LengthView("not_registered.png", views[1].a, views[1].b))
    with pytest.raises(CaptureError, match=r"\['not_registered.png'\] are not among the registered frames.*at least 2"):
        known_length_cue(model, KnownLength(views, TRUE_M))
    with pytest.raises(CaptureError, match="at least 2 frames"):
        CaptureConfig(known_length=KnownLength(views[:1], 0.3))


def test_triangulation_covariance_matches_the_scatter():
    """Across noisy repeats, the spread of the triangulated point agrees with its covariance."""
    poses = S.cameras(3, 5)
    X = np.array([[0.05, -0.02, 0.03]])
    rng = np.random.default_rng(0)
    pts, sig = [], []
    for _ in range(200):
        px = np.stack([S.project(p, X) for p in poses]) + rng.normal(0, 0.5, (5, 1, 2))
        t = triangulate_views(poses, S.K, {}, px, sigma_floor_px=0.5)
        pts.append(t.points[0])
        sig.append(np.sqrt(np.trace(t.covariances[0])))
    spread = np.sqrt(np.trace(np.cov(np.array(pts).T)))
    assert 0.7 < np.median(sig) / spread < 1.4


def test_support_extent_of_a_sampled_rectangle():
    rng = np.random.default_rng(1)
    local = np.column_stack([rng.uniform(-0.5, 0.5, 3000), rng.uniform(-0.35, 0.35, 3000)])
    ang = np.radians(20)
    R = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    xy = local @ R.T + [0.2, -0.1]
    xy = np.vstack([xy, [[3.0, 3.0]]])  # a stray point far off does not stretch it
    ext = support_extent(xy)
    assert abs(ext["width"] - 1.0) < 0.01 and abs(ext["depth"] - 0.7) < 0.01
    assert ext["points_dropped"] >= 1 and 0.001 < ext["width_sigma"] < 0.03
    cue = table_size_cue(xy * 2.0, 1.0, 0.7)  # in units of half a metre
    assert abs(cue.metres_per_unit - 0.5) / 0.5 < 0.01


def test_table_size_through_the_output_frame(scene):
    folder, model, _, sfm_from_world = scene
    frame = choose_output_frame(model, CaptureConfig(table_width_m=S.TABLE[0], table_depth_m=S.TABLE[1]), folder)
    assert frame.info["metric_from"] == "table_size"
    assert abs(frame.similarity.scale * sfm_from_world.scale - 1.0) < 0.02
    with pytest.raises(CaptureError, match="width is the longer side"):
        CaptureConfig(table_width_m=0.5, table_depth_m=0.9)

"""Umeyama alignment and pose errors."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from gwm.cameras import look_at
from gwm.metrics import Similarity, pose_errors, robust_similarity, rotation_angle_deg, umeyama


def _ring(n=10):
    poses = np.stack([look_at((np.cos(a), np.sin(a), 0.5 + 0.2 * np.sin(3 * a)), (0, 0, 0)).double().numpy()
                      for a in np.linspace(0, 5, n)])
    u, _, vt = np.linalg.svd(poses[:, :3, :3])  # exactly orthonormal in float64 (look_at is float32)
    poses[:, :3, :3] = u @ vt
    return poses


def test_umeyama_recovers_a_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(20, 3))
    truth = Similarity(2.5, Rotation.from_rotvec([0.3, -0.2, 1.0]).as_matrix(), np.array([1.0, -2.0, 0.5]))
    est = umeyama(src, truth.apply_points(src))
    assert est.scale == pytest.approx(2.5, abs=1e-10)
    np.testing.assert_allclose(est.rotation, truth.rotation, atol=1e-10)
    np.testing.assert_allclose(est.translation, truth.translation, atol=1e-10)
    np.testing.assert_allclose(Similarity.from_matrix(est.matrix()).matrix(), est.matrix(), atol=1e-12)
    rigid = umeyama(src, truth.apply_points(src), with_scale=False)
    assert rigid.scale == 1.0 and np.linalg.det(rigid.rotation) == pytest.approx(1.0)


def test_umeyama_never_returns_a_reflection():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(10, 3))
    est = umeyama(src, src * np.array([1.0, 1.0, -1.0]))
    assert np.linalg.det(est.rotation) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 3"):
        umeyama(src[:2], src[:2])


def test_pose_errors_after_similarity():
    gt = _ring()
    # estimate = gt in another frame (scale 0.3, rotated, shifted) with one camera turned 0.4 deg
    frame = Similarity(0.3, Rotation.from_rotvec([0.1, 0.5, -0.3]).as_matrix(), np.array([5.0, 0.0, -1.0]))
    est = frame.apply_poses(gt)
    est[4, :3, :3] = est[4, :3, :3] @ Rotation.from_rotvec(np.radians([0.4, 0, 0])).as_matrix()
    err = pose_errors(est, gt)
    np.testing.assert_allclose(err.translation_m, 0.0, atol=1e-9)
    assert err.rotation_deg[4] == pytest.approx(0.4, abs=1e-6)
    assert np.delete(err.rotation_deg, 4).max() < 1e-6
    assert err.alignment.scale == pytest.approx(1 / 0.3)
    s = err.summary()
    assert s["rotation_deg_max"] == pytest.approx(0.4, abs=1e-6) and s["num_cameras"] == 10
    # a 1 cm shift of one centre shows up (partly absorbed by the alignment)
    est2 = gt.copy()
    est2[2, :3, 3] += [0.01, 0, 0]
    e2 = pose_errors(est2, gt)
    assert 0.008 < e2.translation_m[2] < 0.01
    assert pose_errors(est2, gt, align="none").translation_m[2] == pytest.approx(0.01)


def test_rotation_angle_and_bad_shapes():
    r = Rotation.from_rotvec([0, 0, np.radians(30)]).as_matrix()
    assert rotation_angle_deg(np.eye(3), r) == pytest.approx(30.0)
    with pytest.raises(ValueError, match="must both be"):
        pose_errors(np.zeros((3, 4, 4)), np.zeros((2, 4, 4)))


def _orbit(n=20, seed=0):
    from gwm.cameras import look_at

    rng = np.random.default_rng(seed)
    eyes = [(np.cos(a), np.sin(a), 0.4 + 0.2 * rng.random()) for a in np.linspace(0, 2.5, n)]
    return np.stack([look_at(e, (0.0, 0.0, 0.0)).double().numpy() for e in eyes])


def test_weighted_umeyama_is_dropping_points_with_zero_weight():
    rng = np.random.default_rng(3)
    src, dst = rng.normal(size=(12, 3)), rng.normal(size=(12, 3))
    w = np.ones(12)
    w[[2, 7]] = 0.0
    keep = w > 0
    a, b = umeyama(src, dst, weights=w), umeyama(src[keep], dst[keep])
    np.testing.assert_allclose(a.matrix(), b.matrix(), atol=1e-12)


def test_robust_similarity_ignores_a_third_of_wrong_cameras():
    truth = Similarity(2.5, np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0], np.array([0.3, -1.0, 2.0]))
    if np.linalg.det(truth.rotation) < 0:
        truth = Similarity(truth.scale, -truth.rotation, truth.translation)
    src = _orbit(21)
    rng = np.random.default_rng(2)
    dst = truth.apply_poses(src)
    dst[:, :3, 3] += rng.normal(0, 0.002, (21, 3))  # 2 mm of noise in the destination
    clean = umeyama(src[:, :3, 3], dst[:, :3, 3])
    bad = dst.copy()
    for i in range(0, 21, 3):  # 7 of 21 wrong: flipped, or moved by metres
        if i % 2:
            bad[i, :3, :3] = bad[i, :3, :3] @ np.diag([-1.0, -1.0, 1.0])
        else:
            bad[i, :3, 3] += [1.5, -2.0, 0.7]
    fit = robust_similarity(src, bad)
    wrong = np.zeros(21, bool)
    wrong[::3] = True
    assert not fit.consistent[wrong].any() and fit.consistent[~wrong].all()
    assert fit.inliers[~wrong].mean() > 0.8
    ref = umeyama(src[~wrong, :3, 3], dst[~wrong, :3, 3])
    np.testing.assert_allclose(fit.similarity.apply_points(src[:, :3, 3]), ref.apply_points(src[:, :3, 3]), atol=1e-3)
    assert abs(fit.similarity.scale / truth.scale - 1) < 3e-3 and 0 < fit.scale_rel_sigma < 5e-3
    plain = umeyama(src[:, :3, 3], bad[:, :3, 3])
    drag = np.linalg.norm(plain.apply_points(src[:, :3, 3]) - ref.apply_points(src[:, :3, 3]), axis=1)
    assert np.median(drag) > 0.1  # least squares is dragged by decimetres
    assert abs(clean.scale / truth.scale - 1) < 3e-3


def test_robust_similarity_on_a_straight_dolly():
    """Collinear camera centres leave the rotation about their line to the orientations."""
    from gwm.cameras import look_at

    src = np.stack([look_at((x, -1.0, 0.5), (x, 0.0, 0.0)).double().numpy() for x in np.linspace(0, 1, 8)])
    truth = Similarity(0.7, np.linalg.qr(np.random.default_rng(4).normal(size=(3, 3)))[0], np.array([1.0, 2.0, 3.0]))
    if np.linalg.det(truth.rotation) < 0:
        truth = Similarity(truth.scale, -truth.rotation, truth.translation)
    fit = robust_similarity(src, truth.apply_poses(src))
    np.testing.assert_allclose(fit.similarity.matrix(), truth.matrix(), atol=1e-9)
    assert pose_errors(src, truth.apply_poses(src), align="robust").rotation_deg.max() < 1e-6

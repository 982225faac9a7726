"""Umeyama alignment and pose errors."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from gwm.cameras import look_at
from gwm.metrics import Similarity, pose_errors, rotation_angle_deg, umeyama


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

import numpy as np
import pytest

from gwm.scene.plane import find_support_plane, ransac_plane, rotation_between, support_box, up_axis_rotation


def _plane_points(rng, normal, point, n, noise=0.001, size=1.0):
    normal = np.asarray(normal, float) / np.linalg.norm(normal)
    t1 = np.cross(normal, [1.0, 0, 0] if abs(normal[0]) < 0.9 else [0, 1.0, 0])
    t1 /= np.linalg.norm(t1)
    t2 = np.cross(normal, t1)
    uv = (rng.random((n, 2)) - 0.5) * size
    return point + uv[:, :1] * t1 + uv[:, 1:] * t2 + noise * rng.standard_normal((n, 1)) * normal


def test_ransac_recovers_tilted_plane_among_outliers():
    rng = np.random.default_rng(0)
    normal = np.array([0.05, -0.03, 1.0])
    pts = np.concatenate([_plane_points(rng, normal, [0.1, 0.2, 0.75], 3000),
                          rng.random((3000, 3)) * 2 - 1])  # 50% outliers
    n, c, mask = ransac_plane(pts, threshold=0.005, max_tilt_deg=15, seed=0)
    assert np.degrees(np.arccos(n @ (normal / np.linalg.norm(normal)))) < 0.2
    assert abs((c - [0.1, 0.2, 0.75]) @ n) < 1e-3
    assert mask[:3000].mean() > 0.98 and mask[3000:].mean() < 0.02


def test_walls_are_never_the_support():
    rng = np.random.default_rng(1)
    wall = _plane_points(rng, [1.0, 0, 0], [0.5, 0, 1.0], 5000)
    table = _plane_points(rng, [0, 0, 1.0], [0, 0, 0.7], 1000)
    p = find_support_plane(np.concatenate([wall, table]), 0.005, 15.0)
    assert p.normal[2] > 0.999 and abs(p.point[2] - 0.7) < 2e-3


def test_highest_picks_the_table_over_a_bigger_floor():
    rng = np.random.default_rng(2)
    floor = _plane_points(rng, [0, 0, 1.0], [0, 0, 0.0], 6000, size=3.0)
    table = _plane_points(rng, [0, 0, 1.0], [0, 0, 0.75], 2000, size=1.0)
    pts = np.concatenate([floor, table])
    assert abs(find_support_plane(pts, 0.005, 15.0, "largest").point[2]) < 2e-3
    assert abs(find_support_plane(pts, 0.005, 15.0, "highest").point[2] - 0.75) < 2e-3


@pytest.mark.parametrize("axis", ["+x", "-x", "+y", "-y", "+z", "-z"])
def test_up_axis_rotation(axis):
    r = up_axis_rotation(axis)
    v = np.zeros(3)
    v["xyz".index(axis[1])] = 1.0 if axis[0] == "+" else -1.0
    np.testing.assert_allclose(r @ v, [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_rotation_between_and_support_box():
    a, b = np.array([0.1, 0.2, 0.97]), np.array([0.0, 0.0, 1.0])
    r = rotation_between(a, b)
    np.testing.assert_allclose(r @ (a / np.linalg.norm(a)), b, atol=1e-12)
    v, f = support_box([0.1, 0.2], [1.0, 0.5], 0.75, 0.05)
    assert v.shape == (8, 3) and f.shape == (12, 3)
    np.testing.assert_allclose([v[:, 2].min(), v[:, 2].max()], [0.70, 0.75], atol=1e-6)
    np.testing.assert_allclose(v[:, :2].max(0) - v[:, :2].min(0), [1.0, 0.5], atol=1e-6)

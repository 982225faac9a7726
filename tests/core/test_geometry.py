"""The geometry layer: numpy and torch entry points agree, conventions hold, posing is one thing."""

import math

import numpy as np
import pytest
import torch

from gwm.body_gaussians import BodyGaussians, pose_body_gaussians, pose_means_quats
from gwm.cameras import Cameras, intrinsics_from_fov, look_at
from gwm.geometry import (
    matrix_to_pose7, opencv_to_opengl, opengl_to_opencv, pose7_to_matrix, pose7_wxyz_to_xyzw, pose7_xyzw_to_matrix,
    pose7_xyzw_to_wxyz, positive_w, quat_multiply, quat_to_rotmat, rotmat_to_quat, scale_intrinsics, yaw_of,
    yaw_quat, yaw_rotation,
)
from gwm.splats import GaussianSplats


def _random_quats(n, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 4))


def test_numpy_and_torch_entry_points_agree():
    q = _random_quats(64, seed=3)
    r_np = quat_to_rotmat(q)
    r_t = quat_to_rotmat(torch.tensor(q))
    assert isinstance(r_np, np.ndarray) and isinstance(r_t, torch.Tensor)
    np.testing.assert_allclose(r_np, r_t.numpy(), atol=1e-15)
    np.testing.assert_allclose(rotmat_to_quat(r_np), rotmat_to_quat(r_t).numpy(), atol=1e-15)
    a, b = q[:32], q[32:]
    np.testing.assert_allclose(quat_multiply(a, b), quat_multiply(torch.tensor(a), torch.tensor(b)).numpy(), atol=1e-15)
    # float32 numpy stays float32; lists and floats become float64 numpy
    assert quat_to_rotmat(q.astype(np.float32)).dtype == np.float32
    assert yaw_rotation(0.5).dtype == np.float64 and yaw_rotation(0.5).shape == (3, 3)


def test_rotation_round_trips_and_composition():
    q = positive_w(_random_quats(200, seed=1) / np.linalg.norm(_random_quats(200, seed=1), axis=-1, keepdims=True))
    np.testing.assert_allclose(rotmat_to_quat(quat_to_rotmat(q)), q, atol=1e-12)
    r = quat_to_rotmat(q)
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    # Hamilton product: R(a * b) = R(a) R(b)
    np.testing.assert_allclose(quat_to_rotmat(quat_multiply(q[:100], q[100:])), r[:100] @ r[100:], atol=1e-12)
    # near-180-degree rotations (trace ~ -1) convert without loss
    for axis in np.eye(3):
        flip = quat_to_rotmat(np.concatenate([[1e-9], axis]))
        np.testing.assert_allclose(quat_to_rotmat(rotmat_to_quat(flip)), flip, atol=1e-9)


def test_pose7_round_trip_and_quaternion_orders():
    rng = np.random.default_rng(2)
    q = positive_w(_random_quats(10, seed=2) / np.linalg.norm(_random_quats(10, seed=2), axis=-1, keepdims=True))
    poses = np.concatenate([rng.normal(size=(10, 3)), q], -1)
    m = pose7_to_matrix(poses)
    assert m.shape == (10, 4, 4)
    np.testing.assert_allclose(m[:, 3], np.tile([0, 0, 0, 1.0], (10, 1)))
    np.testing.assert_allclose(matrix_to_pose7(m), poses, atol=1e-12)
    xyzw = pose7_wxyz_to_xyzw(poses)
    np.testing.assert_array_equal(xyzw[:, 3:], poses[:, [4, 5, 6, 3]])
    np.testing.assert_array_equal(pose7_xyzw_to_wxyz(xyzw), poses)
    np.testing.assert_allclose(pose7_xyzw_to_matrix(xyzw), m, atol=1e-15)


def test_yaw_helpers_agree_with_each_other_and_the_quaternions():
    yaws = np.array([-2.5, -0.3, 0.0, 0.7, 3.0])
    r = yaw_rotation(yaws)
    np.testing.assert_allclose(quat_to_rotmat(yaw_quat(yaws)), r, atol=1e-15)
    np.testing.assert_allclose(r[1] @ [1.0, 0, 0], [math.cos(-0.3), math.sin(-0.3), 0.0], atol=1e-15)  # +yaw turns x to y
    assert [yaw_of(m) for m in r] == pytest.approx(yaws.tolist(), abs=1e-12)
    rt = yaw_rotation(torch.tensor(yaws))
    np.testing.assert_allclose(rt.numpy(), r, atol=1e-15)


def test_opengl_opencv_conversion():
    # OpenCV camera at (0, 0, 2) looking down -Z (at the origin): its +z axis is world -Z
    cv = look_at((0.0, 0.0, 2.0), (0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0)).double()
    gl = opencv_to_opengl(cv)
    np.testing.assert_allclose(gl[:3, 2].numpy(), [0, 0, 1.0], atol=1e-7)  # OpenGL looks along its -z
    np.testing.assert_allclose(gl[:3, 3].numpy(), cv[:3, 3].numpy())
    np.testing.assert_allclose(opengl_to_opencv(gl.numpy()), cv.numpy(), atol=1e-15)  # numpy back, exactly
    cams = Cameras.from_opengl(intrinsics_from_fov(60, 64, 48), gl.float(), 64, 48)
    torch.testing.assert_close(cams.world_from_cam[0], cv.float())
    torch.testing.assert_close(cams.to_opengl()[0], gl.float())


def test_resized_cameras_project_to_scaled_pixels():
    cams = Cameras(intrinsics_from_fov(50, 80, 60), look_at((0.5, -0.4, 0.6), (0, 0, 0)), 80, 60)
    pts = torch.tensor([[0.0, 0.0, 0.0], [0.05, 0.1, 0.02], [-0.1, 0.03, 0.08]])
    uv, _ = cams.project(pts)
    small = cams.resized(40, 20)
    assert (small.width, small.height) == (40, 20)
    uv_small, _ = small.project(pts)
    # pixel edges scale with the image: u' = u * 40/80, v' = v * 20/60
    torch.testing.assert_close(uv_small[0], uv[0] * torch.tensor([0.5, 1 / 3]), atol=1e-4, rtol=0)
    np.testing.assert_allclose(scale_intrinsics(np.eye(3) * 10, 2.0, 3.0)[:2, :2], [[20, 0], [0, 30]])


def _body_splats(n, seed, sh_degree=2):
    g = torch.Generator().manual_seed(seed)
    k = (sh_degree + 1) ** 2
    return GaussianSplats(torch.randn(n, 3, generator=g) * 0.1, torch.randn(n, 4, generator=g),
                          torch.randn(n, 3, generator=g) - 4, torch.randn(n, generator=g), torch.randn(n, k, 3, generator=g))


def test_pose_body_gaussians_matches_per_body_rigid_transforms():
    names = ("background", "cup", "arm")
    canonical = {"background": _body_splats(30, 0), "cup": _body_splats(20, 1)}  # "arm" has no Gaussians
    rng = np.random.default_rng(4)
    q = rng.normal(size=(3, 4))
    poses = np.concatenate([rng.normal(size=(3, 3)), q / np.linalg.norm(q, axis=-1, keepdims=True)], -1)
    poses[0] = [0, 0, 0, 1, 0, 0, 0]
    got = pose_body_gaussians(BodyGaussians.stack(names, canonical), poses.astype(np.float32))
    want = GaussianSplats.cat([canonical[b].transform(torch.tensor(pose7_to_matrix(poses[i]), dtype=torch.float32))
                               for i, b in enumerate(names) if b in canonical])
    torch.testing.assert_close(got.means, want.means, atol=1e-6, rtol=0)
    torch.testing.assert_close(got.covariances(), want.covariances(), atol=1e-7, rtol=1e-5)
    torch.testing.assert_close(got.sh, want.sh, atol=1e-5, rtol=0)
    torch.testing.assert_close(got.log_scales, want.log_scales)
    # batched over time: (T, B, 7) poses give each frame's means
    seq = np.stack([poses, poses[::-1].copy()]).astype(np.float32)
    seq[1, 0] = poses[0]
    bodies = BodyGaussians.stack(names, canonical)
    means_t, _ = pose_means_quats(seq, bodies.body_index, bodies.splats.means, bodies.splats.quats_wxyz)
    torch.testing.assert_close(means_t[0], got.means, atol=1e-6, rtol=0)
    frame1 = pose_body_gaussians(bodies, seq[1])
    torch.testing.assert_close(means_t[1], frame1.means, atol=1e-6, rtol=0)


def test_pose_body_gaussians_rejects_no_bodies():
    with pytest.raises(ValueError, match="no canonical Gaussians"):
        BodyGaussians.stack(("a",), {})

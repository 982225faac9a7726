"""Body-bound Gaussians: batched posing, robot surface samples, camera rig (no simulator)."""

import numpy as np
import torch

from gwm.data.world_state import gaussians_from_poses
from gwm.geometry import quat_to_rotmat
from sim_tasks.demo_scene import box_mesh, box_surface_splats
from sim_tasks.rendering import CameraConfig, CameraRig, GaussianSceneRenderer, sample_mesh_surface


def _renderer():
    rng = np.random.default_rng(0)
    canonical = {
        "background": box_surface_splats((1.0, 1.0, 0.0), (0.6, 0.5, 0.3), 0.05, rng, top_only=True),
        "cube": box_surface_splats((0.05, 0.05, 0.05), (0.9, 0.1, 0.1), 0.01, rng),
        "link": sample_mesh_surface(*box_mesh((0.1, 0.05, 0.2)), 300, (0.9, 0.9, 0.9), rng),
    }
    rig = CameraRig(np.eye(4), CameraConfig(width=64, height=48))
    return GaussianSceneRenderer(canonical, ("background", "cube", "gripper_without_gaussians", "link"), rig)


def _random_poses(rng, n):
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return np.concatenate([rng.uniform(-0.5, 0.5, (n, 3)), q], 1).astype(np.float32)


def test_batched_posing_equals_the_dataset_world_state():
    r = _renderer()
    poses = _random_poses(np.random.default_rng(1), 4)
    poses[0] = [0, 0, 0, 1, 0, 0, 0]
    fast = r.world_gaussians_dc(poses)
    ref = gaussians_from_poses(r.body_names, r.canonical, poses)
    np.testing.assert_allclose(fast.means.numpy(), ref.means.numpy(), atol=1e-6)
    # same rotations (quaternion sign is free)
    np.testing.assert_allclose(quat_to_rotmat(fast.quats_wxyz).numpy(), quat_to_rotmat(ref.quats_wxyz).numpy(), atol=1e-5)
    np.testing.assert_array_equal(fast.log_scales.numpy(), ref.log_scales.numpy())
    np.testing.assert_allclose(fast.sh[:, 0].numpy(), ref.sh[:, 0].numpy(), atol=1e-6)


def test_render_outputs_and_depth():
    r = _renderer()
    poses = np.tile(np.array([0, 0, 0, 1, 0, 0, 0], np.float32), (4, 1))
    tool = np.array([0.4, 0.0, 0.3, 0.0, 1.0, 0.0, 0.0])  # pointing down
    out = r.render(poses, tool)
    assert out["scene"].shape == (48, 64, 3) and out["scene"].dtype == np.uint8
    assert out["depth.wrist"].shape == (48, 64, 1) and out["depth.wrist"].dtype == np.float32
    # Wrist camera: z axis along the tool's approach axis (down), 5 cm behind the site, 9 cm to its side.
    cams = r.cameras(tool)
    cam_z = cams.world_from_cam[1, :3, 2].numpy()
    assert cam_z[2] < -0.9


def test_worlds_rendered_in_one_call_equal_each_world_alone():
    r = _renderer()
    rng = np.random.default_rng(2)
    poses = [_random_poses(rng, 4) * np.float32([0.3, 0.3, 0.3, 1, 1, 1, 1]) for _ in range(3)]
    tools = [np.array([0.4, 0.1 * w, 0.3, 0.0, 1.0, 0.0, 0.0]) for w in range(3)]
    together = r.render_worlds(poses, tools)
    assert len(together) == 3
    for w in range(3):
        alone = r.render(poses[w], tools[w])
        assert together[w].keys() == alone.keys()
        for key in alone:
            np.testing.assert_array_equal(together[w][key], alone[key], err_msg=f"world {w} {key}")
    assert not np.array_equal(together[0]["scene"], together[1]["scene"])


def test_mesh_samples_lie_on_the_surface_as_discs():
    v, f = box_mesh((0.2, 0.1, 0.4))
    s = sample_mesh_surface(v, f, 500, (0.5, 0.5, 0.5), np.random.default_rng(0))
    p = s.means.numpy()
    half = np.array([0.1, 0.05, 0.2])
    # on the box surface: one coordinate at +-half, the others inside
    on_face = np.isclose(np.abs(p), half, atol=1e-6)
    assert on_face.any(1).all() and (np.abs(p) <= half + 1e-6).all()
    # disc normal (local z of each Gaussian) = face normal
    normal = quat_to_rotmat(s.quats_wxyz)[:, :, 2].numpy()
    face_axis = on_face.argmax(1)
    np.testing.assert_allclose(np.abs(normal[np.arange(len(p)), face_axis]), 1.0, atol=1e-5)
    assert (s.scales[:, 2] < s.scales[:, 0]).all()


def test_scene_camera_is_placed_relative_to_the_robot_base():
    yaw = 0.4
    base = np.eye(4)
    base[:3, :3] = [[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]]
    base[:3, 3] = [1.0, 2.0, 0.5]
    cfg = CameraConfig()
    rig0, rig = CameraRig(np.eye(4), cfg), CameraRig(base, cfg)
    expected = torch.tensor(base, dtype=torch.float32) @ rig0.world_from_scene_cam
    np.testing.assert_allclose(rig.world_from_scene_cam.numpy(), expected.numpy(), atol=1e-5)

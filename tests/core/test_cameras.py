import torch

from gwm.cameras import Cameras, intrinsics_from_fov, look_at


def test_look_at_points_the_optical_axis_at_the_target():
    eye, target = torch.tensor([1.0, -2.0, 1.5]), torch.tensor([0.1, 0.2, 0.0])
    m = look_at(eye, target)
    cam = Cameras(intrinsics_from_fov(60, 320, 240), m, 320, 240)
    uv, z = cam.project(target[None])
    assert torch.allclose(uv[0, 0], torch.tensor([160.0, 120.0]), atol=1e-4)
    assert torch.allclose(z[0, 0], (target - eye).norm(), atol=1e-5)
    # Z-up world: a point above the target projects above the centre (smaller v).
    uv_up, _ = cam.project((target + torch.tensor([0, 0, 0.1]))[None])
    assert uv_up[0, 0, 1] < 120.0
    assert torch.allclose(m[:3, :3] @ m[:3, :3].T, torch.eye(3), atol=1e-6)


def test_opengl_round_trip_and_axes():
    m = look_at([0.5, 0.5, 1.0], [0, 0, 0])
    cams = Cameras(intrinsics_from_fov(50, 64, 48), m, 64, 48)
    gl = cams.to_opengl()
    # OpenGL cameras look down -z: the camera's -z column equals OpenCV's +z column.
    assert torch.allclose(-gl[0, :3, 2], m[:3, 2])
    assert torch.allclose(-gl[0, :3, 1], m[:3, 1])
    back = Cameras.from_opengl(cams.Ks, gl, 64, 48)
    assert torch.allclose(back.world_from_cam, cams.world_from_cam)


def test_batch_indexing_and_mixed_size_error():
    a = Cameras(intrinsics_from_fov(50, 64, 48), look_at([1, 0, 1], [0, 0, 0]), 64, 48)
    b = Cameras(intrinsics_from_fov(50, 64, 48), look_at([0, 1, 1], [0, 0, 0]), 64, 48)
    ab = Cameras.cat([a, b])
    assert len(ab) == 2 and torch.equal(ab[1].world_from_cam, b.world_from_cam)
    c = Cameras(intrinsics_from_fov(50, 32, 24), look_at([0, 1, 1], [0, 0, 0]), 32, 24)
    try:
        Cameras.cat([a, c])
    except ValueError as e:
        assert "mixed image sizes" in str(e)
    else:
        raise AssertionError("expected ValueError")

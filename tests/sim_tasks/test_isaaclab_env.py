"""The Isaac Lab layer without Isaac Lab: spec building, the USD it loads, conversions at the boundary."""

import json

import numpy as np
import pytest

from sim_tasks.backend import make_action
from sim_tasks.isaaclab_env import make_isaaclab_env_cfg
from sim_tasks.isaaclab_spec import (IsaacLabConfig, PoseXYZW, build_isaaclab_spec, from_isaaclab_action,
                                    poses_from_isaaclab, to_isaaclab_action)
from gwm.geometry import matrix_to_pose7, pose7_to_matrix


@pytest.fixture(scope="module")
def spec(scene_usd):
    return build_isaaclab_spec(scene_usd, "pick_place_bowl", IsaacLabConfig(dataset_dir="/tmp/demos"))


def test_spec_describes_the_exported_scene(spec, scene_usd, demo_scene):
    from pxr import Usd, UsdPhysics

    stage = Usd.Stage.Open(spec.scene_usd)
    assert spec.scene_usd.endswith("demo_scene.usda")
    assert stage.GetPrimAtPath(spec.support_prim).HasAPI(UsdPhysics.CollisionAPI)
    assert [o.name for o in spec.objects] == [o.name for o in demo_scene.objects]
    for o, src in zip(spec.objects, demo_scene.objects):
        prim = stage.GetPrimAtPath(o.prim_path)
        assert prim.HasAPI(UsdPhysics.RigidBodyAPI), o.prim_path
        np.testing.assert_allclose(o.init_pose.to_matrix(), src.world_from_body.numpy(), atol=1e-6)
        assert o.mass == pytest.approx(src.mass)
    np.testing.assert_allclose(spec.robot_base.to_matrix(), demo_scene.robot_base.numpy(), atol=1e-6)
    # 20 Hz control over the task's 150 steps; Isaac Lab's time-out after the 151st
    assert spec.control_dt == pytest.approx(0.05)
    assert spec.max_steps == 150 and spec.max_episode_length == 151


def test_quaternions_are_xyzw_at_the_boundary(spec, demo_scene):
    yaw = 0.15  # the demo scene's robot base yaw
    qx, qy, qz, qw = spec.robot_base.quat_xyzw
    assert (qx, qy) == pytest.approx((0.0, 0.0), abs=1e-9)
    assert qw == pytest.approx(np.cos(yaw / 2), abs=1e-7) and qz == pytest.approx(np.sin(yaw / 2), abs=1e-7)
    identity = spec.objects[0].init_pose.quat_xyzw
    assert identity == pytest.approx((0.0, 0.0, 0.0, 1.0))


def test_spec_is_plain_json(spec):
    d = json.loads(json.dumps(spec.to_dict()))
    assert d["task"] == "pick_place_bowl"
    assert d["config"]["dataset_dir"] == "/tmp/demos"
    assert {c["name"] for c in d["cameras"]} == {"scene", "wrist"}
    # the project's own Panda: the MJCF's end_effector site, 0.21 m along panda0_link7's z axis
    assert d["tool_body"] == "panda0_link7" and d["tool_offset"]["pos"] == pytest.approx([0.0, 0.0, 0.21])


def test_cameras_match_the_embedded_renderer(spec, runner):
    scene_cam = next(c for c in spec.cameras if c.name == "scene")
    np.testing.assert_allclose(scene_cam.offset.to_matrix(), runner.renderer.rig.world_from_scene_cam.numpy(), atol=1e-5)
    np.testing.assert_allclose(np.reshape(scene_cam.intrinsic_matrix, (3, 3)), runner.renderer.rig.K_scene.numpy())
    wrist = next(c for c in spec.cameras if c.name == "wrist")
    # link7 -> camera = link7 -> tool site -> camera
    tool_from_cam = runner.renderer.rig.tool_from_wrist_cam.numpy()
    expected = spec.tool_offset.to_matrix() @ tool_from_cam
    assert wrist.parent == "panda0_link7"
    np.testing.assert_allclose(wrist.offset.to_matrix(), expected, atol=1e-5)


def test_action_conversion_round_trip(spec):
    rng = np.random.default_rng(0)
    for _ in range(10):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        width = rng.choice([0.0, 0.08])
        a = make_action(rng.uniform(-1, 1, 3), q, width)
        isaac = to_isaaclab_action(a, spec.robot_base)
        assert isaac.shape == (8,) and isaac[7] == (1.0 if width > 0.04 else -1.0)
        # The IK target is in the robot base frame, quaternion xyzw.
        base_from_tool = np.linalg.inv(spec.robot_base.to_matrix()) @ pose7_to_matrix(a[:7].astype(np.float64))
        np.testing.assert_allclose(isaac[:3], base_from_tool[:3, 3], atol=1e-5)
        back = from_isaaclab_action(isaac, spec.robot_base)
        np.testing.assert_allclose(back[:3], a[:3], atol=1e-5)
        assert abs(abs(np.dot(back[3:7], a[3:7])) - 1) < 1e-6
        assert back[7] == pytest.approx(width)


def test_body_pose_conversion_from_xyzw():
    pos = np.array([[0.1, 0.2, 0.3]])
    xyzw = np.array([[0.0, 0.0, -np.sin(0.2), -np.cos(0.2)]])  # negative w: canonicalised
    out = poses_from_isaaclab(pos, xyzw)
    np.testing.assert_allclose(out, [[0.1, 0.2, 0.3, np.cos(0.2), 0, 0, np.sin(0.2)]], atol=1e-12)
    m = PoseXYZW.from_matrix(pose7_to_matrix(out[0]))
    np.testing.assert_allclose(matrix_to_pose7(m.to_matrix()), out[0], atol=1e-12)


def test_bad_export_mode_names_the_choices(scene_usd):
    with pytest.raises(ValueError, match="succeeded_only"):
        build_isaaclab_spec(scene_usd, "push", IsaacLabConfig(export_mode="some"))


def test_env_cfg_needs_isaaclab_and_says_so(spec):
    pytest.importorskip("pxr")
    try:
        import isaaclab  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="make isaaclab-venv"):
            make_isaaclab_env_cfg(spec, layouts=None)
    else:  # the Isaac Lab venv runs tests/sim_tasks/test_isaaclab_smoke.py instead
        pytest.skip("isaaclab is importable here: the smoke test builds the env")

"""Regression tests for the Isaac Lab layer's configuration (no Isaac Lab needed; each failed on the
code before issue #18):

- the recorder exported every episode with success=False: Isaac Lab's RecorderManager.record_pre_reset
  reads success from a termination term named "success", which the env did not have;
- time_out fired inside the step of the last action (episode_length_s = max_steps * control_dt), so
  the env reset and success was judged on the reset poses;
- the whole scene stage (with /World/PhysicsScene) was referenced under every cloned env;
- the robot was Isaac Lab's stock Franka (fetched from NVIDIA's servers, not the embedded sim's Panda).
"""

import math

import numpy as np
import pytest

from sim_tasks.isaaclab_spec import (SUCCESS_TERM, TIME_OUT_TERM, IsaacLabConfig, build_isaaclab_spec,
                                    episode_length_s_for, home_tool_pose)
from sim_tasks.tasks import TaskConfig


def isaaclab_time_out_step(episode_length_s: float, step_dt: float) -> int:
    """Isaac Lab 3.0: max_episode_length = ceil(episode_length_s / step_dt) (ManagerBasedRLEnv), and
    mdp.time_out fires once episode_length_buf (incremented each step) >= it."""
    return math.ceil(episode_length_s / step_dt)


@pytest.mark.parametrize("max_steps,physics_dt,decimation", [(150, 0.002, 25), (40, 0.002, 25), (97, 1 / 120, 2),
                                                             (151, 0.005, 10), (10, 0.001, 3)])
def test_time_out_fires_one_step_after_the_last_action(scene_usd, max_steps, physics_dt, decimation):
    spec = build_isaaclab_spec(scene_usd, "push", IsaacLabConfig(physics_dt=physics_dt, decimation=decimation),
                               task_config=TaskConfig(max_steps=max_steps))
    step_dt = physics_dt * decimation
    # the env must still be running after the demonstrator's max_steps actions ...
    assert isaaclab_time_out_step(spec.episode_length_s, step_dt) == max_steps + 1
    assert spec.max_episode_length == max_steps + 1
    # ... whatever the float rounding of the step (a whole extra step could round to max_steps + 2)
    assert isaaclab_time_out_step(episode_length_s_for(max_steps, step_dt), step_dt) == max_steps + 1


def test_success_is_the_termination_term_isaaclab_records(scene_usd):
    spec = build_isaaclab_spec(scene_usd, "pick_place")
    # Isaac Lab's recorder: `if "success" in termination_manager.active_terms: success |= get_term("success")`
    assert SUCCESS_TERM == "success" and TIME_OUT_TERM == "time_out"
    assert spec.termination_terms == ("success", "time_out")
    # exported at the env's reset, successful demos only
    assert spec.config.export_in_record_pre_reset and spec.config.export_mode == "succeeded_only"
    # a cross-check run keeps the episode going: no success term, only the time-out
    replay = build_isaaclab_spec(scene_usd, "pick_place", IsaacLabConfig(terminate_on_success=False))
    assert replay.termination_terms == ("time_out",)


def test_per_env_assets_hold_no_physics_scene(scene_usd, demo_scene, tmp_path):
    from pxr import Usd, UsdPhysics, UsdShade

    from sim_tasks.isaaclab_assets import write_isaaclab_scene_assets

    assert Usd.Stage.Open(str(scene_usd)).GetPrimAtPath("/World/PhysicsScene").IsValid()  # the source has one
    assets = write_isaaclab_scene_assets(scene_usd, tmp_path / "assets")
    assert sorted(assets.object_usds) == sorted(o.name for o in demo_scene.objects)
    for path in [assets.support_usd, *assets.object_usds.values()]:
        stage = Usd.Stage.Open(path)
        prims = list(stage.Traverse())
        assert not [p for p in prims if p.IsA(UsdPhysics.Scene)], path
        assert not [p for p in prims if p.GetTypeName() == "ParticleField3DGaussianSplat"], path
        colliders = [p for p in prims if p.HasAPI(UsdPhysics.CollisionAPI)]
        assert colliders, path
        for c in colliders:  # the physics material is bound and travels with the asset
            mat, _ = UsdShade.MaterialBindingAPI(c).ComputeBoundMaterial("physics")
            assert mat and mat.GetPrim().HasAPI(UsdPhysics.MaterialAPI), c.GetPath()
    for o in demo_scene.objects:
        stage = Usd.Stage.Open(assets.object_usds[o.name])
        root = stage.GetDefaultPrim()
        assert root.HasAPI(UsdPhysics.RigidBodyAPI) and root.HasAPI(UsdPhysics.MassAPI)
        assert UsdPhysics.MassAPI(root).GetMassAttr().Get() == pytest.approx(o.mass)
        # posed by the env (init_state / reset event), so the asset sits at its own origin
        from pxr import UsdGeom
        np.testing.assert_allclose(np.array(UsdGeom.Xformable(root).ComputeLocalToWorldTransform(0)), np.eye(4))
        friction = UsdShade.MaterialBindingAPI(root.GetChild("Collision")).ComputeBoundMaterial("physics")[0]
        assert UsdPhysics.MaterialAPI(friction.GetPrim()).GetStaticFrictionAttr().Get() == pytest.approx(o.friction)
    support = Usd.Stage.Open(assets.support_usd)
    src = Usd.Stage.Open(str(scene_usd))
    # the support keeps its geometry where the scene has it
    from pxr import UsdGeom
    src_pts = np.array(UsdGeom.Mesh(src.GetPrimAtPath("/World/Support")).GetPointsAttr().Get())
    dst_pts = np.array(UsdGeom.Mesh(support.GetPrimAtPath("/Support/Mesh")).GetPointsAttr().Get())
    np.testing.assert_allclose(dst_pts, src_pts)


def test_robot_is_the_embedded_sims_panda(scene_usd):
    """The USD the env spawns comes from the embedded sim's MJCF: same kinematics, Isaac Lab joint names,
    no MuJoCo actuators (Isaac Lab's actuator config drives the joints once)."""
    import xml.etree.ElementTree as ET

    import mujoco

    from sim_tasks.isaaclab_robot import ARM_JOINT_NAMES, FINGER_JOINT_NAMES, robot_mjcf_text
    from sim_tasks.panda_chain import panda_chain

    text = robot_mjcf_text()
    root = ET.fromstring(text)
    assert root.find("actuator") is None
    assert [j.get("name") for j in root.find("worldbody").iter("joint")] == [*ARM_JOINT_NAMES, *FINGER_JOINT_NAMES]
    assert all(b.get("gravcomp") == "1" for b in root.iter("body"))
    spec = build_isaaclab_spec(scene_usd, "pick_place")
    model = mujoco.MjModel.from_xml_string(text)
    data = mujoco.MjData(model)
    data.qpos[:7] = spec.home_joint_pos
    mujoco.mj_kinematics(model, data)
    site = model.site("end_effector").id
    tool = np.eye(4)
    tool[:3, :3], tool[:3, 3] = data.site_xmat[site].reshape(3, 3), data.site_xpos[site]
    # the home posture puts the tool where the embedded simulator's home does
    base = spec.robot_base.to_matrix()
    np.testing.assert_allclose(base @ tool, home_tool_pose(base), atol=1e-3)
    np.testing.assert_allclose(panda_chain().tool_pose(np.array(spec.home_joint_pos), np.eye(4)), tool, atol=1e-6)
    # and the env's IK body + offset is that site
    link7 = model.body(spec.tool_body).id
    body = np.eye(4)
    body[:3, :3], body[:3, 3] = data.xmat[link7].reshape(3, 3), data.xpos[link7]
    np.testing.assert_allclose(body @ spec.tool_offset.to_matrix(), tool, atol=1e-6)

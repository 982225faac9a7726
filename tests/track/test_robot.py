"""The twin's robot (`gwm track --joints`): its links follow the joint states they are given and never take visual
forces, what it pushes moves by the twin's physics, and the test bed's real robot leaves the log the twin replays."""

import numpy as np
import pytest
import torch

from sim_tasks.real_streams import observing_cameras, record_real_stream, robot_scenarios


@pytest.fixture(scope="module")
def pushed(demo_scene):
    """The real robot pushing the demo's cube (MuJoCo's Panda and physics), one 64x48 camera, 1.5 s."""
    scenario = robot_scenarios(demo_scene, duration=1.5)[0]
    cams, specs = observing_cameras(demo_scene, 1, 64, 48)
    return scenario, cams, specs, record_real_stream(demo_scene, scenario, cams, specs, fps=30)


def _twin(scene_usd, demo_scene):
    from sim_tasks.newton_twin import NewtonTwin

    return NewtonTwin(scene_usd, fps=30, scene=demo_scene, robot=True)


def _tracker(scene_usd, demo_scene, pushed, calibration_iterations=10, **config):
    """A tracker on a twin with the robot at the stream's first joint states, calibrated on its first frames."""
    from gwm.track.config import TrackerConfig
    from gwm.track.loop import Tracker, scene_gaussians
    from sim_tasks.newton_twin import robot_link_splats

    _, cams, _, stream = pushed
    twin = _twin(scene_usd, demo_scene)
    cfg = TrackerConfig(calibration_iterations=calibration_iterations, threads=1, **config)
    canonical, reveal = scene_gaussians(demo_scene, cfg)
    canonical.update(robot_link_splats(twin))
    twin.reset(joints=stream.joints[0])
    tracker = Tracker(twin, canonical, cams, cfg, reveal=reveal)
    if calibration_iterations:
        tracker.calibrate(stream.frames[0])
    return tracker


def test_the_real_robot_pushes_the_object_and_logs_its_joints(pushed):
    scenario, _, _, stream = pushed
    assert stream.joints.shape == (len(stream.frames), 9)
    j = stream.body_names.index(scenario.robot_push.body)
    moved = stream.true_poses[-1, j, :3] - stream.true_poses[0, j, :3]
    assert moved @ np.asarray(scenario.robot_push.direction) > 0.04  # pushed on ~6 cm, the way the path goes
    others = [k for k in range(len(stream.body_names)) if k != j]
    assert np.abs(stream.true_poses[-1, others, :2] - stream.true_poses[0, others, :2]).max() < 1e-3
    assert np.abs(stream.joints[-1] - stream.joints[0])[:7].max() > 0.1  # the arm moved


def test_twin_links_follow_the_joint_states_and_push_what_they_touch(pushed, scene_usd, demo_scene):
    scenario, _, _, stream = pushed
    q = stream.joints
    twin, reference = _twin(scene_usd, demo_scene), _twin(scene_usd, demo_scene)
    links = slice(len(stream.body_names), None)
    twin.reset(joints=q[0])
    touched = []
    for t in range(len(q) - 1):
        twin.step(np.zeros((len(twin.body_names), 6)), q[t + 1])
        touched.append(twin.robot_contacts()[stream.body_names.index(scenario.robot_push.body)])
        if t + 1 in (10, 20, len(q) - 1):  # the links where the joint states put them (the twin's own kinematics),
            reference.reset(joints=q[t + 1])  # within its servos' lag
            np.testing.assert_allclose(twin.body_poses()[links, :3], reference.body_poses()[links, :3], atol=3e-3)
    reference.reset(joints=q[0])
    assert np.abs(twin.body_poses()[links, :3] - reference.body_poses()[links, :3]).max() > 0.02  # they moved
    j = stream.body_names.index(scenario.robot_push.body)
    moved = twin.body_poses()[j, :3] - reference.body_poses()[j, :3]
    assert moved @ np.asarray(scenario.robot_push.direction) > 0.03 and any(touched) and not touched[0]
    # What the robot does, the twin does: driven by its servos, the pushed cube ends where the real one did (links set
    # kinematically along each step instead ended it 12.3 mm off here, checked; README, stop 46).
    assert np.linalg.norm(twin.body_poses()[j, :3] - stream.true_poses[-1, j, :3]) < 0.01
    np.testing.assert_allclose(twin.joint_state(), q[-1], atol=1e-2)  # the servos a few mrad behind
    wrench = np.zeros((len(twin.body_names), 6))
    wrench[-1, 0] = 1.0
    with pytest.raises(ValueError, match="wrenches on robot links"):
        twin.step(wrench)


def test_tracker_never_puts_visual_forces_on_the_robot(pushed, scene_usd, demo_scene):
    from gwm.track.layers import render_layer
    from gwm.track.loop import run_tracker

    _, cams, _, stream = pushed
    tracker = _tracker(scene_usd, demo_scene, pushed)
    roles = tracker.bodies.body_roles
    assert all(roles[b] not in ("robot_link", "tool") for b in tracker.movable)
    # The background plate is not taken where the robot is: its colour there would stay behind once it moves.
    robot = [b for b, r in enumerate(roles) if r in ("robot_link", "tool")]
    none = torch.zeros(len(robot), 3)
    shown = render_layer(tracker.bodies.offset_bodies(tracker.all_poses(), none, none, torch.tensor(robot)),
                         cams, tracker.config.render_backend).alpha
    assert (shown > 0.5).sum() > 20 and not tracker.plate.free[shown > 0.5].any()
    result = run_tracker(tracker, stream.frames[:30], joints=stream.joints[:30])
    n = len(stream.body_names)
    assert np.abs(result.wrenches[:, n:]).max() == 0.0  # the links: none, ever
    assert np.abs(result.wrenches[:, :n]).max() > 0.0  # while the law did push the objects
    # The cube the fingers push moves by the twin's own physics: its friction is not the law's to compensate.
    pushed_cube = list(np.asarray(tracker.movable) - 1).index(stream.body_names.index(pushed[0].robot_push.body))
    assert not tracker._driven[pushed_cube]
    # A body the robot hides from every camera is left to its physics: asked to see more than all of each, none
    # is corrected.
    blind = _tracker(scene_usd, demo_scene, pushed, robot_visible_min=1.01)
    assert np.abs(run_tracker(blind, stream.frames[:30], joints=stream.joints[:30]).wrenches).max() == 0.0


def test_gwm_track_replays_a_robot_stream_with_its_joint_states(pushed, scene_usd, demo_scene, tmp_path):
    from benchmarks.tracking import write_test_stream
    from gwm.data.api import open_dataset
    from gwm.track.config import TrackerConfig
    from gwm.track.loop import run_tracker
    from gwm.track.stream import read_joint_states
    from sim_tasks.track_cli import track_stream

    _, _, _, stream = pushed
    folder = tmp_path / "demo_1cam_robot_push"
    command = write_test_stream(folder, stream, scene_usd)
    assert command.endswith(f"--joints {folder / 'joints.csv'}")
    np.testing.assert_array_equal(read_joint_states(folder / "joints.csv", len(stream.frames)), stream.joints)
    config = TrackerConfig(calibration_iterations=10, threads=1)
    track_stream(folder / "scene.usda", folder / "frames", folder / "frames" / "cameras.json", tmp_path / "out",
                 config, open_loop=False, joints=folder / "joints.csv")
    dataset = open_dataset(tmp_path / "out" / "dataset")
    n = len(stream.body_names)
    assert dataset.spec.body_names[1 + n:] == ("panda_link0", "panda_link1", "panda_link2", "panda_link3",
                                                "panda_link4", "panda_link5", "panda_link6", "panda_link7",
                                                "panda_leftfinger", "panda_rightfinger")
    assert set(dataset.spec.body_roles[1 + n:]) == {"robot_link", "tool"}
    tracked = dataset.episode(0)["observation.body_poses"][:, 1:]
    tracker = _tracker(scene_usd, demo_scene, pushed)
    np.testing.assert_allclose(tracked, run_tracker(tracker, stream.frames, joints=stream.joints).poses, atol=1e-5)


def test_robot_visibility_counts_what_the_links_hide(pushed, scene_usd, demo_scene):
    _, cams, _, _ = pushed
    tracker = _tracker(scene_usd, demo_scene, pushed, calibration_iterations=0)
    poses = tracker.all_poses()
    names = tracker.bodies.body_names
    links = [b for b, r in enumerate(tracker.bodies.body_roles) if r in ("robot_link", "tool")]
    away = poses.copy()
    away[links, :3] = [0.0, 0.0, -10.0]  # the robot out of every view
    np.testing.assert_array_equal(tracker._robot_visibility(away), np.ones(len(tracker.movable)))
    tray = names.index("tray")
    eye = cams.world_from_cam[0, :3, 3].double().numpy()
    hidden = away.copy()  # the links just in front of the tray, on the line of sight to it
    hidden[links, :3] = eye + 0.8 * (poses[tray, :3] - eye)  # every link there: the arm bunched up
    seen = dict(zip([names[b] for b in tracker.movable], tracker._robot_visibility(hidden)))
    assert seen["tray"] < 0.1 and seen["red_cube"] > 0.9, seen  # the cube, off to the side, still in sight

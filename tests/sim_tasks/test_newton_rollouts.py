"""The embedded simulator end to end: kinematics, control, determinism, scripted success,
rendering from body poses, recording and preview videos. One simulator is shared (conftest)."""

import numpy as np
import pytest
import torch

from sim_tasks.backend import make_action
from gwm.geometry import matrix_to_pose7, pose7_to_matrix
from sim_tasks.kinematics import rotation_error


def _poses(result, t):
    return result.frames["observation.body_poses"][t].astype(np.float64)


def test_newton_fk_matches_mujoco_on_the_flattened_mjcf(runner):
    """Tool pose from Newton's FK (robot placed at /World/RobotBase) vs MuJoCo's own compile of the MJCF."""
    import mujoco

    from sim_tasks.panda_model import TOOL_SITE, write_panda_mjcf

    be = runner.backend
    m = mujoco.MjModel.from_xml_path(str(write_panda_mjcf()))
    d = mujoco.MjData(m)
    site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, TOOL_SITE)
    base = runner.scene.robot_base.numpy()
    rng = np.random.default_rng(0)
    for _ in range(5):
        q = rng.uniform(be.ik.lower, be.ik.upper)
        tool, _ = be.ik.fk(q)
        d.qpos[:7] = q
        mujoco.mj_forward(m, d)
        expected = np.eye(4)
        expected[:3, :3] = d.site_xmat[site].reshape(3, 3)
        expected[:3, 3] = d.site_xpos[site]
        expected = base @ expected
        np.testing.assert_allclose(tool[:3, 3], expected[:3, 3], atol=2e-5)
        assert np.linalg.norm(rotation_error(expected[:3, :3], tool[:3, :3])) < 1e-4


def test_jacobian_matches_finite_differences(runner):
    """Central differences of FK (float32 in Warp, hence the 2e-3 rad step)."""
    ik = runner.backend.ik
    q = runner.backend.home_q + 0.1
    _, jac = ik.fk(q)
    eps = 2e-3
    for i in range(7):
        dq = np.zeros(7)
        dq[i] = eps
        plus, _ = ik.fk(q + dq)
        minus, _ = ik.fk(q - dq)
        np.testing.assert_allclose((plus[:3, 3] - minus[:3, 3]) / (2 * eps), jac[:3, i], atol=5e-4)
        np.testing.assert_allclose(rotation_error(plus[:3, :3], minus[:3, :3]) / (2 * eps), jac[3:, i], atol=5e-4)


def test_ik_reaches_targets_around_home(runner):
    be = runner.backend
    home = be.home_tool_pose()
    rng = np.random.default_rng(1)
    for _ in range(5):
        target = home.copy()
        target[:3, 3] += rng.uniform([-0.15, -0.2, -0.2], [0.15, 0.2, 0.05])
        q, pos_err, rot_err = be.ik.solve(be.home_q, target, max_iterations=100)
        tool, _ = be.ik.fk(q)
        assert np.linalg.norm(tool[:3, 3] - target[:3, 3]) < 1e-3
        assert np.linalg.norm(rotation_error(target[:3, :3], tool[:3, :3])) < 1e-2
        assert np.all(q >= be.ik.lower) and np.all(q <= be.ik.upper)


def test_arm_tracks_a_held_target(runner):
    """Gravity-compensated position servos settle on the IK solution: the tool ends within 3 mm."""
    be = runner.backend
    be.reset(0)
    target = matrix_to_pose7(be.home_tool_pose())
    target[:3] += [0.08, -0.05, -0.12]
    action = make_action(target[:3], target[3:], 0.08)
    for _ in range(30):  # 1.5 s
        obs = be.step(action)
    assert np.linalg.norm(obs["ee_pose"][:3] - target[:3]) < 3e-3
    assert np.linalg.norm(rotation_error(pose7_to_matrix(target)[:3, :3], pose7_to_matrix(obs["ee_pose"])[:3, :3])) < 0.01


def test_objects_rest_on_the_table_without_sinking(runner):
    be = runner.backend
    be.reset(0)
    start = be.body_poses()
    for _ in range(10):
        be.step(make_action(*np.split(be.ee_pose(), [3]), 0.08))
    end = be.body_poses()
    for name in be.object_names:
        i = be.body_names.index(name)
        assert abs(end[i, 2] - start[i, 2]) < 1e-3, f"{name} moved vertically by {end[i, 2] - start[i, 2]:.4f} m"


def test_fast_substeps_match_newton_stepping(runner):
    """The mj_step fast path against stepping every substep through SolverMuJoCo (the reference)."""
    be = runner.backend

    def run():
        inst = runner.task.sample(3)
        demo = runner.task.demonstrator(inst, be.body_names, be.control_dt)
        obs = be.reset(3, inst.object_poses)
        out = []
        for _ in range(30):  # approach + descend: arm motion and a tabletop at rest
            obs = be.step(demo.act(obs))
            out.append(obs["body_poses"])
        return np.stack(out)

    fast = run()
    be._fast_substeps = False
    try:
        reference = run()
    finally:
        be._fast_substeps = True
    np.testing.assert_allclose(fast[..., :3], reference[..., :3], atol=1e-3)
    assert np.abs(fast[..., 3:] - reference[..., 3:]).max() < 1e-2


def test_same_seed_gives_identical_trajectory_and_images(runner):
    a = runner.run_episode(5, max_steps=25)
    other = runner.run_episode(6, max_steps=25)
    b = runner.run_episode(5, max_steps=25)
    assert set(a.frames) == set(b.frames)
    for key in a.frames:
        np.testing.assert_array_equal(a.frames[key], b.frames[key], err_msg=key)
    assert not np.array_equal(a.frames["observation.body_poses"], other.frames["observation.body_poses"])
    assert not np.array_equal(a.frames["observation.images.scene"], other.frames["observation.images.scene"])


def test_pick_place_scripted_demo_succeeds(pick_place_episode):
    r = pick_place_episode
    assert r.success, f"phases {r.phase_log}, timeouts {r.timeouts}"
    assert r.frames["next.reward"][-1, 0] == 1.0
    assert r.frames["next.done"][-1, 0] and not r.frames["next.done"][:-1].any()
    phases = [p for _, p in r.phase_log]
    assert phases[:8] == ["approach", "descend", "grasp", "lift", "move", "place", "release", "retreat"]


@pytest.mark.parametrize("task,seed", [("pick_place", 11), ("pick_place_bowl", 0), ("pick_place_bowl", 4),
                                       ("push", 0), ("push", 3)])
def test_scripted_demos_succeed(runner, task, seed):
    r = runner.run_episode(seed, task=task, render=False)
    assert r.success, f"{task} seed {seed}: phases {r.phase_log}, timeouts {r.timeouts}"
    assert "observation.images.scene" not in r.frames


def test_rendered_object_follows_its_simulated_pose(runner, pick_place_episode):
    """Alpha-weighted image centre of the object's Gaussians = projection of its body position,
    and the red cube in the recorded camera images sits there too, before and after it moved."""
    from gwm.render import rasterize

    r = pick_place_episode
    renderer = runner.renderer
    name = r.instance.target_object
    i = runner.backend.body_names.index(name)
    canonical = renderer.canonical[name]
    centres, projected = [], []
    for t in range(0, r.num_frames, 15):
        pose = _poses(r, t)[i]
        cams = renderer.cameras(r.frames["observation.ee_pose"][t])[0:1]  # scene camera
        splats = canonical.transform(torch.tensor(pose7_to_matrix(pose), dtype=torch.float32))
        with torch.no_grad():
            alpha = rasterize(splats, cams, sh_degree=0).alpha[0, :, :, 0].numpy()
        ys, xs = np.mgrid[0:alpha.shape[0], 0:alpha.shape[1]] + 0.5
        centre = np.array([(alpha * xs).sum(), (alpha * ys).sum()]) / alpha.sum()
        uv, _ = cams.project(torch.tensor(pose[None, :3], dtype=torch.float32))
        centres.append(centre)
        projected.append(uv[0, 0].numpy())
    centres, projected = np.array(centres), np.array(projected)
    # A cube's silhouette centre is its projected centre up to perspective (< 1.5 px at 128 px).
    assert np.abs(centres - projected).max() < 1.5
    # lifted and carried, the object crosses the image (its end point can lie along the view direction)
    assert np.linalg.norm(projected - projected[0], axis=1).max() > 10, "the object should move across the image"

    def red_centroid(img):
        red = (img[..., 0] > 150) & (img[..., 1] < 90) & (img[..., 2] < 90)
        ys, xs = np.nonzero(red)
        return np.array([xs.mean() + 0.5, ys.mean() + 0.5])

    for t in (0, r.num_frames - 1):  # unoccluded: on the table before the grasp and after the retreat
        uv, _ = renderer.cameras(r.frames["observation.ee_pose"][t])[0:1].project(
            torch.tensor(_poses(r, t)[i][None, :3], dtype=torch.float32))
        np.testing.assert_allclose(red_centroid(r.frames["observation.images.scene"][t]), uv[0, 0].numpy(), atol=2.5)


def test_episode_preview_video(pick_place_episode):
    import imageio.v2 as imageio

    r = pick_place_episode
    assert r.video_path is not None and r.video_path.exists()
    frames = np.stack([f for f in imageio.get_reader(str(r.video_path))])  # (list() trips on len == inf)
    assert frames.shape == (r.num_frames, 128, 256, 3)
    expected = np.concatenate([r.frames["observation.images.scene"], r.frames["observation.images.wrist"]], axis=2)
    assert np.abs(frames.astype(float) - expected).mean() < 6.0  # H.264 is lossy


def test_depth_is_consistent_with_the_object_position(runner, pick_place_episode):
    r = pick_place_episode
    i = runner.backend.body_names.index(r.instance.target_object)
    cams = runner.renderer.cameras(r.frames["observation.ee_pose"][0])[0:1]
    uv, z = cams.project(torch.tensor(_poses(r, 0)[i][None, :3], dtype=torch.float32))
    u, v = (uv[0, 0].numpy()).astype(int)
    depth = r.frames["observation.depth.scene"][0, v, u, 0]
    # The visible surface is the cube's near face: up to half a diagonal (3.6 cm) in front of its centre.
    assert 0.0 < float(z[0, 0]) - depth < 0.045


def test_run_rollouts_records_a_dataset_with_gaussian_world_state(runner, scene_usd, pick_place_episode, tmp_path):
    import json

    from gwm.data import open_dataset
    from sim_tasks.rollout import run_rollouts

    summary = run_rollouts(scene_usd, "pick_place", [0], tmp_path / "ds", workers=1, runner=runner, progress=False)
    assert summary.success_rate == 1.0
    ds = open_dataset(summary.dataset_path)
    assert ds.num_episodes == 1
    assert ds.episode_info(0)["seed"] == 0 and ds.episode_info(0)["success"]
    ep = ds.episode(0)
    # Same seed as the fixture episode: the recorded data are identical (images pass through H.264).
    for key in ("observation.state", "observation.body_poses", "action", "observation.depth.scene"):
        np.testing.assert_array_equal(ep[key], pick_place_episode.frames[key], err_msg=key)
    assert np.abs(ep["observation.images.wrist"].astype(float)
                  - pick_place_episode.frames["observation.images.wrist"]).mean() < 6.0
    # The world state stored in the dataset is what the renderer drew.
    assert set(ds.body_names) == set(runner.backend.body_names)
    t = 80
    world = runner.renderer.world_gaussians(ep["observation.body_poses"][t])
    np.testing.assert_allclose(ds.gaussians_at(0, t).means.numpy(), world.means.numpy(), atol=1e-5)
    index = json.loads((tmp_path / "ds" / "rollouts.json").read_text())
    assert index["episodes"][0]["video"].endswith(".mp4")
    assert (tmp_path / "ds" / index["episodes"][0]["video"]).exists()
    meta = ds.metadata
    assert meta["format_version"] == 1 and meta["task"] == "pick_place" and "normalisation" in meta
    # Roles and cameras are typed fields of the spec: from the scene (USD) and the camera rig.
    roles = ds.body_roles
    assert [roles[n] for n in ("background", "red_cube", "blue_block", "tray")] == ["background", "object", "object",
                                                                                    "container"]
    assert roles["panda_link7"] == "robot_link" and roles["panda_leftfinger"] == roles["panda_rightfinger"] == "tool"
    scene_cam, wrist = ds.cameras
    assert (scene_cam.mount, wrist.mount) == ("world", "ee")
    posed = runner.renderer.cameras(ep["observation.ee_pose"][t].astype(np.float64))
    world_from_ee = torch.tensor(pose7_to_matrix(ep["observation.ee_pose"][t].astype(np.float64)), dtype=torch.float32)
    torch.testing.assert_close(scene_cam.world_from_cam(), posed.world_from_cam[0])
    torch.testing.assert_close(wrist.world_from_cam(world_from_ee), posed.world_from_cam[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(wrist.K), posed.Ks[1])


@pytest.mark.slow
def test_parallel_rollouts_match_in_process_episodes(scene_usd, pick_place_episode, tmp_path):
    """Two worker processes, each with its own simulator: episodes come back in seed order and
    equal the in-process episode of the same seed (determinism across processes)."""
    from gwm.data import open_dataset
    from sim_tasks.rollout import RolloutConfig, run_rollouts

    summary = run_rollouts(scene_usd, "pick_place", [0, 1], tmp_path / "par", workers=2,
                           config=RolloutConfig(save_videos=False), progress=False)
    ds = open_dataset(summary.dataset_path)
    assert [ds.episode_info(i)["seed"] for i in range(2)] == [0, 1]
    np.testing.assert_array_equal(ds.episode(0)["observation.body_poses"],
                                  pick_place_episode.frames["observation.body_poses"])


def test_replaying_recorded_actions_reproduces_the_recorded_poses(runner, scene_usd, tmp_path):
    from gwm.data import open_dataset
    from sim_tasks.replay import SimulatorReplay
    from sim_tasks.rollout import run_rollouts

    summary = run_rollouts(scene_usd, "push", [3], tmp_path / "ds", workers=1, runner=runner, progress=False)
    ds = open_dataset(summary.dataset_path)
    ep = ds.episode(0)
    replay = SimulatorReplay(scene_usd, ds, backend=runner.backend)
    start, n = 40, 30
    poses = replay(0, start, ep["action"][start:start + n])
    # after action t the state is recorded frame t + 1
    np.testing.assert_array_equal(poses[:-1], ep["observation.body_poses"][start + 1:start + n])
    # the memoised whole-episode replay agrees with a fresh simulation from `start`
    fresh = replay._simulate(0, ep["action"], start, ep["action"][start:start + n])
    np.testing.assert_array_equal(fresh, poses)
    # other actions give other poses: the replay really simulates
    moved = replay(0, start, ep["action"][start:start + n] + np.array([0, 0, 0.05, 0, 0, 0, 0, 0], np.float32))
    assert np.abs(moved - poses).max() > 1e-3

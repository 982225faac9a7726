"""Batched rollouts (sim_tasks/newton_batch.py, BatchTaskRunner): several worlds in one Newton model.

On the CPU (MuJoCo C) the copies share one MjModel, so a world's physics differs from the batch-of-1
physics by rounding (float32 world offsets, MuJoCo's joint solve over all worlds): measured on
seeds 0-1, body poses within 1 mm and velocities within 5e-3 over a 150-step pick_place episode.
The tests allow 5 mm / the same success.
"""

import numpy as np
import pytest

from sim_tasks.rendering import CameraConfig
from sim_tasks.rollout import BatchTaskRunner, RolloutConfig

POSE_TOLERANCE = 5e-3  # m, and quaternion components
SEEDS = [3, 4]
CONFIG = RolloutConfig(cameras=CameraConfig(width=32, height=32), save_videos=False)


@pytest.fixture(scope="module")
def batch1(scene_usd):
    return BatchTaskRunner(scene_usd, "pick_place", CONFIG, batch=1)


@pytest.fixture(scope="module")
def batch2(scene_usd):
    return BatchTaskRunner(scene_usd, "pick_place", CONFIG, batch=2)


@pytest.fixture(scope="module")
def episodes(batch1, batch2):
    """(batch of 2 over SEEDS, each seed as a batch of 1), physics only."""
    return batch2.run_batch(SEEDS, render=False), [batch1.run_batch([s], render=False)[0] for s in SEEDS]


def test_a_seed_in_a_batch_of_two_matches_its_batch_of_one_episode(episodes):
    together, alone = episodes
    for a, b in zip(together, alone):
        assert a.seed == b.seed and a.success == b.success
        assert a.success  # pick_place succeeds on these seeds in the demo scene
        assert a.frames.keys() == b.frames.keys()
        for key in ("observation.body_poses", "observation.ee_pose", "action"):
            np.testing.assert_allclose(a.frames[key], b.frames[key], atol=POSE_TOLERANCE, err_msg=key)
        np.testing.assert_array_equal(a.frames["next.reward"], b.frames["next.reward"])
    # The two worlds ran different seeds: different layouts, not copies of one episode.
    assert not np.allclose(together[0].frames["observation.body_poses"][0], together[1].frames["observation.body_poses"][0])


def test_a_repeated_batch_gives_identical_episodes(batch2, episodes):
    again = batch2.run_batch(SEEDS, render=False)
    for a, b in zip(episodes[0], again):
        for key in a.frames:
            np.testing.assert_array_equal(a.frames[key], b.frames[key], err_msg=key)
        assert a.phase_log == b.phase_log


def test_the_batch_of_one_is_the_single_world_simulation(scene_usd, batch1, episodes):
    """World 0 sits at the origin: a batch of 1 steps exactly what NewtonBackend steps."""
    from sim_tasks.rollout import TaskRunner

    single = TaskRunner(scene_usd, "pick_place", RolloutConfig(cameras=None))
    ref = single.run_episode(SEEDS[0], render=False, max_steps=60)
    got = batch1.run_batch([SEEDS[0]], render=False, max_steps=60)[0]
    for key in ref.frames:
        np.testing.assert_array_equal(ref.frames[key], got.frames[key], err_msg=key)


def test_a_batch_renders_each_world_as_the_single_world_renderer(batch2):
    """All worlds' cameras are rendered in one call; each world's images are what render() gives for its poses."""
    results = batch2.run_batch(SEEDS, max_steps=12)
    for r in results:
        for t in (0, 11):
            alone = batch2.renderer.render(r.frames["observation.body_poses"][t], r.frames["observation.ee_pose"][t])
            for name in ("scene", "wrist"):
                got = r.frames[f"observation.images.{name}"][t].astype(int)
                # the recorded poses are float32 copies of the simulator's: at most one level apart
                assert np.abs(got - alone[name].astype(int)).max() <= 1, (r.seed, t, name)
    assert not np.array_equal(results[0].frames["observation.images.scene"][0],
                              results[1].frames["observation.images.scene"][0])
    assert results[0].timings["render"] > 0


def test_resetting_one_world_leaves_the_others_alone(batch2):
    be = batch2.backend
    task = batch2.task
    for w, seed in enumerate(SEEDS):
        be.reset(w, seed, task.sample(seed).object_poses)
    hold = [be.hold_action(w) for w in range(2)]
    push = hold[0].copy()
    push[0] += 0.05  # world 0 moves, world 1 holds
    for _ in range(5):
        be.step([push, hold[1]])
    before = be.observe(1)
    dofs1 = be._mj_dofs[1]
    warm1 = be.solver.mj_data.qacc_warmstart[dofs1].copy()
    assert np.abs(be.solver.mj_data.qacc_warmstart[be._mj_dofs[0]]).max() > 0
    be.reset(0, 11, task.sample(11).object_poses)
    after = be.observe(1)
    for key in before:
        np.testing.assert_array_equal(before[key], after[key], err_msg=key)
    np.testing.assert_array_equal(be.solver.mj_data.qacc_warmstart[dofs1], warm1)
    assert not be.solver.mj_data.qacc_warmstart[be._mj_dofs[0]].any()  # world 0 starts cold, as NewtonBackend.reset
    # World 0 is back at home with seed 11's layout.
    np.testing.assert_allclose(be.joint_state(0)[0][:7], be.home_q, atol=1e-6)
    obj = task.sample(11).object_poses
    name = next(iter(obj))
    np.testing.assert_allclose(be.body_poses(0)[be.body_names.index(name), :3], obj[name][:3], atol=1e-5)


def test_run_rollouts_with_a_batch_records_the_same_dataset(scene_usd, batch1, batch2, tmp_path):
    """Three seeds in batches of 2 (the last batch has an idle world): episodes in seed order, in the
    format a batch-of-1 run writes, each within tolerance of its batch-of-1 episode."""
    from gwm.data import open_dataset
    from sim_tasks.rollout import run_rollouts

    seeds = [5, 6, 7]
    summary = run_rollouts(scene_usd, "pick_place", seeds, tmp_path / "ds", workers=1, progress=False,
                           runner=batch2, batch=2)
    ds = open_dataset(summary.dataset_path)
    assert [ds.episode_info(i)["seed"] for i in range(ds.num_episodes)] == seeds
    assert [e["seed"] for e in summary.episodes] == seeds
    assert batch2.dataset_spec().to_dict() == batch1.dataset_spec().to_dict()
    ep = ds.episode(2)
    alone = batch1.run_batch([7], render=False)[0]
    assert ds.episode_info(2)["success"] == alone.success
    np.testing.assert_allclose(ep["observation.body_poses"], alone.frames["observation.body_poses"], atol=POSE_TOLERANCE)
    assert ep["observation.images.scene"].shape == (len(ep["action"]), 32, 32, 3)


def test_bad_batch_input_is_refused_with_a_clear_message(scene_usd, batch1, batch2, tmp_path):
    from sim_tasks.newton_batch import check_batch_size
    from sim_tasks.rollout import run_rollouts

    for bad in (0, -2, 1.5, "2", True):
        with pytest.raises(ValueError, match="batch size"):
            check_batch_size(bad)
    with pytest.raises(ValueError, match="batch size"):
        BatchTaskRunner(scene_usd, "pick_place", CONFIG, batch=0)
    with pytest.raises(ValueError, match="batch size"):
        run_rollouts(scene_usd, "pick_place", [0], tmp_path / "x", workers=1, batch=0)
    with pytest.raises(ValueError, match="runner given steps 2"):
        run_rollouts(scene_usd, "pick_place", [0], tmp_path / "x", workers=1, runner=batch2, batch=3)
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="1..2 seeds"):
        batch2.run_batch([0, 1, 2])
    with pytest.raises(ValueError, match="one action per world"):
        batch2.backend.step([batch2.backend.hold_action(0)])
    with pytest.raises(ValueError, match="world must be an integer in 0..1"):
        batch2.backend.reset(2, 0)

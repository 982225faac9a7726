"""Isaac Lab smoke test: a few scripted episodes in the Isaac Lab env (the Isaac Lab venv's python, as a
subprocess), recorded by Isaac Lab's recorder; the HDF5 is loaded back here and by robomimic's SequenceDataset.

Needs .venv-isaaclab (`make isaaclab-venv`; .ci/run builds it). Skipped where it is absent, except in CI
(CI=true), where a missing venv is a failure.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from sim_tasks.isaaclab_crosscheck import isaaclab_python, run_isaaclab_cli


@pytest.fixture(scope="session")
def isaaclab_venv():
    """Skip without the Isaac Lab venv (before any other fixture is built); fail in CI."""
    py = isaaclab_python()
    if not py.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{py} is missing in CI: .ci/run must build it (make isaaclab-venv)")
        pytest.skip(f"Isaac Lab venv absent ({py}); build it with `make isaaclab-venv`")
    return py


@pytest.fixture(scope="module")
def isaaclab_run(isaaclab_venv, tmp_path_factory):
    out = tmp_path_factory.mktemp("isaaclab")
    # export mode: succeeded_only (the default)
    run_isaaclab_cli(["record", "--task", "pick_place", "--seeds", "0-1", "--num-envs", "2", "--out", str(out)],
                     timeout=1800)
    return out, json.loads((out / "results.json").read_text())


@pytest.mark.slow
def test_isaaclab_records_demos_with_their_success_flags(isaaclab_run):
    import h5py

    out, summary = isaaclab_run
    assert sorted(r["seed"] for r in summary["results"]) == [0, 1]
    path = Path(summary["hdf5"])
    succeeded = {r["seed"]: r for r in summary["results"] if r["success"]}
    with h5py.File(path, "r") as f:
        assert int(f.attrs["format_version"]) == 1  # Isaac Lab 3: quaternions x, y, z, w
        demos = sorted(f["data"].keys(), key=lambda n: int(n.split("_")[1]))
        # succeeded_only: exactly the successful episodes, each flagged success=True, with its seed
        assert sorted(int(f["data"][d].attrs["seed"]) for d in demos) == sorted(succeeded)
        assert all(bool(f["data"][d].attrs["success"]) for d in demos)
        for d in demos:
            g = f["data"][d]
            n = int(g.attrs["num_samples"])
            # the success term ended the episode: as many samples as the demonstrator's steps, <= max_steps
            assert n == succeeded[int(g.attrs["seed"])]["steps"] <= 150
            assert g["actions"].shape == (n, 8)
            assert g["obs/joint_pos"].shape == (n, 9) and g["next_obs/object_poses"].shape[0] == n
            assert g["rewards"].shape[0] == n and g["dones"].shape[0] == n
            assert bool(np.asarray(g["dones"])[-1]) and not np.asarray(g["dones"])[:-1].any()
            assert np.asarray(g["rewards"])[-1] > 0 and (np.asarray(g["rewards"])[:-1] <= 0).all()  # success reward
            # the object poses observed are xyzw quaternions of unit length
            q = np.asarray(g["next_obs/object_poses"]).reshape(n, -1, 7)[..., 3:]
            np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-4)
            # actions are IK targets in the robot base frame (x, y, z, quat xyzw, gripper +-1)
            a = np.asarray(g["actions"])
            np.testing.assert_allclose(np.linalg.norm(a[:, 3:7], axis=1), 1.0, atol=1e-4)
            assert set(np.unique(a[:, 7])) <= {-1.0, 1.0}
    assert summary["successes"] >= 1


@pytest.mark.slow
def test_gwm_reads_and_converts_the_isaaclab_file(isaaclab_run, tmp_path):
    from gwm.data.api import check_dataset, convert_dataset, open_dataset

    _, summary = isaaclab_run
    path = Path(summary["hdf5"])
    s = check_dataset(path)
    assert s["episodes"] == summary["successes"]
    dst = convert_dataset(path, tmp_path / "lerobot", to="lerobot")
    back = open_dataset(dst)
    src = open_dataset(path)
    assert back.num_episodes == src.num_episodes
    np.testing.assert_allclose(back.episode(0)["action"], src.episode(0)["action"], atol=1e-6)


# Runs in the Isaac Lab venv (robomimic 0.3.0 is installed there --no-deps; it needs only torch, h5py,
# numpy, termcolor): robomimic's own SequenceDataset, as a training script would open the file.
ROBOMIMIC_LOAD = """
import json, sys
import numpy as np
import robomimic.utils.obs_utils as ObsUtils
from robomimic.utils.dataset import SequenceDataset
keys = ["joint_pos", "ee_pose", "object_poses"]
ObsUtils.initialize_obs_modality_mapping_from_dict({"low_dim": keys})
ds = SequenceDataset(hdf5_path=sys.argv[1], obs_keys=keys, dataset_keys=("actions", "rewards", "dones"),
                     load_next_obs=True, frame_stack=1, seq_length=10, pad_frame_stack=True, pad_seq_length=True,
                     get_pad_mask=False, goal_mode=None, hdf5_cache_mode="low_dim", hdf5_use_swmr=True,
                     hdf5_normalize_obs=False, filter_by_attribute=None)
last = ds[len(ds) - 1]  # the last demo's last step: the sequence is padded with it
first = ds[0]
print(json.dumps({"demos": list(ds.demos), "len": len(ds),
                  "first": {k: np.asarray(first[k]).tolist() for k in ("actions", "rewards", "dones")},
                  "first_obs": {k: np.asarray(v).tolist() for k, v in first["obs"].items()},
                  "last_next_obs": np.asarray(last["next_obs"]["object_poses"]).tolist(),
                  "last_actions": np.asarray(last["actions"]).tolist()}))
"""


@pytest.mark.slow
def test_robomimic_sequence_dataset_opens_the_isaaclab_file(isaaclab_run, isaaclab_venv):
    import subprocess

    import h5py

    _, summary = isaaclab_run
    path = Path(summary["hdf5"])
    done = subprocess.run([str(isaaclab_venv), "-c", ROBOMIMIC_LOAD, str(path)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    with h5py.File(path, "r") as f:
        demos = sorted(f["data"].keys(), key=lambda n: int(n.split("_")[1]))
        lengths = [int(f["data"][d].attrs["num_samples"]) for d in demos]
        assert got["demos"] == demos and len(demos) == summary["successes"] >= 1
        assert got["len"] == sum(lengths)  # one padded sequence per step of every demo
        g = f["data"][demos[0]]
        np.testing.assert_allclose(got["first"]["actions"], g["actions"][:10], atol=1e-6)
        np.testing.assert_allclose(got["first"]["rewards"], g["rewards"][:10], atol=1e-6)
        for k in ("joint_pos", "ee_pose", "object_poses"):
            np.testing.assert_allclose(got["first_obs"][k], g["obs"][k][:10], atol=1e-6)
        # the last sequence starts at the last step and is padded by repeating it
        g = f["data"][demos[-1]]
        np.testing.assert_allclose(got["last_actions"], np.repeat(g["actions"][-1:], 10, 0), atol=1e-6)
        np.testing.assert_allclose(got["last_next_obs"], np.repeat(g["next_obs/object_poses"][-1:], 10, 0), atol=1e-6)


@pytest.mark.slow
def test_cpu_graph_replay_steps_as_eager_launches_do(isaaclab_run, scene_usd, tmp_path):
    """The physics step replayed as a Warp CPU graph (the default) moves the objects exactly as Isaac Lab's
    own eager kernel launches do: a recorded demo's first 50 actions (approach, grasp, lift) replayed both ways,
    at 10 ms x 5 physics steps per action (5x fewer than the default 2 ms x 25: the eager run is the slow one)."""
    import h5py

    from sim_tasks.isaaclab_spec import build_isaaclab_spec, from_isaaclab_action

    _, summary = isaaclab_run
    base = build_isaaclab_spec(scene_usd, "pick_place").robot_base
    with h5py.File(summary["hdf5"], "r") as f:
        g = f["data"][sorted(f["data"].keys())[0]]
        seed, isaac_actions = int(g.attrs["seed"]), np.asarray(g["actions"][:50])
    npz = tmp_path / "actions.npz"
    np.savez(npz, seed=seed, actions=np.array([from_isaaclab_action(a, base) for a in isaac_actions]))
    poses = {}
    for mode, flags in (("graph", []), ("eager", ["--no-cpu-graph"])):
        out = tmp_path / mode
        run_isaaclab_cli(["replay", "--task", "pick_place", "--scene", str(scene_usd), "--actions", str(npz),
                          "--out", str(out), "--physics-dt", "0.01", "--decimation", "5", *flags], timeout=900)
        poses[mode] = np.array(json.loads((out / "replay.json").read_text())["object_poses"])
    assert poses["graph"].shape == (51, 3, 7)
    assert np.abs(poses["graph"][-1, :, :3] - poses["graph"][0, :, :3]).max() > 0.02  # the grasped object moved
    np.testing.assert_array_equal(poses["graph"], poses["eager"])


@pytest.mark.slow
def test_contact_buffer_overflow_is_one_clear_error(isaaclab_venv, scene_usd, tmp_path):
    """Too few contact slots: MuJoCo Warp would drop contacts silently; the run stops with one line instead."""
    import subprocess

    from sim_tasks.isaaclab_crosscheck import REPO

    done = subprocess.run([str(isaaclab_venv), "-m", "sim_tasks.isaaclab_cli", "record", "--task", "pick_place",
                           "--scene", str(scene_usd), "--seeds", "0", "--nconmax", "2", "--out", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO), "OMP_WAIT_POLICY": "PASSIVE",
                               "WARP_CACHE_PATH": str(isaaclab_venv.parent.parent / "warp-cache")})
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: MuJoCo Warp buffers overflowed") and "--nconmax" in last, last
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_same_actions_same_object_poses_as_the_embedded_sim(isaaclab_venv, runner, scene_usd, tmp_path):
    """The embedded simulator's scripted pick_place (seed 0) replayed open-loop in the Isaac Lab env
    (same scene USD, same MJCF robot, same 2 ms x 25 stepping; Newton 1.6.1 + MuJoCo Warp vs Newton
    1.8 + MuJoCo C): the grasped object ends within 2 cm, untouched objects stay within 2 mm."""
    from sim_tasks.isaaclab_crosscheck import MOVED_TOL, STILL_TOL, crosscheck

    assert (MOVED_TOL, STILL_TOL) == (0.02, 0.002)
    res = crosscheck(runner, str(scene_usd), "pick_place", 0, tmp_path)
    assert res["embedded_success"]
    assert res["target_final_err_m"] <= 0.02, res
    assert res["others_max_err_m"] <= 0.002, res

"""lerobot -> hdf5 -> lerobot keeps every array, episode record and Gaussian."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from gwm.data import DatasetError, convert_dataset, merge_datasets, open_dataset
from gwm.data.cli import app
from tests.data.conftest import record


def _same(a, b):
    assert a.num_episodes == b.num_episodes
    assert a.spec.same_as(b.spec)
    for e in range(a.num_episodes):
        assert a.episode_info(e) == b.episode_info(e)
        assert a.frame_tasks(e) == b.frame_tasks(e)
        ea, eb = a.episode(e), b.episode(e)
        for key in a.spec.features:
            np.testing.assert_array_equal(ea[key], eb[key], err_msg=f"episode {e} {key}")
    ga, gb = a.canonical_gaussians(), b.canonical_gaussians()
    assert set(ga) == set(gb)
    for body in ga:
        assert torch.equal(ga[body].sh, gb[body].sh) and torch.equal(ga[body].quats_wxyz, gb[body].quats_wxyz)


def test_round_trip_lerobot_hdf5_lerobot(tmp_path, spec, episodes, gaussians):
    tasks = [["reach"] * 4 + ["grasp"] * 8, ["grasp"] * 9, ["place"] * 14]
    src = record(tmp_path / "src", spec, "lerobot", episodes, image_format="png", tasks=tasks, gaussians=gaussians)
    mid = convert_dataset(src, tmp_path / "mid", "hdf5")
    result = CliRunner().invoke(app, ["convert", str(mid), str(tmp_path / "back"), "--to", "lerobot",
                                      "--image-format", "png"])
    assert result.exit_code == 0, result.output
    a, m, b = open_dataset(src), open_dataset(mid), open_dataset(tmp_path / "back")
    assert (a.format, m.format, b.format) == ("lerobot", "hdf5", "lerobot")
    _same(a, m)
    _same(a, b)
    assert b.metadata["normalisation"] == np.eye(4).tolist()
    torch.testing.assert_close(a.gaussians_at(2, 3).means, b.gaussians_at(2, 3).means, rtol=0, atol=0)


def test_convert_refuses_a_non_empty_destination(tmp_path, spec, episodes):
    src = record(tmp_path / "src", spec, "lerobot", episodes[:1], image_format="png")
    dst = record(tmp_path / "dst", spec, "hdf5", episodes[:1])
    with pytest.raises(DatasetError, match="convert into an empty folder"):
        convert_dataset(src, dst.parent, "hdf5")
    result = CliRunner().invoke(app, ["convert", str(src), str(tmp_path / "x"), "--to", "zarr"])
    assert result.exit_code == 2 and "--to must be one of" in result.output


def test_foreign_robomimic_file_converts_to_lerobot(tmp_path):
    """A plain robomimic HDF5 (no gwm attributes) is read with an inferred spec and converts."""
    import h5py

    rng = np.random.default_rng(0)
    path = tmp_path / "robomimic.hdf5"
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["env_args"] = '{"env_name": "Lift", "type": 1, "env_kwargs": {}}'
        total = 0
        for k, n in enumerate((5, 7)):
            g = data.create_group(f"demo_{k}")
            g.attrs["num_samples"] = n
            g["actions"] = rng.normal(size=(n, 7))
            g["obs/robot0_eef_pos"] = rng.normal(size=(n, 3))
            g["obs/agentview_image"] = rng.integers(0, 255, size=(n, 8, 8, 3), dtype=np.uint8)
            g["rewards"] = np.zeros(n)
            g["dones"] = np.eye(n)[-1].astype(np.int64)
            total += n
        data.attrs["total"] = total
    ds = open_dataset(path)
    assert set(ds.spec.features) == {"action", "observation.robot0_eef_pos", "observation.images.agentview_image",
                                     "next.reward", "next.done"}
    assert ds.episode_info(1) == {"success": False, "seed": -1, "task": "Lift", "length": 7}
    out = open_dataset(convert_dataset(path, tmp_path / "lr", "lerobot", image_format="png"))
    _same(ds, out)


def test_merge_joins_shards_in_order(tmp_path, spec, episodes, gaussians):
    a = record(tmp_path / "a", spec, "lerobot", episodes[:2], image_format="png", gaussians=gaussians)
    b = record(tmp_path / "b", spec, "lerobot", episodes[2:], image_format="png", gaussians=gaussians)
    whole = record(tmp_path / "whole", spec, "lerobot", episodes, image_format="png", gaussians=gaussians)
    merged = open_dataset(merge_datasets([a, b], tmp_path / "merged", "lerobot", image_format="png"))
    shards, ref = [open_dataset(a), open_dataset(b)], open_dataset(whole)
    assert [merged.episode_info(e)["seed"] for e in range(merged.num_episodes)] == [
        s.episode_info(e)["seed"] for s in shards for e in range(s.num_episodes)]
    assert merged.num_episodes == ref.num_episodes == len(episodes)
    for e in range(ref.num_episodes):
        for key in ref.spec.features:
            np.testing.assert_array_equal(ref.episode(e)[key], merged.episode(e)[key], err_msg=f"{e} {key}")
    assert torch.equal(merged.gaussians_at(1, 2).means, ref.gaussians_at(1, 2).means)


def test_merge_refuses_different_specs(tmp_path, spec, episodes):
    from tests.data.conftest import make_episode, make_spec

    other = make_spec(cameras=2)
    a = record(tmp_path / "a", spec, "lerobot", episodes[:1], image_format="png")
    b = record(tmp_path / "b", other, "lerobot", [make_episode(other, 5, 0)], image_format="png")
    with pytest.raises(DatasetError, match="only datasets recorded with the same spec can be merged"):
        merge_datasets([a, b], tmp_path / "m", "lerobot")

"""Write episodes, read them back: identical arrays (PNG, HDF5), codec tolerance (mp4); exact Gaussians."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from gwm.data import open_dataset
from gwm.geometry import pose7_wxyz_to_xyzw, pose_to_matrix
from gwm.splats import GaussianSplats
from tests.data.conftest import BODIES, psnr, record, stack

CASES = [("lerobot", "png"), ("lerobot", "video"), ("hdf5", "png")]


@pytest.fixture(scope="module", params=CASES, ids=[f"{f}-{i}" for f, i in CASES])
def written(request, tmp_path_factory, spec, episodes, gaussians):
    fmt, image_format = request.param
    root = tmp_path_factory.mktemp(f"{fmt}_{image_format}")
    path = record(root, spec, fmt, episodes, image_format=image_format, gaussians=gaussians)
    return fmt, image_format, path


def test_arrays_round_trip(written, spec, episodes):
    fmt, image_format, path = written
    ds = open_dataset(path)
    assert ds.format == fmt
    assert ds.num_episodes == len(episodes)
    assert ds.num_frames == sum(len(e) for e in episodes)
    assert ds.spec.same_as(spec)
    for e, frames in enumerate(episodes):
        ref = stack(frames)
        got = ds.episode(e)
        assert set(got) == set(spec.features)
        for key, ft in spec.features.items():
            assert got[key].dtype == ft.numpy_dtype, key
            assert got[key].shape == ref[key].shape, key
            if ft.is_image and image_format == "video":
                # H.264 crf 18, yuv420p: chroma subsampling of a 48x32 image with a sharp disc costs most
                assert psnr(got[key], ref[key]) > 30.0, key
            else:
                np.testing.assert_array_equal(got[key], ref[key], err_msg=key)
        info = ds.episode_info(e)
        assert info == {"success": e % 2 == 0, "seed": 100 + e, "task": "put the cube in the bowl",
                        "length": len(frames)}


def test_gaussians_at_is_exact(written, episodes, gaussians):
    _, _, path = written
    ds = open_dataset(path)
    assert ds.body_names == BODIES
    stored = ds.canonical_gaussians()
    for body in BODIES:  # canonical Gaussians are stored losslessly
        for name in ("means", "quats_wxyz", "log_scales", "logit_opacities", "sh"):
            assert torch.equal(getattr(stored[body], name), getattr(gaussians[body], name)), (body, name)
    for e, t in [(0, 0), (1, 8), (2, 5)]:
        poses = torch.from_numpy(episodes[e][t]["observation.body_poses"])
        mats = pose_to_matrix(poses[:, :3], poses[:, 3:])
        want = GaussianSplats.cat([gaussians[b].transform(mats[i]) for i, b in enumerate(BODIES)])
        got = ds.gaussians_at(e, t)
        # the reader poses through the batched gwm.body_gaussians path: equal up to float32 rounding
        torch.testing.assert_close(got.means, want.means, atol=1e-6, rtol=0)
        same_rotation = (got.unit_quats_wxyz * want.unit_quats_wxyz).sum(-1).abs()  # q and -q: one rotation
        torch.testing.assert_close(same_rotation, torch.ones_like(same_rotation), atol=1e-6, rtol=0)
        torch.testing.assert_close(got.sh, want.sh, atol=1e-5, rtol=0)
        for name in ("log_scales", "logit_opacities"):
            assert torch.equal(getattr(got, name), getattr(want, name)), name
    with pytest.raises(IndexError):
        ds.gaussians_at(0, 12)


def test_gaussians_at_places_bodies(tmp_path, spec, gaussians):
    """Independent of the transform code path: a known pose moves the body's means as expected."""
    from tests.data.conftest import make_episode

    frames = make_episode(spec, 2, seed=7)
    s = np.sqrt(0.5)  # 90 degrees about z: (x, y) -> (-y, x)
    frames[1]["observation.body_poses"] = np.array([[1, 2, 3, s, 0, 0, s], [0, 0, 0, 1, 0, 0, 0]], np.float32)
    for fmt in ("lerobot", "hdf5"):
        ds = open_dataset(record(tmp_path / fmt, spec, fmt, [frames], gaussians=gaussians))
        g = ds.gaussians_at(0, 1)
        n0 = len(gaussians["cube"])
        m = gaussians["cube"].means
        want = torch.stack([1 - m[:, 1], 2 + m[:, 0], 3 + m[:, 2]], 1)
        torch.testing.assert_close(g.means[:n0], want, atol=1e-6, rtol=0)
        torch.testing.assert_close(g.means[n0:], gaussians["bowl"].means, atol=0, rtol=0)


def test_lerobot_layout(tmp_path, spec, episodes, gaussians):
    root = record(tmp_path / "lr", spec, "lerobot", episodes, image_format="video", gaussians=gaussians)
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (3, 35, 1)
    assert info["splits"] == {"train": "0:3"} and info["chunks_size"] == 1000
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    feats = info["features"]
    assert feats["observation.images.cam0"]["dtype"] == "video"
    assert feats["observation.images.cam0"]["shape"] == [32, 48, 3]
    assert feats["observation.images.cam0"]["names"] == ["height", "width", "channels"]
    assert feats["observation.body_poses"] == {"dtype": "float32", "shape": [2, 7], "names": None}
    for k, d in (("timestamp", "float32"), ("frame_index", "int64"), ("episode_index", "int64"),
                 ("index", "int64"), ("task_index", "int64")):
        assert feats[k] == {"dtype": d, "shape": [1], "names": None}

    eps = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [r["episode_index"] for r in eps] == [0, 1, 2]
    assert [(r["dataset_from_index"], r["dataset_to_index"]) for r in eps] == [(0, 12), (12, 21), (21, 35)]
    assert [(r["data/chunk_index"], r["data/file_index"]) for r in eps] == [(0, 0), (0, 1), (0, 2)]
    assert eps[1]["videos/observation.images.cam0/from_timestamp"] == 0.0
    assert eps[1]["videos/observation.images.cam0/to_timestamp"] == pytest.approx(9 / 15)
    assert eps[0]["tasks"] == ["put the cube in the bowl"]
    assert (root / "videos/observation.images.cam0/chunk-000/file-002.mp4").is_file()

    data = pq.read_table(root / "data/chunk-000/file-001.parquet")
    assert data.column("index").to_pylist() == list(range(12, 21))
    assert data.column("frame_index").to_pylist() == list(range(9))
    np.testing.assert_allclose(data.column("timestamp").to_numpy(), np.arange(9) / 15, atol=1e-6)
    assert "observation.images.cam0" not in data.column_names  # frames live in the mp4
    schema = data.schema
    state_type = schema.field("observation.state").type
    assert pa.types.is_fixed_size_list(state_type) and state_type.list_size == 9
    assert state_type.value_type == pa.float32()
    assert str(schema.field("next.done").type) == "bool"
    hf = json.loads(schema.metadata[b"huggingface"])["info"]["features"]
    assert hf["observation.body_poses"] == {"shape": [2, 7], "dtype": "float32", "_type": "Array2D"}

    tasks = pq.read_table(root / "meta/tasks.parquet")
    assert tasks.column("task").to_pylist() == ["put the cube in the bowl"]
    assert tasks.column("task_index").to_pylist() == [0]
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["task"]

    stats = json.loads((root / "meta/stats.json").read_text())
    all_actions = np.concatenate([stack(e)["action"] for e in episodes])
    np.testing.assert_allclose(stats["action"]["mean"], all_actions.mean(0), atol=1e-6)
    np.testing.assert_allclose(stats["action"]["std"], all_actions.std(0), atol=1e-6)
    np.testing.assert_allclose(stats["action"]["min"], all_actions.min(0), atol=1e-7)
    assert stats["action"]["count"] == [35]
    assert np.array(stats["observation.images.cam0"]["mean"]).shape == (3, 1, 1)
    assert {"q01", "q10", "q50", "q90", "q99"} <= set(stats["action"])
    assert (root / "meta/gaussians/cube.ply").is_file()


def test_hdf5_layout(tmp_path, spec, episodes, gaussians):
    path = record(tmp_path / "h5", spec, "hdf5", episodes, gaussians=gaussians)
    with h5py.File(path, "r") as f:
        assert f.attrs["format_version"] == 1 and f.attrs["quaternion_order"] == "xyzw"
        data = f["data"]
        assert data.attrs["total"] == 35
        env_args = json.loads(data.attrs["env_args"])
        assert {"env_name", "type", "env_kwargs"} <= set(env_args)
        assert sorted(data.keys()) == ["demo_0", "demo_1", "demo_2"]
        d1 = data["demo_1"]
        assert (d1.attrs["num_samples"], d1.attrs["seed"], bool(d1.attrs["success"])) == (9, 101, False)
        ref = stack(episodes[1])
        np.testing.assert_array_equal(d1["actions"][()], ref["action"])
        np.testing.assert_array_equal(d1["obs/state"][()], ref["observation.state"])
        # pose quaternions are x, y, z, w on disk (Isaac Lab 3 format_version 1)
        np.testing.assert_array_equal(d1["obs/ee_pose"][()], pose7_wxyz_to_xyzw(ref["observation.ee_pose"]))
        np.testing.assert_array_equal(d1["obs/ee_pose"][0, 3:], ref["observation.ee_pose"][0, [4, 5, 6, 3]])
        np.testing.assert_array_equal(d1["next_obs/state"][:-1], ref["observation.state"][1:])
        np.testing.assert_array_equal(d1["next_obs/state"][-1], ref["observation.state"][-1])
        np.testing.assert_array_equal(d1["obs/images.cam0"][()], ref["observation.images.cam0"])
        assert d1["rewards"].shape == (9,) and d1["dones"].shape == (9,)
        assert d1["states"].shape == (9, 9 + 14)
        assert list(f["mask/train"][()]) == [b"demo_0", b"demo_1"]
        assert list(f["mask/valid"][()]) == [b"demo_2"]
        assert f["gaussians/cube/means"].shape == (40, 3)


def test_train_valid_split_is_stable():
    from gwm.data.hdf5 import train_valid_split

    assert train_valid_split(1) == ([0], [])
    assert train_valid_split(3) == ([0, 1], [2])
    train, valid = train_valid_split(30)
    assert valid == [9, 19, 29] and len(train) == 27
    assert set(train_valid_split(40)[1]) >= set(valid)  # growing never moves an episode


def test_multi_task_episode(tmp_path, spec, episodes):
    tasks = [["reach"] * 5 + ["grasp"] * 7, ["grasp"] * 9, ["place"] * 14]
    for fmt in ("lerobot", "hdf5"):
        ds = open_dataset(record(tmp_path / fmt, spec, fmt, episodes, tasks=tasks))
        assert [ds.frame_tasks(e) for e in range(3)] == tasks
        assert ds.episode_info(0)["task"] == "reach"


def test_episode_table_rolls_over_files(tmp_path):
    """More than 50 episodes: the episode table continues in meta/episodes/chunk-000/file-001.parquet."""
    from gwm.data import DatasetSpec, FeatureSpec, create_recorder

    spec = DatasetSpec(fps=10, features={"action": FeatureSpec("float32", (2,))})
    rec = create_recorder(tmp_path, spec, "lerobot")
    for e in range(53):
        for t in range(2):
            rec.add_frame({"action": np.array([e, t], np.float32)}, "t")
        rec.save_episode(success=True, seed=e)
    rec.finalize()
    rows0 = pq.read_table(tmp_path / "meta/episodes/chunk-000/file-000.parquet").num_rows
    rows1 = pq.read_table(tmp_path / "meta/episodes/chunk-000/file-001.parquet").to_pylist()
    assert rows0 == 50 and [r["episode_index"] for r in rows1] == [50, 51, 52]
    assert {(r["meta/episodes/chunk_index"], r["meta/episodes/file_index"]) for r in rows1} == {(0, 1)}
    ds = open_dataset(tmp_path)
    assert ds.num_episodes == 53 and ds.num_frames == 106
    np.testing.assert_array_equal(ds.episode(52)["action"], [[52, 0], [52, 1]])
    assert ds.episode_info(51)["seed"] == 51

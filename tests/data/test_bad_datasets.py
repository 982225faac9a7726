"""Damaged datasets give a clear error (problem + fix) from the reader and from `gwm data check`."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from gwm.data import DatasetError, check_dataset, create_recorder, open_dataset
from gwm.data.cli import app
from tests.data.conftest import make_episode, make_spec, record

runner = CliRunner()


@pytest.fixture(scope="module")
def small():
    spec = make_spec(depth=False)
    return spec, [make_episode(spec, n, seed=e) for e, n in enumerate((5, 6))]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, small):
    spec, episodes = small
    base = tmp_path_factory.mktemp("pristine")
    return {
        "lerobot": record(base / "lerobot", spec, "lerobot", episodes, image_format="png"),
        "video": record(base / "video", spec, "lerobot", episodes, image_format="video"),
        "hdf5": record(base / "hdf5", spec, "hdf5", episodes).parent,
    }


def damaged(pristine, tmp_path, kind):
    root = tmp_path / kind
    shutil.copytree(pristine[kind], root)
    return root


def assert_bad(path, *patterns):
    """Both the reader (open + read every episode) and the CLI reject it with the same message."""
    with pytest.raises(DatasetError) as err:
        check_dataset(path)
    for p in patterns:
        assert p in str(err.value), str(err.value)
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 1
    for p in patterns:
        assert p in result.output, result.output
    return str(err.value)


def test_good_dataset_passes_check(pristine):
    for kind, path in pristine.items():
        result = runner.invoke(app, ["check", str(path)])
        assert result.exit_code == 0, result.output
        out = result.output
        assert f"format:       {'hdf5' if kind == 'hdf5' else 'lerobot'}" in out
        assert "episodes:     2" in out and "frames:       11" in out and "success rate: 50.0%" in out
        assert "observation.images.cam0" in out and "(32, 48, 3)" in out
        assert "observation.body_poses" in out and "(2, 7)" in out
    summary = json.loads(runner.invoke(app, ["check", "--json", str(pristine["lerobot"])]).output)
    assert summary["episodes"] == 2 and summary["cameras"] == ["observation.images.cam0"]


@pytest.mark.parametrize("missing", ["meta/info.json", "meta/tasks.parquet", "meta/episodes"])
def test_missing_meta(pristine, tmp_path, missing):
    root = damaged(pristine, tmp_path, "lerobot")
    p = root / missing
    shutil.rmtree(p) if p.is_dir() else p.unlink()
    assert_bad(root, "missing" if missing != "meta/episodes" else "no episode table files")


def test_missing_video(pristine, tmp_path):
    root = damaged(pristine, tmp_path, "video")
    (root / "videos/observation.images.cam0/chunk-000/file-001.mp4").unlink()
    assert_bad(root, "file-001.mp4", "video file missing")


def test_truncated_parquet(pristine, tmp_path):
    root = damaged(pristine, tmp_path, "lerobot")
    path = root / "data/chunk-000/file-001.parquet"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    msg = assert_bad(root, "file-001.parquet", "truncated or damaged")
    assert "episode 1" in msg
    open_dataset(root).episode(0)  # the other episode is still readable


def test_truncated_episode_table(pristine, tmp_path):
    root = damaged(pristine, tmp_path, "lerobot")
    path = root / "meta/episodes/chunk-000/file-000.parquet"
    path.write_bytes(path.read_bytes()[:100])
    assert_bad(root, "episode table", "truncated or damaged")


def test_mismatched_lengths_lerobot(pristine, tmp_path):
    root = damaged(pristine, tmp_path, "lerobot")
    path = root / "data/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    pq.write_table(table.slice(0, 4), path)  # 4 rows, the episode table says 5
    assert_bad(root, "episode 0 has 4 rows", "says 5")


def test_mismatched_lengths_hdf5(pristine, tmp_path):
    root = damaged(pristine, tmp_path, "hdf5")
    with h5py.File(root / "episodes/demo_000001.hdf5", "r+") as f:
        actions = f["demo_1/actions"][()]
        del f["demo_1/actions"]
        f["demo_1/actions"] = actions[:-2]
    assert_bad(root, "episode 1", "'action' has 4 frames", "says 6")


def test_nan_actions_lerobot(pristine, tmp_path):
    root = damaged(pristine, tmp_path, "lerobot")
    path = root / "data/chunk-000/file-001.parquet"
    table = pq.read_table(path)
    actions = np.stack(table["action"].to_numpy(zero_copy_only=False)).astype(np.float32)
    actions[3, 2] = np.nan
    col = pa.FixedSizeListArray.from_arrays(pa.array(actions.reshape(-1)), 8)
    pq.write_table(table.set_column(table.schema.get_field_index("action"), table.schema.field("action"), col), path)
    assert_bad(root, "episode 1", "'action' has NaN or inf at frames [3]")


def test_nan_actions_hdf5(pristine, tmp_path):
    root = damaged(pristine, tmp_path, "hdf5")
    with h5py.File(root / "episodes/demo_000000.hdf5", "r+") as f:
        f["demo_0/actions"][2, 0] = np.inf
    assert_bad(root, "episode 0", "'action' has NaN or inf at frames [2]")


def test_missing_hdf5_episode_file(pristine, tmp_path):
    root = damaged(pristine, tmp_path, "hdf5")
    (root / "episodes/demo_000001.hdf5").unlink()
    assert_bad(root, "demo_1", "missing or damaged")


def test_truncated_hdf5_master(pristine, tmp_path):
    root = damaged(pristine, tmp_path, "hdf5")
    path = root / "dataset.hdf5"
    path.write_bytes(path.read_bytes()[:300])
    assert_bad(root, "not a readable HDF5 file")


def test_not_a_dataset(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    assert_bad(tmp_path, "neither a LeRobot v3.0 root")
    result = runner.invoke(app, ["check", str(tmp_path / "absent")])
    assert result.exit_code == 1 and "no such file" in result.output


def test_writer_rejects_bad_frames(tmp_path, small):
    spec, episodes = small
    rec = create_recorder(tmp_path, spec, "lerobot", image_format="png")
    frame = dict(episodes[0][0])
    frame["action"] = np.full(8, np.nan, np.float32)
    with pytest.raises(DatasetError, match="'action' has NaN"):
        rec.add_frame(frame, "t")
    with pytest.raises(DatasetError, match=r"shape \(3,\), the spec says \(8,\)"):
        rec.add_frame({**episodes[0][0], "action": np.zeros(3, np.float32)}, "t")
    with pytest.raises(DatasetError, match="missing \\['action'\\]"):
        rec.add_frame({k: v for k, v in episodes[0][0].items() if k != "action"}, "t")
    with pytest.raises(DatasetError, match="no frames"):
        rec.save_episode(success=True, seed=0)
    rec.add_frame(episodes[0][0], "t")
    rec.discard_episode()
    assert rec.frames_in_episode == 0 and rec.num_episodes == 0
    rec.finalize()
    assert open_dataset(tmp_path).num_episodes == 0

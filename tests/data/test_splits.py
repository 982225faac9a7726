"""The held-out split: marked in both formats, kept through conversion and resume, and kept out of stats."""

from __future__ import annotations

import json

import h5py
import numpy as np

from gwm.data import convert_dataset, create_recorder, merge_datasets, open_dataset
from tests.data.conftest import make_episode, record, stack


def _episodes(spec, n=5):
    # episode e's state is offset by 10*e, so stats over the wrong episodes are visibly wrong
    eps = []
    for e in range(n):
        frames = make_episode(spec, 6 + e, seed=e)
        for f in frames:
            f["observation.state"] = f["observation.state"] + 10.0 * e
        eps.append(frames)
    return eps


def test_split_round_trips_lerobot_hdf5_and_stats_from_training(tmp_path, spec, gaussians):
    eps = _episodes(spec)
    src = record(tmp_path / "src", spec, "lerobot", eps, gaussians=gaussians)
    assert open_dataset(src).heldout_episodes() == []  # nothing marked
    merged = merge_datasets([src], tmp_path / "lr", "lerobot", heldout_episodes=2)
    info = json.loads((merged / "meta/info.json").read_text())
    assert info["splits"] == {"train": "0:3", "valid": "3:5"}
    ds = open_dataset(merged)
    assert ds.heldout_episodes() == [3, 4] and ds.training_episodes() == [0, 1, 2]
    # stats.json: training episodes 0-2 only
    stats = json.loads((merged / "meta/stats.json").read_text())["observation.state"]
    train_states = np.concatenate([stack(eps[e])["observation.state"] for e in range(3)])
    np.testing.assert_allclose(stats["mean"], train_states.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats["max"], train_states.max(0), rtol=1e-6)
    assert stats["count"] == [len(train_states)]

    # to HDF5 and back: mask/train, mask/valid, and the split read the same
    h5 = convert_dataset(merged, tmp_path / "h5", "hdf5")
    with h5py.File(h5, "r") as f:
        assert list(f["mask/train"][()]) == [b"demo_0", b"demo_1", b"demo_2"]
        assert list(f["mask/valid"][()]) == [b"demo_3", b"demo_4"]
    assert open_dataset(h5).heldout_episodes() == [3, 4]
    back = convert_dataset(h5, tmp_path / "back", "lerobot")
    assert json.loads((back / "meta/info.json").read_text())["splits"] == {"train": "0:3", "valid": "3:5"}


def test_split_survives_resume_and_grows_with_appended_episodes(tmp_path, spec):
    eps = _episodes(spec, 4)
    for fmt in ("lerobot", "hdf5"):
        rec = create_recorder(tmp_path / fmt, spec, fmt)
        for frames in eps[:3]:
            for fr in frames:
                rec.add_frame(fr, "t")
            rec.save_episode(success=True, seed=0)
        rec.mark_heldout(2)
        rec.finalize()
        assert open_dataset(rec.dataset_path).heldout_episodes() == [2]
        rec = create_recorder(tmp_path / fmt, spec, fmt)  # resume: the mark is read back
        assert rec.heldout_from == 2
        for fr in eps[3]:
            rec.add_frame(fr, "t")
        rec.save_episode(success=True, seed=0)
        path = rec.finalize()
        assert open_dataset(path).heldout_episodes() == [2, 3], fmt


def test_legacy_hdf5_mask_is_not_a_heldout_split(tmp_path, spec):
    """The every-tenth-demo mask of unmarked HDF5 files is no held-out layout set: nothing is reported."""
    path = record(tmp_path / "h5", spec, "hdf5", _episodes(spec, 3))
    with h5py.File(path, "r") as f:
        assert list(f["mask/valid"][()]) == [b"demo_2"]
    assert open_dataset(path).heldout_episodes() == []


def test_merge_rejects_a_split_without_training_episodes(tmp_path, spec):
    import pytest

    from gwm.data.spec import DatasetError

    src = record(tmp_path / "src", spec, "lerobot", _episodes(spec, 2))
    with pytest.raises(DatasetError, match="must leave training episodes"):
        merge_datasets([src], tmp_path / "out", "lerobot", heldout_episodes=2)

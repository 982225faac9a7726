"""WindowDataset: context frames, action chunk, future frames; never across episodes; both formats."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gwm.data import WindowDataset, open_dataset
from tests.data.conftest import record, stack


@pytest.mark.parametrize("fmt", ["lerobot", "hdf5"])
def test_windows(tmp_path, spec, episodes, fmt):
    ds = open_dataset(record(tmp_path, spec, fmt, episodes, image_format="png"))
    c, h = 2, 3
    windows = WindowDataset(ds, context=c, horizon=h)
    lengths = [len(e) for e in episodes]
    assert len(windows) == sum(n - c - h + 1 for n in lengths)
    seen = set()
    for w in range(len(windows)):
        e, s = windows.locate(w)
        assert 0 <= s and s + c + h <= lengths[e]  # inside one episode
        seen.add((e, s))
    assert len(seen) == len(windows)  # every window once

    ref = stack(episodes[1])
    item = windows[lengths[0] - c - h + 1 + 2]  # episode 1, start 2
    assert int(item["episode"]) == 1 and int(item["start"]) == 2
    np.testing.assert_array_equal(item["context/observation.state"].numpy(), ref["observation.state"][2:4])
    np.testing.assert_array_equal(item["future/observation.state"].numpy(), ref["observation.state"][4:7])
    np.testing.assert_array_equal(item["action"].numpy(), ref["action"][3:6])  # a_t at frame t leads to t+1
    assert item["context/observation.images.cam0"].shape == (c, 32, 48, 3)
    assert item["context/observation.images.cam0"].dtype == torch.uint8
    assert item["future/observation.body_poses"].shape == (h, 2, 7)

    batch = next(iter(torch.utils.data.DataLoader(windows, batch_size=4, shuffle=True)))
    assert batch["action"].shape == (4, h, 8)

    only = WindowDataset(ds, 1, 1, keys=["observation.state"], episodes=[2])
    assert len(only) == lengths[2] - 1
    assert set(only[0]) == {"context/observation.state", "future/observation.state", "action", "episode", "start"}


def test_windows_longer_than_episodes(tmp_path, spec, episodes):
    ds = open_dataset(record(tmp_path, spec, "hdf5", episodes))
    assert len(WindowDataset(ds, context=5, horizon=8)) == 14 - 13 + 1  # only the 14-frame episode fits
    with pytest.raises(ValueError):
        WindowDataset(ds, context=0, horizon=1)

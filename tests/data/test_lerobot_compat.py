"""Load a written dataset with LeRobot's own reader (runs only where lerobot is installed).

lerobot is not a project dependency (0.4.x pins torch < 2.11 and a CUDA torchvision); this test
is for machines that have it. Checked by hand for this revision with lerobot 0.4.4 + datasets 4.8.5.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.data.conftest import record, stack

lerobot_dataset = pytest.importorskip("lerobot.datasets.lerobot_dataset")


@pytest.mark.parametrize("image_format", ["png", "video"])
def test_lerobot_dataset_loads_it(tmp_path, monkeypatch, spec, episodes, image_format):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = record(tmp_path / "kitchen", spec, "lerobot", episodes, image_format=image_format)
    ds = lerobot_dataset.LeRobotDataset("local/kitchen", root=root, video_backend="pyav")
    assert ds.num_episodes == 3 and len(ds) == 35 and ds.fps == 15
    item = ds[12 + 4]  # episode 1, frame 4
    ref = stack(episodes[1])
    np.testing.assert_array_equal(item["observation.state"].numpy(), ref["observation.state"][4])
    np.testing.assert_array_equal(item["observation.body_poses"].numpy(), ref["observation.body_poses"][4])
    assert item["task"] == "put the cube in the bowl"
    img = (item["observation.images.cam0"].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
    err = np.abs(img.astype(int) - ref["observation.images.cam0"][4]).mean()
    assert err == 0 if image_format == "png" else err < 6


def test_lerobot_reads_many_episode_table_files(tmp_path, monkeypatch):
    from gwm.data import DatasetSpec, FeatureSpec, create_recorder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = DatasetSpec(fps=10, features={"action": FeatureSpec("float32", (2,))})
    rec = create_recorder(tmp_path, spec, "lerobot")
    for e in range(53):
        for t in range(2):
            rec.add_frame({"action": np.array([e, t], np.float32)}, f"task {e % 3}")
        rec.save_episode(success=True, seed=e)
    rec.finalize()
    ds = lerobot_dataset.LeRobotDataset("local/many", root=tmp_path)
    assert ds.num_episodes == 53 and len(ds) == 106
    item = ds[105]
    assert item["action"].tolist() == [52.0, 1.0] and item["task"] == "task 1"
    assert int(item["episode_index"]) == 52

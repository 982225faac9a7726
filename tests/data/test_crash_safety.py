"""SIGKILL a writer mid-episode: saved episodes stay intact and readable; resuming continues the numbering."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gwm.data import DatasetError, create_recorder, open_dataset
from tests.data.conftest import make_episode, make_spec, stack
from tests.data.crash_writer import LENGTHS

REPO = Path(__file__).resolve().parents[2]
SAVED = 3


def _run_and_kill(root: Path, fmt: str, image_format: str) -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-m", "tests.data.crash_writer", str(root), fmt, str(SAVED), image_format],
                            cwd=REPO, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (root / "READY").exists():
            if proc.poll() is not None:
                raise AssertionError(f"writer exited early: {proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                raise AssertionError("writer did not reach the middle of an episode in time")
            time.sleep(0.05)
        # one writer per root: a second recorder is refused while the first lives
        with pytest.raises(RuntimeError, match="another process is recording"):
            create_recorder(root, make_spec(depth=False), fmt, image_format=image_format)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _check_episodes(ds, count: int) -> None:
    spec = make_spec(depth=False)
    assert ds.num_episodes == count
    assert ds.num_frames == sum(LENGTHS[:count])
    for e in range(count):
        ref = stack(make_episode(spec, LENGTHS[e], seed=e))
        got = ds.episode(e)
        for key in ("observation.state", "action", "observation.body_poses", "observation.images.cam0"):
            np.testing.assert_array_equal(got[key], ref[key], err_msg=f"episode {e} {key}")
        assert ds.episode_info(e) == {"success": e % 2 == 0, "seed": e, "task": f"task {e % 2}", "length": LENGTHS[e]}


@pytest.mark.parametrize("fmt", ["lerobot", "hdf5"])
def test_sigkill_mid_episode_then_resume(tmp_path, fmt):
    root = tmp_path / fmt
    _run_and_kill(root, fmt, "png")
    path = root if fmt == "lerobot" else root / "dataset.hdf5"
    _check_episodes(open_dataset(path), SAVED)

    # leftovers of a crash: a half-written temp file and an orphan episode file written before
    # the metadata update; readers ignore them, a resuming writer removes them
    if fmt == "lerobot":
        stray = root / "data/chunk-000/.file-003.parquet.tmp-999999"
        orphan = root / f"data/chunk-000/file-{SAVED + 1:03d}.parquet"
    else:
        stray = root / "episodes/.demo_000003.hdf5.tmp-999999"
        orphan = root / f"episodes/demo_{SAVED + 1:06d}.hdf5"
    stray.write_bytes(b"PAR1 half written")
    orphan.write_bytes(b"not a finished episode")
    _check_episodes(open_dataset(path), SAVED)

    spec = make_spec(depth=False)
    rec = create_recorder(root, spec, fmt, image_format="png")
    assert rec.num_episodes == SAVED
    assert not stray.exists() and not orphan.exists()
    for e in range(SAVED, SAVED + 2):
        for frame in make_episode(spec, LENGTHS[e], seed=e):
            rec.add_frame(frame, f"task {e % 2}")
        assert rec.save_episode(success=e % 2 == 0, seed=e) == e
    rec.finalize()
    ds = open_dataset(path)
    _check_episodes(ds, SAVED + 2)
    assert len(ds.canonical_gaussians()) == 2
    if fmt == "lerobot":
        info = json.loads((root / "meta/info.json").read_text())
        assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (5, sum(LENGTHS[:5]), 2)
        assert info["splits"] == {"train": "0:5"}
        stats = json.loads((root / "meta/stats.json").read_text())
        assert stats["action"]["count"] == [sum(LENGTHS[:5])]


def test_metadata_lagging_behind_is_reported_and_healed(tmp_path):
    """A kill between the episode table and info.json: the reader says so, a resume repairs it."""
    spec = make_spec(depth=False)
    rec = create_recorder(tmp_path, spec, "lerobot", image_format="png")
    for e in range(2):
        for frame in make_episode(spec, LENGTHS[e], seed=e):
            rec.add_frame(frame, f"task {e % 2}")
        rec.save_episode(success=e % 2 == 0, seed=e)
    rec.finalize()
    info_path = tmp_path / "meta/info.json"
    info = json.loads(info_path.read_text())
    info["total_episodes"], info["total_frames"] = 1, LENGTHS[0]
    info_path.write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="Resume it"):
        open_dataset(tmp_path)
    create_recorder(tmp_path, spec, "lerobot", image_format="png").finalize()
    _check_episodes(open_dataset(tmp_path), 2)


def test_resume_refuses_a_different_spec(tmp_path):
    spec = make_spec(depth=False)
    create_recorder(tmp_path, spec, "hdf5").finalize()
    with pytest.raises(DatasetError, match="same DatasetSpec"):
        create_recorder(tmp_path, make_spec(depth=True), "hdf5")
    rec = create_recorder(tmp_path, spec, "hdf5")  # the refused attempt released the lock
    assert rec.num_episodes == 0
    rec.finalize()

"""`gwm sim rollout` killed (SIGKILL) during its third episode, then run again with the same command:
the dataset ends with each seed once, and equal to an uninterrupted run's.

"Equal" is checked twice: every file of the dataset (Parquet, mp4, HDF5, metadata, preview
videos; not the lock file and not rollouts.json, which holds wall-clock timings) has the same
bytes, and every episode reads back as identical arrays, episode info and frame tasks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gwm.data import open_dataset
from sim_tasks.cli import app

REPO = Path(__file__).resolve().parents[2]
EPISODES = 4
NOT_DATA = {".gwm-writer.lock", "rollouts.json"}


def rollout_args(scene_usd, out: Path, fmt: str, **options) -> list[str]:
    """The user's command, with short episodes and tiny cameras."""
    options = {"task": "push", "episodes": EPISODES, "workers": 1, "steps": 16, "width": 32, "height": 32, **options}
    return ["rollout", str(scene_usd), "--out", str(out), "--format", fmt,
            *[x for k, v in options.items() for x in (f"--{k}", str(v))]]


def index_seeds(out: Path) -> list[int]:
    path = out / "rollouts.json"
    return [e["seed"] for e in json.loads(path.read_text())["episodes"]] if path.exists() else []


def start_and_kill_during_episode(python_args: list[str], out: Path, saved: int) -> threading.Thread:
    """Start `python *python_args` and SIGKILL it once `saved` episodes are recorded in out (so during the
    next one); in a thread, so the caller can work meanwhile. The thread's `.result` is the exit code."""
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    def run():
        proc = subprocess.Popen([sys.executable, *python_args], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 600
            while len(index_seeds(out)) < saved and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            proc.send_signal(signal.SIGKILL)
            thread.result = proc.wait(timeout=60)

    thread = threading.Thread(target=run)
    thread.result = None
    thread.start()
    return thread


def assert_same_files(a: Path, b: Path) -> None:
    def files(root):
        return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file() and p.name not in NOT_DATA}

    fa, fb = files(a), files(b)
    assert sorted(fb) == sorted(fa)  # no leftovers of the killed run (temp files, orphan episode files)
    differ = [name for name in fa if fa[name].read_bytes() != fb[name].read_bytes()]
    assert not differ, f"files differ from the uninterrupted run: {differ}"


def assert_same_episodes(a: Path, b: Path) -> None:
    """b holds seeds 0..EPISODES-1 once each, read back identical to a's."""
    da, db = open_dataset(a), open_dataset(b)
    assert [db.episode_info(i)["seed"] for i in range(db.num_episodes)] == list(range(EPISODES))
    assert da.num_episodes == db.num_episodes == EPISODES
    for i in range(EPISODES):
        assert db.episode_info(i) == da.episode_info(i)
        assert db.frame_tasks(i) == da.frame_tasks(i)
        ea, eb = da.episode(i), db.episode(i)
        assert sorted(ea) == sorted(eb)
        for key in ea:
            np.testing.assert_array_equal(eb[key], ea[key], err_msg=f"episode {i} {key}")
    assert db.metadata == da.metadata


@pytest.mark.parametrize("fmt", ["lerobot", pytest.param("hdf5", marks=pytest.mark.slow)])
def test_killed_rollout_rerun_records_each_seed_once_like_an_uninterrupted_run(scene_usd, tmp_path, fmt):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    command = ["-m", "sim_tasks.cli", *rollout_args(scene_usd, killed, fmt)]
    killer = start_and_kill_during_episode(command, killed, saved=2)
    cli = CliRunner()
    result = cli.invoke(app, rollout_args(scene_usd, whole, fmt))  # meanwhile, the uninterrupted run
    assert result.exit_code == 0, result.output
    killer.join()
    assert killer.result == -signal.SIGKILL  # killed, not finished
    path = killed / "dataset.hdf5" if fmt == "hdf5" else killed
    assert [open_dataset(path).episode_info(i)["seed"] for i in range(open_dataset(path).num_episodes)] == [0, 1]

    result = cli.invoke(app, rollout_args(scene_usd, killed, fmt))  # the same command again
    assert result.exit_code == 0, result.output
    assert "2 of the 4 seeds asked for are already recorded (seeds 0-1); recording the other 2" in result.output
    assert_same_episodes(path, whole / "dataset.hdf5" if fmt == "hdf5" else whole)
    assert_same_files(whole, killed)
    assert index_seeds(killed) == list(range(EPISODES))  # the episode index kept the killed run's entries

    # Asked once more: nothing is recorded twice, and the run says so in one line.
    result = cli.invoke(app, rollout_args(scene_usd, killed, fmt))
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [
        f"{killed}: 4 of the 4 seeds asked for are already recorded (seeds 0-3); nothing left to record"]
    # Other settings or another format would mix two recordings under one seed list: refused in one line.
    for options, hint in (({"steps": 17}, "config.task.max_steps"), ({"width": 48}, "config.cameras.width"),
                          ({"task": "pick_place"}, "task")):
        result = cli.invoke(app, rollout_args(scene_usd, killed, fmt, **options))
        assert (result.exit_code, result.output.strip().splitlines()) == (2, [
            f"error: {killed}: holds episodes recorded with other settings (different: {hint}); "
            "resume with the same task and settings or record into another folder"])
    other = {"lerobot": "hdf5", "hdf5": "lerobot"}[fmt]
    result = cli.invoke(app, rollout_args(scene_usd, killed, other))
    assert result.exit_code == 2 and f"holds a {fmt} dataset; resume it with format {fmt!r}" in result.output
    assert_same_files(whole, killed)

"""The pipeline's rollout stage killed (SIGKILL) during its third episode, then run again: the stage
cache sees the unfinished record, runs the stage again in the same folder, and run_rollouts resumes,
so the shard ends like an uninterrupted one (each seed once, same files, same arrays)."""

from __future__ import annotations

import json
import signal

import pytest

from pipelines import stages
from pipelines.config import resolve_config
from tests.sim_tasks.test_rollout_resume import (EPISODES, assert_same_episodes, assert_same_files,
                                                 start_and_kill_during_episode)

pytestmark = pytest.mark.slow  # a simulator in a subprocess and one here, at the pipeline's 128 px cameras

SEEDS = list(range(EPISODES))
SHARD = ("push", "train", 0)
STEPS = 16  # short episodes; everything else is the kitchen preset's


def shard(out_root, scene_usd):
    cfg = resolve_config("kitchen", {"out_root": str(out_root), "episode_steps": STEPS})
    return stages.rollout_shard(cfg, scene_usd, *SHARD, SEEDS)


def test_killed_rollout_stage_resumes_to_the_uninterrupted_result(scene_usd, tmp_path):
    killed_root, whole_root = tmp_path / "killed", tmp_path / "whole"
    folder = "rollouts/push-train-0"
    code = ("from pathlib import Path; from tests.pipelines.test_rollout_stage_resume import shard; "
            f"shard(Path({str(killed_root)!r}), Path({str(scene_usd)!r}))")
    killer = start_and_kill_during_episode(["-c", code], killed_root / folder, saved=2)
    whole = shard(whole_root, scene_usd)  # meanwhile, the uninterrupted stage
    killer.join()
    assert killer.result == -signal.SIGKILL
    record = json.loads((killed_root / "stages" / "rollouts-push-train-0.json").read_text())
    assert record["state"] == "running"

    resumed = shard(killed_root, scene_usd)
    assert not resumed.cached
    assert resumed.figures["resumed_from"] == 2 and resumed.figures["episodes"] == EPISODES
    assert {k: v for k, v in resumed.figures.items() if k != "resumed_from"} == \
           {k: v for k, v in whole.figures.items() if k != "resumed_from"}
    assert_same_episodes(whole_root / folder, killed_root / folder)
    assert_same_files(whole_root / folder, killed_root / folder)
    assert shard(killed_root, scene_usd).cached  # done now: the next run takes it from the cache

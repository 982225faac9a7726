"""Shared fixtures: one built simulator (+ renderer) on the demo scene USD (tests/conftest.py) for all
sim_tasks tests.

Building the Newton model costs ~10 s warm (plus ~40 s of Warp kernel compilation on a cold
cache), so every test that needs a simulator uses the session-scoped `runner`.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def runner(scene_usd):
    from sim_tasks.rollout import RolloutConfig, TaskRunner

    return TaskRunner(scene_usd, "pick_place", RolloutConfig())


@pytest.fixture(scope="session")
def pick_place_episode(runner, tmp_path_factory):
    """One full scripted pick_place episode with images and a preview video (seed 0)."""
    return runner.run_episode(0, video_dir=tmp_path_factory.mktemp("videos"))

"""Push MPC in the simulator with the simulator as the model (the oracle), through `gwm plan push`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pipelines.cli_main import app


@pytest.mark.slow
def test_oracle_push_reaches_the_goal_and_writes_outcomes(scene_usd, tmp_path):
    res = CliRunner().invoke(app, ["plan", "push", str(scene_usd), "--method", "oracle", "--layouts", "1",
                                   "--samples", "12", "--iterations", "2", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "outcomes.json").read_text())
    (layout,) = data["layouts"]
    assert layout["success"] and layout["final_error_m"] < 0.03  # the task's goal tolerance
    assert data["summary"]["replan_s_mean"] > 0
    assert list(tmp_path.glob("oracle_layout*.mp4"))


def test_plan_needs_a_model_for_world_model_methods(scene_usd):
    res = CliRunner().invoke(app, ["plan", "push", str(scene_usd), "--method", "world_model"])
    assert res.exit_code != 0 and "give --model" in res.output
    res = CliRunner().invoke(app, ["plan", "push", str(scene_usd), "--method", "gradient"])
    assert res.exit_code != 0 and "choose one of" in res.output

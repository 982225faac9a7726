"""Every PipelineConfig field is settable, with `gwm pipeline kitchen --set KEY=VALUE` and through the
deployment's parameters, type-checked; a bad setting ends in one line and exit code 2."""

from __future__ import annotations

import json
import re
import typing
from dataclasses import fields, replace

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config import PRESETS, PipelineConfig, PipelineSettingError, resolve_config
from pipelines.deploy import deployments
from pipelines.flows import real2sim

BASE = PRESETS["kitchen"]


def other_values(name: str, tp) -> list:
    """Values of type tp unlike the kitchen preset's (for X | None: None and a value, whichever differ)."""
    default = getattr(BASE, name)
    if typing.get_origin(tp) is not None and type(None) in typing.get_args(tp):
        inner = [a for a in typing.get_args(tp) if a is not type(None)][0]
        return [None, *other_values(name, inner)] if default is not None else other_values(name, inner)
    if name in ("reconstruct_preset", "train_preset"):
        return ["gpu"]  # a name that exists (resolve_config checks names)
    if name == "device":
        return ["cuda:1"]  # a device resolve_config accepts
    if tp is str:
        return [f"mine-{name}"]
    if tp is int:
        return [(default or 0) + 7]
    if tp is float:
        return [(default or 0.0) + 0.25]
    if tp is bool:
        return [not default]
    if typing.get_origin(tp) is tuple:
        return [("push", "pick_place")]
    raise AssertionError(f"PipelineConfig.{name}: add its type {tp} to this test")


def as_text(value) -> str:
    """How a user types value after `--set KEY=`."""
    if value is None:
        return "null"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


CASES = [(f.name, v) for f in fields(PipelineConfig)
         for v in other_values(f.name, typing.get_type_hints(PipelineConfig)[f.name])]


def settings_sets() -> list[dict]:
    """Every field set at least once; X | None fields once to None and once to a value."""
    sets: list[dict] = [{}, {}]
    for name, value in CASES:
        sets[0 if name not in sets[0] else 1][name] = value
    return sets


@pytest.mark.parametrize("settings", settings_sets(), ids=["all fields", "the other values of optional fields"])
def test_every_field_round_trips_through_set_and_deployment_parameters(settings):
    assert {n for n, _ in CASES} == {f.name for f in fields(PipelineConfig)}
    expected = replace(BASE, **settings)

    # `gwm pipeline kitchen --set KEY=VALUE ... --print-config`: the resolved config, nothing run
    args = ["kitchen", *[x for n, v in settings.items() for x in ("--set", f"{n}={as_text(v)}")], "--print-config"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert PipelineConfig.from_dict(json.loads(result.output)) == expected

    # the deployment's parameters: JSON on the server, validated by Prefect against the flow's signature
    overrides = {n: list(v) if isinstance(v, tuple) else v for n, v in settings.items()}
    deployment = real2sim.to_deployment(name="round-trip", parameters={"preset": "kitchen", "overrides": overrides})
    params = real2sim.validate_parameters(json.loads(json.dumps(deployment.parameters)))
    assert params["capture_input"] is None and resolve_config(params["preset"], params["overrides"]) == expected
    # and the config a stage receives (flows pass it on as a dict)
    assert PipelineConfig.from_dict(json.loads(json.dumps(expected.to_dict()))) == expected


def test_the_issue_example_and_the_capture_deployment():
    result = CliRunner().invoke(app, ["kitchen", "--set", "name=mine", "--print-config"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["name"] == "mine"
    result = CliRunner().invoke(app, ["kitchen", "--preset", "smoke", "--set", 'tasks=["push"]', "--set",
                                      "train_steps=12", "--print-config"])
    assert (json.loads(result.output)["tasks"], json.loads(result.output)["train_steps"]) == (["push"], 12)
    # real2sim/capture: any capture by its path, named after it, with its metric cue
    (capture,) = [d for d in deployments() if d.name == "capture"]
    params = real2sim.validate_parameters(json.loads(json.dumps(capture.parameters)))
    from pipelines.config import capture_overrides

    cfg = resolve_config(params["preset"], capture_overrides(params["capture_input"], params["overrides"]))
    assert (cfg.capture_input, cfg.name, cfg.out_root, cfg.marker_size_m, cfg.scene_file) == (
        "datasets/workbench/images", "workbench", "datasets/outputs/workbench", 0.08, None)
    # `gwm pipeline run INPUT` resolves the same way
    result = CliRunner().invoke(app, ["run", "datasets/workbench/images", "--marker-size", "0.08", "--print-config"])
    assert result.exit_code == 0, result.output
    assert PipelineConfig.from_dict(json.loads(result.output)) == cfg


@pytest.mark.parametrize("args,message", [
    (["run", "datasets/workbench/images"], "no metric cue: physics needs metres. Give one: marker_size_m"),
    (["kitchen", "--set", "marker_size_m=null"], "no metric cue"),
    (["kitchen", "--preset", "capture"], "setting capture_input: give the capture"),
    (["kitchen", "--set", "metric_input=maybe"], "setting metric_input='maybe': needs true or false"),
])
def test_a_capture_without_input_or_metric_cue_is_refused(args, message):
    result = CliRunner().invoke(app, [*args, "--print-config"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), result.output


@pytest.mark.parametrize("args,message", [
    (["--set", "nme=mine"], "unknown setting 'nme'; did you mean 'name'? settings are: name, capture_input,"),
    (["--set", "train_steps=abc"], "setting train_steps='abc': needs an integer or null"),
    (["--set", "capture_max_frames=null"], "setting capture_max_frames='null': needs an integer"),
    (["--set", "tasks=[push"], "setting tasks='[push': not valid JSON (Expecting value: line 1 column 2"),
    (["--set", "tasks=[1, 2]"], "setting tasks='[1, 2]': needs a list of names (a,b or JSON [\"a\", \"b\"])"),
    (["--set", "train_steps"], "--set 'train_steps': use KEY=VALUE, e.g. --set train_steps=600"),
    (["--preset", "big"], "unknown pipeline preset 'big'; choose one of capture, gpu, kitchen, smoke, workbench"),
    (["--set", "tasks=push,pick"], "setting tasks: 'pick' is not known; choose from pick_place, pick_place_bowl, pick_place_explore, push"),
    (["--set", "tasks="], "setting tasks: give at least one; choose from pick_place,"),
    (["--set", "train_preset=cuda"], "setting train_preset: 'cuda' is not known; choose from cpu, gpu, planning, tiny"),
    (["--set", "device=gpu"], "setting device='gpu': choose cpu, cuda or cuda:N"),
    (["--set", "rollout_batch=0"], "setting rollout_batch=0: needs 1 or more episodes per batch"),
])
def test_a_bad_setting_is_one_line_and_exit_code_2(args, message):
    result = CliRunner().invoke(app, ["kitchen", *args, "--print-config"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), result.output


@pytest.mark.parametrize("overrides,message", [
    ({"name": 5}, "setting name=5: needs a string"),
    ({"train_steps": 2.5}, "setting train_steps=2.5: needs an integer or null"),
    ({"tasks": "push,pick_place", "dask_workers": True}, "setting dask_workers=True: needs an integer"),
    ({"out_rot": "x"}, "unknown setting 'out_rot'; did you mean 'out_root'?"),
])
def test_bad_deployment_parameters_fail_the_run_with_one_line(overrides, message):
    with pytest.raises(PipelineSettingError, match="^" + re.escape(message)):
        resolve_config("kitchen", overrides)
    state = real2sim.fn("kitchen", overrides)  # the flow's body: a failed state, no traceback
    assert state.is_failed() and state.message.startswith(message)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has the GPU the preset asks for")
def test_the_gpu_preset_on_a_machine_without_cuda_is_one_line_before_any_stage():
    message = "device, reconstruct_preset=gpu, train_preset=gpu need a CUDA GPU and torch sees none here"
    result = CliRunner().invoke(app, ["kitchen", "--preset", "gpu"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), result.output
    state = real2sim.fn("gpu")  # the deployment's run fails the same way, nothing started
    assert state.is_failed() and state.message.startswith(message)
    # the config itself resolves (a CPU machine may print or deploy it for a GPU worker)
    assert CliRunner().invoke(app, ["kitchen", "--preset", "gpu", "--print-config"]).exit_code == 0


def test_the_gpu_preset_batches_rollouts_and_puts_simulator_and_training_on_cuda():
    from pipelines.stages import rollout_settings, train_settings, validate_settings

    cfg = resolve_config("gpu")
    rollout = rollout_settings(cfg, "pick_place", list(range(32)))
    assert rollout["batch"] == 32 and rollout["rollout"].sim.device == "cuda"
    assert validate_settings(cfg)["replay_sim"].device == "cuda"
    train = train_settings(cfg, num_episodes=cfg.train_episodes_per_task * 3, heldout_episodes=8)
    assert train["device"] == "cuda" and train["train"].preset == "gpu"
    kitchen = rollout_settings(resolve_config("kitchen"), "pick_place", [0])
    assert kitchen["batch"] == 1 and kitchen["rollout"].sim.device == "cpu"

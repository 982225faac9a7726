"""No pipeline stage reads a sample's ground truth: not ground_truth.json, masks, depth, the
sample's exact-pose transforms.json or sparse points, nor a hand-written scene file. Benchmarks
alone read them. (The end-to-end deployment test runs on the kitchen video copied alone into an
empty folder, so there it is not only unread but absent.)"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipelines import stages
from pipelines.config import PROJECT_ROOT, resolve_config

SAMPLES = PROJECT_ROOT / "datasets"
GROUND_TRUTH = ("ground_truth.json", "masks", "depth", "transforms.json", "sparse_pc.ply", "scene.toml", "meshes")


def mentioned_paths(value) -> list[Path]:
    """Every path-like value inside a (nested) config: Path objects and strings naming an existing file."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [p for f in dataclasses.fields(value) for p in mentioned_paths(getattr(value, f.name))]
    if isinstance(value, dict):
        return [p for v in value.values() for p in mentioned_paths(v)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in mentioned_paths(v)]
    if isinstance(value, Path):
        return [value]
    if isinstance(value, str) and value and (PROJECT_ROOT / value).exists():
        return [PROJECT_ROOT / value]
    return []


def is_ground_truth(path: Path) -> bool:
    path = path.resolve()
    return SAMPLES in path.parents and any(part in GROUND_TRUTH for part in path.relative_to(SAMPLES).parts)


@pytest.mark.parametrize("preset", ["kitchen", "workbench", "smoke"])
def test_stage_inputs_and_settings_name_no_ground_truth(preset, tmp_path):
    cfg = resolve_config(preset)
    assert cfg.scene_file is None, "the bundled presets author their scene from the capture"
    capture_input = cfg.path(cfg.capture_input)
    if capture_input.is_dir():  # the stills and nothing else
        assert {p.suffix for p in capture_input.iterdir()} == {".png"}
    else:
        assert capture_input.suffix == ".mp4"
    splat, cameras = tmp_path / "splat.ply", tmp_path / "transforms.json"
    settings = {
        "pipeline": cfg,
        "capture": stages.capture_settings(cfg),
        "reconstruct": stages.reconstruct_settings(cfg),
        "scene": stages.scene_settings(cfg, splat, cameras),
        "rollouts": stages.rollout_settings(cfg, cfg.tasks[0], [0]),
        "validate": stages.validate_settings(cfg),
    }
    read = [p for p in mentioned_paths(settings) if is_ground_truth(p)]
    assert not read, f"{preset}: stages would read ground truth {read}"
    assert "init" in settings["scene"]  # no scene file: `gwm scene init` authors it


def test_the_check_would_catch_ground_truth():
    """The detector itself: a setting naming a sample's ground truth is found."""
    cfg = resolve_config("kitchen", {"scene_file": "datasets/kitchen/scene.toml"})
    assert [p.name for p in mentioned_paths(cfg) if is_ground_truth(p)] == ["scene.toml"]
    assert is_ground_truth(SAMPLES / "workbench" / "masks" / "frame_000.png")
    assert not is_ground_truth(SAMPLES / "workbench" / "images" / "frame_000.png")

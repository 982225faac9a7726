"""The stage cache is honest: a stage's key covers the full library configs it runs with and the code
it runs, so changing a default (or a module) re-runs exactly the stages that use it, and nothing else."""

from __future__ import annotations

import importlib
import inspect
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from pipelines import stages
from pipelines.config import resolve_config
from pipelines.stage_cache import PROJECT_ROOT, module_files, plain_config, stage_key

STAGES = ("capture", "reconstruct", "scene", "rollouts", "datasets", "train", "validate")


def stage_settings(splat: Path) -> dict[str, dict]:
    """What each stage of the kitchen pipeline hashes besides its input files (held fixed here)."""
    cfg = resolve_config("kitchen")
    return {
        "capture": stages.capture_settings(cfg),
        "reconstruct": stages.reconstruct_settings(cfg),
        "scene": stages.scene_settings(cfg, splat, cameras=splat),  # init (no scene file) does not read them here
        "rollouts": stages.rollout_settings(cfg, "push", [0, 1]),
        "datasets": stages.merge_settings(heldout_episodes=6),
        "train": stages.train_settings(cfg, num_episodes=36, heldout_episodes=6),
        "validate": stages.validate_settings(cfg),
    }


def keys(splat: Path, root: Path = PROJECT_ROOT) -> dict[str, str]:
    return {name: stage_key(name, {}, s, stages.CODE[name], root) for name, s in stage_settings(splat).items()}


@pytest.fixture
def splat(tmp_path) -> Path:
    path = tmp_path / "splat.ply"
    path.write_bytes(b"a splat")  # the scene config names it; only its bytes enter the key
    return path


def patch_default(monkeypatch, cls, name: str, value) -> None:
    """Change the default of dataclass field `name` for every later cls(...) call, as an edit of the class
    would (dataclass defaults live in the generated __init__)."""
    params = list(inspect.signature(cls.__init__).parameters)[1:]
    defaults = list(cls.__init__.__defaults__)
    defaults[params.index(name) - (len(params) - len(defaults))] = value
    monkeypatch.setattr(cls.__init__, "__defaults__", tuple(defaults))


@pytest.mark.parametrize("module,cls,name,value,expected", [
    ("sim_tasks.demonstrator", "DemoConfig", "speed", 0.5, {"rollouts"}),
    ("sim_tasks.rendering", "CameraConfig", "width", 96, {"rollouts"}),
    ("sim_tasks.tasks", "TaskConfig", "goal_tolerance", 0.02, {"rollouts"}),
    ("sim_tasks.newton_backend", "NewtonSimConfig", "substeps", 20, {"rollouts", "validate"}),  # + the replay
    ("gwm.model.config", "OptimConfig", "batch_size", 16, {"train"}),
    ("gwm.model.config", "TrainConfig", "eval_every", 250, {"train"}),
    ("gwm.model.validate", "ValidationConfig", "stride", 3, {"validate"}),
    ("gwm.model.video_baseline", "VideoBaselineConfig", "lr", 5e-4, {"validate"}),
    ("gwm.capture.config", "CaptureConfig", "min_sharpness", 10.0, {"capture"}),
    ("gwm.scene.autoscene", "InitConfig", "density", 400.0, {"scene"}),
])
def test_changing_a_default_invalidates_exactly_the_stages_that_use_it(monkeypatch, splat, module, cls, name,
                                                                       value, expected):
    before = keys(splat)
    assert len(set(before.values())) == len(STAGES)
    klass = getattr(importlib.import_module(module), cls)
    patch_default(monkeypatch, klass, name, value)
    after = keys(splat)
    assert {s for s in STAGES if after[s] != before[s]} == expected
    monkeypatch.undo()
    assert keys(splat) == before  # and nothing else entered the keys (no clock, no path strings)


def test_a_preset_or_pipeline_setting_change_invalidates_its_stage(monkeypatch, splat):
    import gwm.reconstruct.config as reconstruct_config

    before = keys(splat)
    presets = reconstruct_config.PRESETS
    monkeypatch.setitem(presets, "cpu", replace(presets["cpu"], lr_means=presets["cpu"].lr_means * 2))
    after = keys(splat)
    assert {s for s in STAGES if after[s] != before[s]} == {"reconstruct"}


def test_a_code_change_invalidates_the_stages_whose_code_changed(tmp_path, splat):
    """Edit a copy of the sources: a demonstrator edit re-runs the rollouts (not the validation replay,
    which does not run it); a video-baseline edit re-runs validation only; a dataset-format edit
    re-runs every stage that reads or writes datasets."""
    root = tmp_path / "src"
    for package in ("gwm", "exporters", "sim_tasks"):
        shutil.copytree(PROJECT_ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    before = keys(splat, root)
    assert before == keys(splat)  # the fingerprint depends on the sources' bytes, not where they are
    for edited, expected in (("sim_tasks/demonstrator.py", {"rollouts"}),
                             ("gwm/model/video_baseline.py", {"validate"}),
                             ("gwm/data/lerobot.py", {"rollouts", "datasets", "train", "validate"})):
        with open(root / edited, "a") as f:
            f.write("\n# an edit\n")
        after = keys(splat, root)
        assert {s for s in STAGES if after[s] != before[s]} == expected, edited
        before = after


def test_an_upgraded_library_invalidates_the_stages_that_import_it(monkeypatch, splat):
    import importlib.metadata

    before = keys(splat)
    installed = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda d: "99.0" if d == "newton" else installed(d))
    after = keys(splat)
    assert {s for s in STAGES if after[s] != before[s]} == {"rollouts", "validate"}  # the simulator's users


def test_module_files_follow_imports_inside_functions_and_relative_ones(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("import numpy\n\ndef f():\n    from .sub import b\n    return b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from ..c import VALUE\nfrom . import d\n")
    (pkg / "c.py").write_text("VALUE = 1\n")
    (pkg / "sub" / "d.py").write_text("")
    (pkg / "unused.py").write_text("import pkg.a\n")
    files = {str(p.relative_to(tmp_path)) for p in module_files(["pkg.a"], tmp_path)}
    assert files == {"pkg/__init__.py", "pkg/a.py", "pkg/sub/__init__.py", "pkg/sub/b.py", "pkg/c.py",
                     "pkg/sub/d.py"}


def test_paths_in_a_config_count_by_their_contents(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("same")
    b.write_text("same")
    code = ("pipelines.stage_cache",)
    assert stage_key("s", {}, {"file": a}, code) == stage_key("s", {}, {"file": b}, code)
    b.write_text("other")
    assert stage_key("s", {}, {"file": a}, code) != stage_key("s", {}, {"file": b}, code)
    # the record keeps the path readable
    assert plain_config({"file": a}) == {"file": str(a)}

"""What one run of the real2sim pipeline does: inputs, output root, and each stage's knobs.

Presets by name: "kitchen" (the bundled capture, defaults that finish on a 2-core CPU) and
"smoke" (the same stages, cut down to a few minutes, for CI). Paths are relative to the
project root unless absolute.

Every field can be overridden, with `gwm pipeline kitchen --set KEY=VALUE` or the deployment's
`overrides` parameter; resolve_config checks each value against the field's type.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from dataclasses import asdict, dataclass, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PipelineConfig:
    name: str = "kitchen"
    # capture: a video, an image folder, a COLMAP model or a nerfstudio dataset (a phone AR export)
    capture_input: str = "datasets/kitchen/images"
    capture_max_frames: int = 120
    # The metric cue (at least one; see `gwm capture run --help`): a printed ArUco marker of this side
    # lying on the table, the table's measured size, or metric phone poses (a nerfstudio-format AR export).
    marker_size_m: float | None = 0.10
    table_width_m: float | None = None
    table_depth_m: float | None = None
    metric_input: bool = False
    # reconstruction (built-in trainer preset; "gpu" on a CUDA machine)
    reconstruct_preset: str = "cpu"
    reconstruct_iterations: int | None = None  # None: the preset's
    # scene: None = written from the capture by `gwm scene init` (support, objects, masses, robot);
    # a path = the user's own scene file, which overrides that
    scene_file: str | None = None
    scene_scale: float | None = None  # metres per capture unit, only for a capture without a metric cue
    # simulated demonstrations (tasks without a valid target in the scene are skipped)
    tasks: tuple[str, ...] = ("pick_place", "pick_place_bowl", "push")
    train_episodes_per_task: int = 10
    heldout_episodes_per_task: int = 2  # unseen seeds (object layouts) for validation
    episode_steps: int | None = None  # control steps per episode; None: each task's own (sim_tasks.tasks)
    rollout_shards_per_task: int = 2  # Prefect tasks per task, spread over the Dask cluster
    rollout_batch: int = 1  # episodes a shard steps together in one Newton model (worlds; `gwm sim rollout --batch`)
    # Where the simulator (rollouts, validation's replay) and the world model's training run: "cpu", or "cuda"
    # ("cuda:N") on a GPU machine. Reconstruction runs where its preset says (the "gpu" preset: CUDA).
    device: str = "cpu"
    dask_address: str | None = None  # None: a local Dask cluster
    dask_workers: int = 2
    # world model
    train_preset: str = "cpu"
    # total VAE + dynamics steps, split as the preset splits them; None: the preset's own
    train_steps: int | None = None
    validate_horizon: int = 16
    validate_windows: int = 64
    baseline_steps: int | None = None  # training steps of the 2D video baseline; None: its default
    # The 2D video baseline, trained on as many samples as the world model (fair), takes about an hour on 2 CPU
    # cores: off in the pipeline (`make run` stays under 30 min); benchmarks/world_model.py runs it.
    validate_video_baseline: bool = False
    out_root: str = "datasets/outputs/kitchen"

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else PROJECT_ROOT / p

    @property
    def out(self) -> Path:
        return self.path(self.out_root)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tasks"] = list(self.tasks)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PipelineConfig":
        return cls(**{k: coerce_setting(k, v) for k, v in d.items()})


class PipelineSettingError(ValueError):
    """A setting that does not exist or does not fit its field; the message names the fix."""


def coerce_setting(key: str, value):
    """value for PipelineConfig field `key`, checked against the field's type. Strings (what
    `--set KEY=VALUE` gives) are parsed as that type: a number, `null` for None, comma-separated
    names or a JSON list for a tuple. Raises PipelineSettingError naming the fix."""
    hints = typing.get_type_hints(PipelineConfig)
    if key not in hints:
        close = difflib.get_close_matches(key, list(hints), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise PipelineSettingError(f"unknown setting {key!r}; {hint}settings are: {', '.join(hints)}")
    try:
        return _coerce(value, hints[key])
    except TypeError:
        raise PipelineSettingError(f"setting {key}={value!r}: needs {_describe(hints[key])}") from None
    except ValueError as e:
        raise PipelineSettingError(f"setting {key}={value!r}: {e}") from None


def _coerce(value, tp):
    """value as type tp; TypeError if it is not one, ValueError for bad JSON."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):  # X | None
        if value is None or value == "null":
            if type(None) in typing.get_args(tp):
                return None
            raise TypeError
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(value, inner)
    if tp is str and isinstance(value, str):
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.strip().lower() in ("true", "1", "yes")
        raise TypeError
    if tp in (int, float):
        if isinstance(value, str):
            try:
                return tp(value)
            except ValueError:
                pass
        elif isinstance(value, int) and not isinstance(value, bool) or tp is float and isinstance(value, float):
            return tp(value)
    elif typing.get_origin(tp) is tuple:
        if isinstance(value, str):
            value = _json(value) if value.lstrip().startswith("[") else [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
    raise TypeError


def _json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e})") from None


def _describe(tp) -> str:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is tuple:
        return 'a list of names (a,b or JSON ["a", "b"])'
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            type(None): "null"}.get(tp, str(tp))


PRESETS: dict[str, PipelineConfig] = {
    # The bundled kitchen stills; metric from the printed 10 cm marker on the counter, scene authored by init.
    "kitchen": PipelineConfig(),
    # The second bundled sample: another table, objects and light, an 8 cm marker.
    "workbench": PipelineConfig(name="workbench", capture_input="datasets/workbench/images", marker_size_m=0.08,
                                out_root="datasets/outputs/workbench"),
    # Any capture (`gwm pipeline run INPUT` or the real2sim/capture deployment): give its input and one metric cue.
    "capture": PipelineConfig(name="capture", capture_input="", marker_size_m=None, out_root=""),
    # The kitchen on a CUDA machine: the 3DGS schedule, batched rollouts on MuJoCo Warp, the DiT-S world model.
    "gpu": PipelineConfig(name="kitchen-gpu", reconstruct_preset="gpu", train_episodes_per_task=64,
                          heldout_episodes_per_task=8, rollout_batch=32, device="cuda", train_preset="gpu",
                          out_root="datasets/outputs/kitchen-gpu"),
    # Every stage for real, cut down: a short reconstruction, a few episodes, a short training.
    "smoke": PipelineConfig(
        name="kitchen-smoke",
        capture_input="datasets/kitchen/orbit.mp4",  # the video path
        # The scene is authored from the splat, so the splat must be good enough to find objects in: with
        # 16 frames and 300 iterations (5.6k Gaussians) scene init split the can and invented a wall piece;
        # 16 or 32 frames with 1000 iterations (13-17k) found the 4 objects and nothing else.
        capture_max_frames=32,
        reconstruct_iterations=1000,
        tasks=("pick_place",),
        train_episodes_per_task=3,
        heldout_episodes_per_task=1,
        episode_steps=150,  # pick tasks succeed by step 75-125
        rollout_shards_per_task=2,
        train_preset="cpu",
        train_steps=60,
        validate_horizon=4,
        validate_windows=8,
        baseline_steps=50,
        out_root="datasets/outputs/kitchen-smoke",
    ),
}


def capture_overrides(capture_input: str, overrides: dict | None = None) -> dict:
    """Overrides that point a preset at another capture: its input, and (unless given) a name and an
    output folder named after it (datasets/outputs/<name>)."""
    overrides = dict(overrides or {})
    stem = Path(capture_input.rstrip("/")).stem or "capture"
    if stem in ("images", "frames") or (Path(capture_input).name == "transforms.json"):
        stem = Path(capture_input.rstrip("/")).parent.name or stem  # datasets/<name>/images -> <name>
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)
    overrides["capture_input"] = capture_input
    overrides.setdefault("name", name)
    overrides.setdefault("out_root", f"datasets/outputs/{overrides['name']}")
    return overrides


def resolve_config(preset: str = "kitchen", overrides: dict | None = None) -> PipelineConfig:
    """A preset with overrides (field name -> value, or its text form), each checked by coerce_setting,
    and the names it holds (tasks, presets) checked against what exists, so a typo fails now, in one
    line, not hours later in the stage that uses it."""
    from gwm.model.config import PRESETS as TRAIN_PRESETS
    from gwm.reconstruct.config import PRESETS as RECONSTRUCT_PRESETS
    from sim_tasks.tasks import task_names

    if preset not in PRESETS:
        raise PipelineSettingError(f"unknown pipeline preset {preset!r}; choose one of {', '.join(sorted(PRESETS))}")
    cfg = replace(PRESETS[preset], **{k: coerce_setting(k, v) for k, v in (overrides or {}).items()})
    for key, names, known in (("tasks", cfg.tasks, task_names()), ("reconstruct_preset", [cfg.reconstruct_preset],
                              RECONSTRUCT_PRESETS), ("train_preset", [cfg.train_preset], TRAIN_PRESETS)):
        unknown = [n for n in names if n not in known]
        if unknown:
            raise PipelineSettingError(f"setting {key}: {', '.join(map(repr, unknown))} "
                                       f"{'is' if len(unknown) == 1 else 'are'} not known; choose from {', '.join(known)}")
        if not names:
            raise PipelineSettingError(f"setting {key}: give at least one; choose from {', '.join(known)}")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", cfg.device):
        raise PipelineSettingError(f"setting device={cfg.device!r}: choose cpu, cuda or cuda:N")
    if cfg.rollout_batch < 1:
        raise PipelineSettingError(f"setting rollout_batch={cfg.rollout_batch}: needs 1 or more episodes per batch")
    if not cfg.capture_input:
        raise PipelineSettingError("setting capture_input: give the capture (a video, an image folder or a "
                                   "nerfstudio dataset), e.g. `gwm pipeline run /data/counter.mp4 --marker-size 0.10`")
    if not cfg.out_root:
        raise PipelineSettingError("setting out_root: give an output folder, e.g. --set out_root=datasets/outputs/mine")
    if not (cfg.marker_size_m or cfg.table_width_m or cfg.table_depth_m or cfg.metric_input or cfg.scene_scale):
        raise PipelineSettingError(
            "no metric cue: physics needs metres. Give one: marker_size_m (a printed ArUco marker lying on the "
            "table, e.g. 0.10), table_width_m / table_depth_m (the table's measured size), metric_input=true "
            "(a phone AR export with metric poses), or, if you know it, scene_scale (metres per capture unit)")
    return cfg


def check_devices(cfg: PipelineConfig) -> None:
    """Refuse, in one line before any stage runs, a config that needs a CUDA GPU on a machine without one."""
    wants = [what for what, on in (("device", cfg.device.startswith("cuda")),
                                   ("reconstruct_preset=gpu", cfg.reconstruct_preset == "gpu"),
                                   ("train_preset=gpu", cfg.train_preset == "gpu")) if on]
    if wants:
        import torch

        if not torch.cuda.is_available():
            raise PipelineSettingError(f"{', '.join(wants)} need a CUDA GPU and torch sees none here; run the "
                                       "kitchen preset on a CPU machine (or --set device=cpu and the cpu presets)")


def parse_set_options(items: list[str]) -> dict[str, str]:
    """`--set KEY=VALUE` options -> {KEY: VALUE text}; resolve_config parses the text."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PipelineSettingError(f"--set {item!r}: use KEY=VALUE, e.g. --set train_steps=600 or "
                                       "--set tasks=push,pick_place")
        out[key.strip()] = value
    return out

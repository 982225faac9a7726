"""What one run of the real2sim pipeline does: inputs, output root, and each stage's knobs.

Presets by name: "kitchen" (the bundled capture, defaults that finish on a 2-core CPU) and
"smoke" (the same stages, cut down to a few minutes, for CI). Paths are relative to the
project root unless absolute.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PipelineConfig:
    name: str = "kitchen"
    # capture: a video, an image folder, a COLMAP model or a nerfstudio dataset
    capture_input: str = "datasets/kitchen/images"
    reference_poses: str | None = "datasets/kitchen/ground_truth.json"  # metric alignment + pose error
    capture_max_frames: int = 120
    # reconstruction (built-in trainer preset; "gpu" on a CUDA machine)
    reconstruct_preset: str = "cpu"
    reconstruct_iterations: int | None = None  # None: the preset's
    # scene assembly
    scene_file: str = "datasets/kitchen/scene.toml"
    # simulated demonstrations
    tasks: tuple[str, ...] = ("pick_place", "pick_place_bowl", "push")
    train_episodes_per_task: int = 10
    heldout_episodes_per_task: int = 2  # unseen seeds (object layouts) for validation
    episode_steps: int = 150
    rollout_shards_per_task: int = 2  # Prefect tasks per task, spread over the Dask cluster
    dask_address: str | None = None  # None: a local Dask cluster
    dask_workers: int = 2
    # world model
    train_preset: str = "cpu"
    # total VAE + dynamics steps, split as the preset splits them; None: the preset's own
    train_steps: int | None = None
    validate_horizon: int = 8
    validate_windows: int = 64
    baseline_steps: int | None = None  # training steps of the 2D video baseline; None: its default
    out_root: str = "datasets/outputs/kitchen"
    extra: dict = field(default_factory=dict)

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
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown pipeline settings {unknown}; known settings are {sorted(known)}")
        d = dict(d)
        if "tasks" in d:
            d["tasks"] = tuple(d["tasks"])
        return cls(**d)


PRESETS: dict[str, PipelineConfig] = {
    "kitchen": PipelineConfig(),
    # Every stage for real, cut down: a short reconstruction, a few episodes, a short training.
    "smoke": PipelineConfig(
        name="kitchen-smoke",
        capture_input="datasets/kitchen/orbit.mp4",  # the video path, 16 frames
        capture_max_frames=16,
        reconstruct_iterations=300,
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


def pipeline_preset(name: str, **overrides) -> PipelineConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown pipeline preset {name!r}; choose one of {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides)

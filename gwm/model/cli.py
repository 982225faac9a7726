"""`gwm model ...`: train the Gaussian world model, validate it, write the synthetic dataset.

DATASET is a dataset folder (any format gwm.data.open_dataset reads) or `synthetic[:EPISODES]` for the
built-in synthetic pushing world (gwm.model.synthetic).
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Gaussian world model: train, validate.", no_args_is_help=True)


def open_world_dataset(spec: str):
    """A dataset path, or 'synthetic[:EPISODES[:SEED]]' -> an object with the gwm.data read API."""
    if spec.startswith("synthetic"):
        from gwm.model.synthetic import SyntheticPushConfig, SyntheticPushDataset

        parts = spec.split(":")
        kw = {}
        if len(parts) > 1 and parts[1]:
            kw["num_episodes"] = int(parts[1])
        if len(parts) > 2 and parts[2]:
            kw["seed"] = int(parts[2])
        return SyntheticPushDataset(SyntheticPushConfig(**kw))
    from gwm.data import open_dataset

    if not Path(spec).exists():
        raise typer.BadParameter(f"dataset {spec} does not exist; pass a dataset folder or 'synthetic[:EPISODES]'")
    return open_dataset(spec)


def train_world_model(dataset: str, out: str | Path, preset_name: str = "cpu", resume: bool = True,
                      device: str | None = None, progress: bool = True, **overrides) -> Path:
    """Train (or resume) into `out`; returns the path of the final model file."""
    from gwm.model.config import preset
    from gwm.model.training import train_on_dataset

    return train_on_dataset(open_world_dataset(dataset), out, preset(preset_name, **overrides), source=dataset,
                            resume=resume, device=device, progress=progress)


@app.command()
def train(
    dataset: str = typer.Argument(..., help="dataset folder, or synthetic[:EPISODES]"),
    out: Path = typer.Argument(..., help="output folder (checkpoints, logs, model)"),
    preset: str = typer.Option("cpu", help="cpu | gpu | tiny"),
    resume: bool = typer.Option(True, help="continue from OUT/checkpoint.safetensors when it exists"),
    device: str = typer.Option(None, help="cpu, cuda, cuda:1 ... (default: cuda when available)"),
) -> None:
    """Train the Gaussian VAE, then the latent dynamics DiT. Data parallel (N GPUs, or N CPU processes):
    torchrun --nproc_per_node N -m pipelines.cli_main model train ... (the preset's batch is the global batch)."""
    from gwm.model.checkpoint import CheckpointError
    from gwm.model.train import ProcessCountError

    try:
        path = train_world_model(dataset, out, preset, resume=resume, device=device)
    except (CheckpointError, ProcessCountError) as e:  # a checkpoint or a process count that does not fit
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"model: {path}")


@app.command()
def validate(
    model: Path = typer.Argument(..., help="model.safetensors (or a training checkpoint)"),
    dataset: str = typer.Argument(..., help="the dataset the model was trained on (held-out split is used)"),
    out: Path = typer.Argument(..., help="report folder"),
    horizon: int = typer.Option(16),
    max_windows: int = typer.Option(64),
    image_size: int = typer.Option(None, help="render size (default: the dataset cameras' own resolution)"),
    baseline_steps: int = typer.Option(None, help="training steps of the 2D video baseline"),
) -> None:
    """Open-loop predictions on held-out episodes vs the simulator (recorded replay), with baselines."""
    from dataclasses import replace

    from gwm.model.validate import ValidationConfig, markdown_table
    from gwm.model.validate import validate as run_validation

    cfg = ValidationConfig(horizon=horizon, max_windows=max_windows, image_size=image_size)
    if baseline_steps is not None:  # an explicit budget replaces "as many samples as the world model saw"
        cfg = replace(cfg, baseline=replace(cfg.baseline, steps=baseline_steps), baseline_match_samples=False)
    result = run_validation(model, open_world_dataset(dataset), out, cfg)
    typer.echo(markdown_table(result))
    typer.echo(f"GWM better than each baseline at every step: {result.info['beats_baselines']}; "
               f"report: {out / 'report.md'} (the kinematic baselines need the simulator: benchmarks/world_model.py "
               "and the pipeline's validation stage add them)")


@app.command()
def synth(
    out: Path = typer.Argument(..., help="dataset folder to write"),
    episodes: int = typer.Option(300),
    format: str = typer.Option("lerobot", help="lerobot | hdf5"),
    images: bool = typer.Option(True, help="render camera images into the dataset"),
) -> None:
    """Write the synthetic pushing world as a gwm dataset (for pipelines that want one on disk)."""
    from gwm.model.synthetic import SyntheticPushConfig, write_synthetic_dataset

    path = write_synthetic_dataset(out, SyntheticPushConfig(num_episodes=episodes), format=format, with_images=images)
    typer.echo(f"dataset: {path}")

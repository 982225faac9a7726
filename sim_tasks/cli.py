"""`gwm sim ...`: scripted rollouts in a scene USD, and a small demo scene to try them on."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Simulation tasks and scripted demonstrations (embedded Newton simulator).",
                  no_args_is_help=True)


@app.command()
def rollout(
    scene_usd: Path = typer.Argument(..., exists=True, dir_okay=False, help="Scene USD written by 'gwm export usd'"),
    task: str = typer.Option("pick_place", help="pick_place | pick_place_bowl | pick_place_explore | push | push_explore"),
    episodes: int = typer.Option(10, min=1, help="Number of episodes (seeds seed_start .. seed_start+N-1)"),
    out: Path = typer.Option(..., help="Dataset root (created; a dataset there is resumed: seeds it holds are skipped)"),
    workers: int = typer.Option(2, min=1, help="Parallel simulator processes"),
    batch: int = typer.Option(1, min=1, help="Worlds per simulator: episodes stepped together in one Newton model"),
    seed_start: int = typer.Option(0, help="First seed"),
    steps: int = typer.Option(None, min=1, help="Episode length in control steps (default: the task's, 150)"),
    format: str = typer.Option("lerobot", help="lerobot | hdf5"),
    width: int = typer.Option(128, min=16), height: int = typer.Option(128, min=16),
    depth: bool = typer.Option(True, help="Record depth images too"),
    videos: bool = typer.Option(True, help="Preview mp4 per episode in OUT/episode_videos"),
    object_name: str = typer.Option(None, help="Object to manipulate (default: the first graspable one)"),
) -> None:
    """Run scripted demonstrations of TASK and record them (images, body poses, canonical Gaussians).

    Re-running the same command after a kill finishes the dataset: recorded seeds are kept, the rest recorded."""
    from dataclasses import replace

    from gwm.data.api import FORMATS
    from gwm.data.spec import DatasetError
    from sim_tasks.rendering import CameraConfig
    from sim_tasks.rollout import RolloutConfig, run_rollouts
    from sim_tasks.tasks import TaskConfig, TaskNotApplicable, task_names

    if task not in task_names():
        raise typer.BadParameter(f"unknown task {task!r}; choose one of {task_names()}", param_hint="--task")
    if format not in FORMATS:
        raise typer.BadParameter(f"unknown format {format!r}; choose one of {list(FORMATS)}", param_hint="--format")
    task_config = replace(TaskConfig(), object_name=object_name)
    if steps is not None:
        task_config = replace(task_config, max_steps=steps)
    config = RolloutConfig(task=task_config, cameras=CameraConfig(width=width, height=height, depth=depth),
                           dataset_format=format, save_videos=videos)
    try:
        summary = run_rollouts(scene_usd, task, range(seed_start, seed_start + episodes), out, workers=workers,
                               config=config, batch=batch)
    except TaskNotApplicable as e:  # a skip, not a failure: nothing was recorded
        typer.echo(f"skipped {task}: {e}")
        return
    except DatasetError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    n = len(summary.episodes)
    if n:
        typer.echo(f"{task}: {n} episodes, success {summary.success_rate:.0%} "
                   f"({sum(e['success'] for e in summary.episodes)}/{n}), {summary.wall_time:.0f} s, "
                   f"{60 * n / summary.wall_time:.1f} episodes/min -> {summary.dataset_path}")


@app.command("demo-scene")
def demo_scene(out: Path = typer.Argument(..., help="Where to write the scene (.usda/.usd/.usdz)")) -> None:
    """Write the synthetic tabletop scene (table, two blocks, a tray) in the scene USD layout."""
    from sim_tasks.demo_scene import write_demo_scene_usd

    typer.echo(str(write_demo_scene_usd(out)))


@app.command("tasks")
def tasks() -> None:
    """List the registered task names."""
    from sim_tasks.tasks import task_names

    for name in task_names():
        typer.echo(name)


if __name__ == "__main__":
    app()

"""`gwm plan ...`: model-predictive control with the world model, executed in the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Plan with the world model (MPC) and execute in the simulator.", no_args_is_help=True)


def _plan(task: str, scene_usd: Path, model: Path | None, method: str, layouts: int, seed_start: int | None,
          samples: int, iterations: int, device: str, sample_steps: int, out: Path | None) -> None:
    from sim_tasks.planning_runs import (METHODS, load_setup, planning_config, run_method, summarize, unseen_seeds,
                                         write_video)

    if method not in METHODS:
        raise typer.BadParameter(f"method {method!r}: choose one of {', '.join(METHODS)}")
    if method in ("world_model", "random_shooting") and model is None:
        raise typer.BadParameter(f"method {method!r} plans with the world model: give --model")
    try:
        setup = load_setup(scene_usd, task, model, device, cameras=out is not None, sample_steps=sample_steps)
    except ValueError as e:  # also TaskNotApplicable: the scene has no valid target for the task
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    cfg = planning_config(task, samples, iterations)
    seeds = unseen_seeds(layouts) if seed_start is None else list(range(seed_start, seed_start + layouts))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for i, seed in enumerate(seeds):
        o = run_method(setup, method, seed, cfg, video=out is not None and i == 0 and method != "scripted")
        outcomes.append(o)
        mean = sum(o.replan_seconds) / max(len(o.replan_seconds), 1)
        typer.echo(f"layout {seed}: success={o.success} final error {o.final_error * 1e3:.1f} mm, "
                   f"{len(o.replan_seconds)} replans, {mean:.2f} s each")
        if o.frames:
            path = write_video(out / f"{method}_layout{seed}.mp4", o.frames, round(1 / setup.runner.backend.control_dt))
            typer.echo(f"video: {path}")
    summary = summarize(outcomes)
    typer.echo(json.dumps(summary, indent=1))
    if out is not None:
        from gwm.atomic_io import write_json_atomic

        write_json_atomic(out / "outcomes.json", {"task": task, "method": method, "summary": summary,
                                                  "layouts": [{"seed": o.seed, "success": o.success,
                                                               "final_error_m": o.final_error} for o in outcomes]})


SCENE = typer.Argument(..., exists=True, dir_okay=False, help="Scene USD the model's data was recorded in")
MODEL = typer.Option(None, exists=True, dir_okay=False, help="world model (model.safetensors); needed by world_model "
                     "and random_shooting")
METHOD = typer.Option("world_model", help="world_model | random_shooting | oracle | scripted")
LAYOUTS = typer.Option(3, min=1, help="layouts (task seeds no dataset recorded)")
SEED_START = typer.Option(None, help="first layout seed (default: 50,000, unseen by the pipeline)")
SAMPLES = typer.Option(32, min=1, help="planner samples per iteration")
ITERATIONS = typer.Option(3, min=1, help="planner iterations per replan")
DEVICE = typer.Option("cpu", help="cpu | cuda (the world model's device)")
SAMPLE_STEPS = typer.Option(2, min=1, help="Euler steps per world-model prediction (1: half the cost)")
OUT = typer.Option(None, help="folder for outcomes.json and a video of the first layout")


@app.command()
def push(scene_usd: Path = SCENE, model: Path = MODEL, method: str = METHOD, layouts: int = LAYOUTS,
         seed_start: int = SEED_START, samples: int = SAMPLES, iterations: int = ITERATIONS, device: str = DEVICE,
         sample_steps: int = SAMPLE_STEPS, out: Path = OUT) -> None:
    """Push the task's object to its goal: the planner searches tool motions with the model, the simulator
    executes them; prints success and final object-to-goal error per layout."""
    _plan("push", scene_usd, model, method, layouts, seed_start, samples, iterations, device, sample_steps, out)


@app.command("pick_place")
def pick_place(scene_usd: Path = SCENE, model: Path = MODEL, method: str = METHOD, layouts: int = LAYOUTS,
               seed_start: int = SEED_START, samples: int = SAMPLES, iterations: int = ITERATIONS,
               device: str = DEVICE, sample_steps: int = SAMPLE_STEPS, out: Path = OUT) -> None:
    """Pick the task's object up and place it at its goal: after the scripted approach the planner chooses the
    pick-and-place primitive's grasp and place numbers with the model (the place numbers again after the lift),
    the simulator executes them; prints success and final object-to-goal error per layout."""
    _plan("pick_place", scene_usd, model, method, layouts, seed_start, samples, iterations, device, sample_steps, out)

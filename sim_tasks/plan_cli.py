"""`gwm plan ...`: model-predictive control with the world model, executed in the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Plan with the world model (MPC) and execute in the simulator.", no_args_is_help=True)


@app.command()
def push(
    scene_usd: Path = typer.Argument(..., exists=True, dir_okay=False, help="Scene USD the model's data was recorded in"),
    model: Path = typer.Option(None, exists=True, dir_okay=False, help="world model (model.safetensors); "
                               "needed by world_model and random_shooting"),
    method: str = typer.Option("world_model", help="world_model | random_shooting | oracle | scripted"),
    layouts: int = typer.Option(3, min=1, help="layouts (task seeds no dataset recorded)"),
    seed_start: int = typer.Option(None, help="first layout seed (default: 50,000, unseen by the pipeline)"),
    samples: int = typer.Option(32, min=1, help="planner samples per iteration"),
    iterations: int = typer.Option(3, min=1, help="planner iterations per replan"),
    device: str = typer.Option("cpu", help="cpu | cuda (the world model's device)"),
    sample_steps: int = typer.Option(2, min=1, help="Euler steps per world-model prediction (1: half the cost)"),
    out: Path = typer.Option(None, help="folder for outcomes.json and a video of the first layout"),
) -> None:
    """Push the task's object to its goal: the planner searches tool motions with the model, the simulator
    executes them; prints success and final object-to-goal error per layout."""
    from dataclasses import replace

    from sim_tasks.planning_mpc import PushMPCConfig
    from sim_tasks.planning_runs import METHODS, load_setup, run_method, summarize, unseen_seeds, write_video

    if method not in METHODS:
        raise typer.BadParameter(f"method {method!r}: choose one of {', '.join(METHODS)}")
    if method in ("world_model", "random_shooting") and model is None:
        raise typer.BadParameter(f"method {method!r} plans with the world model: give --model")
    try:
        setup = load_setup(scene_usd, "push", model, device, cameras=out is not None, sample_steps=sample_steps)
    except ValueError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    base = PushMPCConfig()
    cfg = replace(base, planner=replace(base.planner, samples=samples, iterations=iterations,
                                        elites=max(1, min(base.planner.elites, samples))))
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

        write_json_atomic(out / "outcomes.json", {"method": method, "summary": summary,
                                                  "layouts": [{"seed": o.seed, "success": o.success,
                                                               "final_error_m": o.final_error} for o in outcomes]})

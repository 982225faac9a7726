"""`gwm data ...`: check and convert demonstration datasets."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Demonstration datasets: LeRobot v3.0 and robomimic / Isaac Lab HDF5.", no_args_is_help=True)


@app.command()
def check(path: Path = typer.Argument(..., help="dataset root (LeRobot) or folder / .hdf5 file (HDF5)"),
          as_json: bool = typer.Option(False, "--json", help="print the summary as JSON")) -> None:
    """Validate a dataset (reads every episode) and print a summary; exits 1 on a bad dataset."""
    from gwm.data.api import check_dataset
    from gwm.data.spec import DatasetError

    try:
        summary = check_dataset(path)
    except (DatasetError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    rate = summary["success_rate"]
    gaussians = summary["gaussians"]
    roles = summary["body_roles"] or {}
    bodies = [f"{b} ({roles.get(b, 'role unknown')}, {gaussians.get(b, 0)} Gaussians)" for b in summary["bodies"]]
    lines = [
        f"format:       {summary['format']}",
        f"path:         {summary['path']}",
        f"fps:          {summary['fps']}",
        f"episodes:     {summary['episodes']}",
        f"frames:       {summary['frames']}",
        f"success rate: {'n/a' if rate is None else f'{rate:.1%}'}",
        f"cameras:      {', '.join(summary['cameras']) or '-'}",
        f"bodies:       {', '.join(bodies) or '-'}",
        f"tasks:        {'; '.join(summary['tasks']) or '-'}",
        "features:",
    ]
    lines += [f"  {k:<34} {v['dtype']:<8} {tuple(v['shape'])}" for k, v in summary["features"].items()]
    typer.echo("\n".join(lines))
    typer.echo("OK")


@app.command()
def convert(src: Path = typer.Argument(..., help="source dataset"),
            dst: Path = typer.Argument(..., help="new dataset folder (must be empty or absent)"),
            to: str = typer.Option(..., "--to", help="lerobot | hdf5"),
            image_format: str = typer.Option("video", "--image-format", help="LeRobot images: video | png")) -> None:
    """Convert a dataset between LeRobot v3.0 and robomimic / Isaac Lab HDF5."""
    from gwm.data.api import FORMATS, convert_dataset
    from gwm.data.spec import DatasetError

    if to not in FORMATS:
        typer.echo(f"error: --to must be one of {', '.join(FORMATS)}", err=True)
        raise typer.Exit(2)
    try:
        out = convert_dataset(src, dst, to, image_format=image_format, progress=True)
    except (DatasetError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {out}")

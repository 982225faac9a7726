"""`gwm reconstruct run DATASET_DIR OUT_DIR --backend builtin --preset cpu`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer

from gwm.cli_errors import user_errors

app = typer.Typer(help="Reconstruct a capture (nerfstudio layout) into a metric Gaussian splat.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Reconstruct a capture (nerfstudio layout) into a metric Gaussian splat."""  # keeps `run` a sub-command


@app.command()
def run(
    dataset_dir: Path = typer.Argument(..., help="capture folder: transforms.json, images/, sparse_pc.ply"),
    out_dir: Path = typer.Argument(..., help="output folder: splat.ply, metrics.json, eval/, training_curve.png"),
    backend: str = typer.Option("builtin", help="builtin (our 3DGS trainer, CPU or CUDA) | nerfstudio (splatfacto, CUDA)"),
    preset: str = typer.Option("cpu", help="built-in trainer preset: cpu | gpu"),
    iterations: Optional[int] = typer.Option(None, help="override the number of training steps"),
    device: Optional[str] = typer.Option(None, help="built-in trainer device (cpu, cuda)"),
    downscale: Optional[int] = typer.Option(None, help="built-in trainer image downscale factor"),
    nerfstudio_venv: Optional[str] = typer.Option(None, help="nerfstudio venv (default $GWM_NERFSTUDIO_VENV)"),
) -> None:
    from gwm.reconstruct import NerfstudioConfig, reconstruct, train_preset

    if backend == "builtin":
        overrides = {k: v for k, v in dict(iterations=iterations, device=device, downscale=downscale).items() if v is not None}
        config = train_preset(preset, **overrides)
    elif backend == "nerfstudio":
        config = NerfstudioConfig(venv=nerfstudio_venv)
        if iterations is not None:
            config = replace(config, iterations=iterations)
    else:
        raise typer.BadParameter(f"unknown backend {backend!r}; choose builtin or nerfstudio", param_hint="--backend")
    with user_errors():  # a missing capture or nerfstudio venv: one line naming the fix
        result = reconstruct(dataset_dir, out_dir, config)
    psnr = "n/a" if result.psnr is None else f"{result.psnr:.2f} dB"
    ssim = "n/a" if result.ssim is None else f"{result.ssim:.3f}"
    typer.echo(f"{result.backend}: {result.num_gaussians} Gaussians -> {result.splat_path}")
    typer.echo(f"held-out PSNR {psnr}, SSIM {ssim}, {result.seconds / 60:.1f} min")

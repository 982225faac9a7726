"""`gwm export ...`: write a scene (scene.toml, a scene USD, or a bare splat PLY) to a target format."""

from __future__ import annotations

from pathlib import Path

import typer

from gwm.cli_errors import fail, user_errors, warnings_as_lines

app = typer.Typer(help="Export scenes: USD/USDZ (Isaac Sim 6, Newton), NuRec (Isaac Sim 5), PLY/SPZ.",
                  no_args_is_help=True)

SOURCE_HELP = "scene.toml (assembled now), a scene .usd/.usdz from export_usd, or a splat .ply"


def load_scene_source(path: Path, splat: Path | None = None):
    """SceneAsset from a scene file (splat: its splat instead of input.splat), a scene USD, or a bare splat
    PLY (background only, no colliders)."""
    import numpy as np
    import torch

    from gwm.scene.asset import SceneAsset

    suffix = path.suffix.lower()
    if suffix == ".toml":
        from gwm.scene.assemble import assemble_scene

        return assemble_scene(path, splat=splat)
    if suffix in (".usd", ".usda", ".usdc", ".usdz"):
        from gwm.scene.usd_scene import read_usd_scene

        return read_usd_scene(path)
    if suffix == ".ply":
        from gwm.ply import read_ply, read_ply_metadata

        return SceneAsset(background=read_ply(path), objects=[], support_vertices=np.zeros((0, 3)),
                          support_faces=np.zeros((0, 3)), robot_base=torch.eye(4),
                          metadata={"source": {"splat": str(path), "splat_metadata": read_ply_metadata(path)}})
    raise typer.BadParameter(f"{path}: expected {SOURCE_HELP}")


def _run(fn):
    with user_errors(), warnings_as_lines():
        return fn()


@app.command()
def usd(source: Path = typer.Argument(..., help=SOURCE_HELP),
        out: Path = typer.Argument(..., help=".usdz / .usd / .usda / .usdc"),
        splat: Path = typer.Option(None, help="with a scene file: splat PLY to use instead of its input.splat")
        ) -> None:
    """UsdVol.ParticleField3DGaussianSplat + UsdPhysics stage (Isaac Sim 6.x, Newton); a scene file is assembled
    first (Z up, metres, UsdPhysics bodies) and what assembly found is printed."""
    from exporters.usd import export_usd

    if splat is not None and source.suffix.lower() != ".toml":
        raise fail(f"--splat goes with a scene file (.toml); {source} is not one")
    scene = _run(lambda: load_scene_source(source, splat))
    if source.suffix.lower() == ".toml":
        from gwm.scene.cli import summary

        typer.echo(summary(scene))
    typer.echo(f"wrote {_run(lambda: export_usd(scene, out))}")


@app.command()
def nurec(source: Path = typer.Argument(..., help=SOURCE_HELP),
          out: Path = typer.Argument(..., help="output .usdz"),
          background_only: bool = typer.Option(False, help="leave the movable objects out")) -> None:
    """NuRec USDZ (Isaac Sim 5.0-6.0): static Gaussians + collision proxy mesh."""
    from exporters.nurec import export_nurec

    typer.echo(f"wrote {_run(lambda: export_nurec(load_scene_source(source), out, include_objects=not background_only))}")


@app.command()
def ply(source: Path = typer.Argument(..., help=SOURCE_HELP),
        out_dir: Path = typer.Argument(..., help="folder for scene.ply, background.ply, <object>.ply")) -> None:
    """INRIA 3DGS PLY per object (world pose) and for the whole scene (Unreal plugins, SuperSplat)."""
    from exporters.splat_files import export_ply

    for name, p in _run(lambda: export_ply(load_scene_source(source), out_dir)).items():
        typer.echo(f"{name}: {p}")


@app.command()
def spz(source: Path = typer.Argument(..., help=SOURCE_HELP),
        out_dir: Path = typer.Argument(..., help="folder for scene.spz, background.spz, <object>.spz")) -> None:
    """Niantic SPZ per object and for the whole scene (web viewers; lossy, ~10x smaller)."""
    from exporters.splat_files import export_spz

    for name, p in _run(lambda: export_spz(load_scene_source(source), out_dir)).items():
        typer.echo(f"{name}: {p}")

"""`gwm scene ...`: write a scene file from a capture (init) and check what assembly finds in one.

`gwm scene assemble` (scene file -> USD) is `gwm export usd`, registered under this group by the top-level CLI
(pipelines/cli_main.py): writing USD is the exporters' job.
"""

from __future__ import annotations

from pathlib import Path

import typer

from gwm.cli_errors import user_errors, warnings_as_lines

app = typer.Typer(help="Scene files: write one from a capture (init), assemble one into a USD with bodies and "
                       "colliders.", no_args_is_help=True)


def summary(scene) -> str:
    """Human-readable lines: plane, floaters, each object's pose, size, mass."""
    md = scene.metadata
    st = md.get("stats", {})
    lines = []
    if "plane" in md:
        p = md["plane"]
        lines.append(f"support plane: point {_fmt(p['point'])} normal {_fmt(p['normal'])} ({p['method']}, "
                     f"{p['inliers']} inliers)")
    if st:
        lines.append(f"gaussians: {st['input_gaussians']} in, {st['floaters_removed']} floaters removed, "
                     f"{st['background_gaussians']} background")
    for o in scene.objects:
        s = st.get("objects", {}).get(o.name, {})
        size = _fmt(s["size_body_axes"]) if "size_body_axes" in s else "?"
        lines.append(f"  {o.name:<16} com {_fmt(o.world_from_body[:3, 3].tolist())}  size {size}  "
                     f"mass {o.mass:g} kg  friction {o.friction:g}  {len(o.splats)} gaussians, "
                     f"{len(o.collision_vertices)} hull vertices  {o.role}{_role_reason(s)}")
    return "\n".join(lines)


def _role_reason(stats: dict) -> str:
    """Why the object got its role: the scene file, or the container test's opening vs what it needs."""
    if stats.get("role_from") != "shape":
        return " (scene file)" if stats.get("role_from") else ""
    t = stats["container_test"]
    needed = "no other object" if t["needed_opening"] is None else f"{100 * t['needed_opening']:.1f} cm"
    return f" (shape: opening {100 * t['opening']:.1f} cm, another object needs {needed})"


def _fmt(v) -> str:
    return "[" + ", ".join(f"{x:.3f}" for x in v) + "]"


SPLAT_HELP = "splat PLY to use instead of the scene file's input.splat"


@app.command()
def init(splat: Path = typer.Argument(..., help="the splat PLY (metric, Z up: what `gwm reconstruct run` writes)"),
         capture: Path = typer.Argument(..., help="the capture folder (`gwm capture run`): transforms.json, images/"),
         out: Path = typer.Argument(..., help="scene file to write (.toml); a preview PNG is saved next to it"),
         scale: float = typer.Option(None, help="metres per capture unit, for a capture without a metric cue"),
         overwrite: bool = typer.Option(False, help="replace OUT if it exists (only once the new file is complete)"),
         allow_unreachable: bool = typer.Option(False, help="write the file even if the robot cannot reach every "
                                                            "object (they stay as obstacles)")) -> None:
    """Write a scene file from a splat and its capture: support plane and region, objects, masses, robot."""
    from gwm.scene.autoscene import InitConfig, init_scene

    with user_errors(), warnings_as_lines():
        result = init_scene(splat, capture, out, InitConfig(scale=scale, allow_unreachable=allow_unreachable),
                            overwrite=overwrite)
    typer.echo(result.summary())
    typer.echo(f"wrote {result.scene_file} and {result.preview}")


@app.command()
def check(scene_file: Path = typer.Argument(..., help="scene TOML"),
          splat: Path = typer.Option(None, help=SPLAT_HELP)) -> None:
    """Validate SCENE_FILE and print what assembly finds, without writing anything."""
    from gwm.scene.assemble import assemble_scene

    with user_errors(), warnings_as_lines():
        scene = assemble_scene(scene_file, splat=splat)
    typer.echo(summary(scene))

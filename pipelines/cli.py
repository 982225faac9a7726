"""`gwm pipeline ...`: run the whole real2sim flow, or serve its deployments."""

from __future__ import annotations

import json
import os
import time

import typer

app = typer.Typer(help="Run the real2sim pipeline (Prefect) end to end, or serve its deployments.",
                  no_args_is_help=True)


SET_HELP = ("override a setting, KEY=VALUE (repeatable), e.g. --set train_steps=600 --set tasks=push,pick_place; "
            "keys: pipelines/config.py")


def _run(preset: str, overrides: dict, print_config: bool) -> None:
    from pipelines.config import PipelineSettingError, check_devices, resolve_config

    try:
        cfg = resolve_config(preset, overrides)
        if print_config:
            typer.echo(json.dumps(cfg.to_dict(), indent=1))
            return
        check_devices(cfg)
    except PipelineSettingError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    from pipelines.deploy import prefect_server
    from pipelines.report import print_summary

    start = time.perf_counter()
    with prefect_server() as url:
        typer.echo(f"Prefect API: {url}")
        from pipelines.flows import real2sim  # after PREFECT_API_URL is set

        summary = real2sim(preset=preset, overrides={k: v for k, v in cfg.to_dict().items() if k in overrides})
    print_summary(summary, time.perf_counter() - start)


def _set_options(set_: list[str]) -> dict:
    from pipelines.config import PipelineSettingError, parse_set_options

    try:
        return parse_set_options(set_)
    except PipelineSettingError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None


@app.command()
def kitchen(
    preset: str = typer.Option("kitchen", help="pipeline preset: kitchen | workbench | smoke | gpu (a CUDA machine)"),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    print_config: bool = typer.Option(False, "--print-config", help="print the resolved settings as JSON and exit"),
) -> None:
    """Run every stage on a bundled capture (the kitchen by default) and print where each output is."""
    _run(preset, _set_options(set_), print_config)


@app.command("run")
def run_capture(
    capture_input: str = typer.Argument(..., metavar="INPUT", help="a video, an image folder, or a nerfstudio "
                                        "dataset (a phone AR export: add --metric-input)"),
    marker_size: float = typer.Option(None, help="side (m) of a printed ArUco marker lying on the table"),
    table_width: float = typer.Option(None, help="measured width (m) of the table top (longer side)"),
    table_depth: float = typer.Option(None, help="measured depth (m) of the table top (shorter side)"),
    metric_input: bool = typer.Option(False, help="INPUT's poses are metric phone poses (ARKit/ARCore export)"),
    scene_file: str = typer.Option(None, help="your own scene file (default: written by `gwm scene init`)"),
    out: str = typer.Option(None, help="output folder (default: datasets/outputs/<INPUT's name>)"),
    set_: list[str] = typer.Option([], "--set", help=SET_HELP),
    print_config: bool = typer.Option(False, "--print-config", help="print the resolved settings as JSON and exit"),
) -> None:
    """Run every stage on any capture, nothing authored: frames and metric cameras from the capture's cue,
    the splat, a scene written by `gwm scene init`, demonstrations, the world model and its validation."""
    from pipelines.config import capture_overrides

    given = {"marker_size_m": marker_size, "table_width_m": table_width, "table_depth_m": table_depth,
             "scene_file": scene_file, "out_root": out}
    overrides = {k: v for k, v in given.items() if v is not None}
    if metric_input:
        overrides["metric_input"] = True
    overrides.update(_set_options(set_))
    _run("capture", capture_overrides(capture_input, overrides), print_config)


@app.command()
def serve(
    start_server: bool = typer.Option(True, help="start a local Prefect server on 127.0.0.1 if none answers"),
    port: int = typer.Option(4200),
) -> None:
    """Serve real2sim/kitchen and real2sim/capture; then `prefect deployment run real2sim/kitchen`."""
    from pipelines.deploy import api_healthy, prefect_server, serve_deployments

    url = os.environ.setdefault("PREFECT_API_URL", f"http://127.0.0.1:{port}/api")
    if not api_healthy(url) and not start_server:
        raise typer.BadParameter(f"no Prefect server answers at {url}; start one with `prefect server start`")
    with prefect_server(port=port) as url:
        typer.echo(f"Prefect API and UI: {url.removesuffix('/api')}; now run `prefect deployment run real2sim/kitchen`")
        serve_deployments()

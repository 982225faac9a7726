"""`gwm pipeline ...`: run the whole real2sim flow, or serve its deployments."""

from __future__ import annotations

import json
import os
import time

import typer

app = typer.Typer(help="Run the real2sim pipeline (Prefect) end to end, or serve its deployments.",
                  no_args_is_help=True)


@app.command()
def kitchen(
    preset: str = typer.Option("kitchen", help="pipeline preset: kitchen | smoke"),
    set_: list[str] = typer.Option([], "--set", help="override a setting, KEY=VALUE (repeatable), e.g. "
                                   "--set train_steps=600 --set tasks=push,pick_place; keys: pipelines/config.py"),
    print_config: bool = typer.Option(False, "--print-config", help="print the resolved settings as JSON and exit"),
) -> None:
    """Run every stage on the bundled kitchen capture and print where each output is."""
    from pipelines.config import PipelineSettingError, parse_set_options, resolve_config

    try:
        overrides = parse_set_options(set_)
        cfg = resolve_config(preset, overrides)
    except PipelineSettingError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    if print_config:
        typer.echo(json.dumps(cfg.to_dict(), indent=1))
        return
    from pipelines.deploy import prefect_server
    from pipelines.report import print_summary

    start = time.perf_counter()
    with prefect_server() as url:
        typer.echo(f"Prefect API: {url}")
        from pipelines.flows import real2sim  # after PREFECT_API_URL is set

        summary = real2sim(preset=preset, overrides={k: v for k, v in cfg.to_dict().items() if k in overrides})
    print_summary(summary, time.perf_counter() - start)


@app.command()
def serve(
    start_server: bool = typer.Option(True, help="start a local Prefect server on 127.0.0.1 if none answers"),
    port: int = typer.Option(4200),
) -> None:
    """Serve real2sim/kitchen and real2sim/my-capture; then `prefect deployment run real2sim/kitchen`."""
    from pipelines.deploy import api_healthy, prefect_server, serve_deployments

    url = os.environ.setdefault("PREFECT_API_URL", f"http://127.0.0.1:{port}/api")
    if not api_healthy(url) and not start_server:
        raise typer.BadParameter(f"no Prefect server answers at {url}; start one with `prefect server start`")
    with prefect_server(port=port) as url:
        typer.echo(f"Prefect API and UI: {url.removesuffix('/api')}; now run `prefect deployment run real2sim/kitchen`")
        serve_deployments()

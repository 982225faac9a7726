"""`gwm view PATH`: open any pipeline output in a local web viewer (registered in pipelines/cli_main.py)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import typer

from gwm.cli_errors import user_errors
from gwm.viewer.splat_layer import DEFAULT_MAX_GAUSSIANS


def view(
    path: Path = typer.Argument(..., help="A splat .ply, capture folder, scene .usd/.usdz, LeRobot/HDF5 dataset, "
                                          "or validation folder."),
    port: int = typer.Option(8080, help="Port of the local web server."),
    host: str = typer.Option("127.0.0.1", help="Address to serve on (0.0.0.0 to reach it from other machines)."),
    max_gaussians: int = typer.Option(DEFAULT_MAX_GAUSSIANS, help="Show at most this many Gaussians "
                                                                  "(a fixed random subset above it)."),
    episode: int = typer.Option(None, help="Dataset episode (or validation window) to open first."),
    splat: Path = typer.Option(None, help="Capture folder: the splat to show with its cameras "
                                          "(default: splat.ply there or ../reconstruct/splat.ply)."),
) -> None:
    """Open PATH in a local web viewer (viser); the viewer only reads what it opens."""
    import time

    from gwm.viewer import open_viewer

    start = time.perf_counter()
    with user_errors():
        viewer = open_viewer(path, host=host, port=port, max_gaussians=max_gaussians, episode=episode, splat=splat)
    shown = viewer.info.get("gaussians_shown")
    what = f", {viewer.info['gaussians_total']:,} Gaussians ({shown:,} shown)" if shown is not None else ""
    # Ctrl-C stops the viewer even where it was started with SIGINT ignored (a background job of a
    # non-interactive shell, as in CI): Python then leaves SIGINT ignored instead of raising KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        typer.echo(f"viewing {viewer.kind} {viewer.path}{what}, opened in {time.perf_counter() - start:.1f} s: "
                   f"{viewer.url} (Ctrl-C to stop)")
        viewer.wait()  # returns on Ctrl-C, the server stopped
    except KeyboardInterrupt:  # Ctrl-C before wait() took over
        viewer.close()
    # The viewer only reads what it opened, so nothing is left half-written: leave at once rather than wait on
    # the web server's threads (under load their shutdown took over 20 s in CI).
    sys.stdout.flush()
    os._exit(0)


__all__ = ["view"]

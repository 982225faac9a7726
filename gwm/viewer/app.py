"""The viewer: a viser server on 127.0.0.1, one view per kind of path, its controls by name.

Controls are kept in Viewer.controls so the CLI, tests and the README screenshots drive the same GUI
handles a person clicks (a handle's `.value = ...` is what a click sends).
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from gwm.viewer.kinds import detect_kind
from gwm.viewer.splat_layer import DEFAULT_MAX_GAUSSIANS


@dataclass
class Viewer:
    server: object  # viser.ViserServer
    kind: str
    path: Path
    controls: dict = field(default_factory=dict)  # name -> viser GUI handle
    info: dict = field(default_factory=dict)  # what the view shows (counts), for the CLI line and tests
    view: object = None  # the loaded view (gwm.viewer.views / episode / validation_view), for tests
    _stoppers: list = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.server.get_port())

    @property
    def url(self) -> str:
        return f"http://{self.server.get_host()}:{self.port}"

    def wait_for_client(self, timeout_s: float = 30.0):
        """The first connected browser's ClientHandle (its camera can be set from here)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            clients = self.server.get_clients()
            if clients:
                return next(iter(clients.values()))
            time.sleep(0.05)
        raise TimeoutError(f"no browser connected to {self.url} within {timeout_s:.0f} s")

    def wait(self) -> None:
        """Serve until interrupted (Ctrl-C)."""
        try:
            while True:
                time.sleep(1.0)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self, timeout_s: float = 5.0) -> None:
        for stop in self._stoppers:
            stop()
        # viser's stop joins its server threads; a busy machine can hold that up, so it may not block the caller
        stopper = threading.Thread(target=self.server.stop, daemon=True)
        stopper.start()
        stopper.join(timeout_s)


def check_port_free(host: str, port: int) -> None:
    """ValueError when host:port is taken (viser would silently move to the next port)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's server binds
        try:
            s.bind((host, port))
        except OSError as e:
            raise ValueError(f"port {port} on {host} is in use ({e.strerror}); pick a free one with --port") from e


def open_viewer(path: str | Path, host: str = "127.0.0.1", port: int = 8080,
                max_gaussians: int = DEFAULT_MAX_GAUSSIANS, episode: int | None = None,
                splat: str | Path | None = None, verbose: bool = False) -> Viewer:
    """Start the server and build the view of path. Bad input raises ValueError/FileNotFoundError (one line)
    before any server starts."""
    from gwm.viewer import episode as episode_views, views

    loaders = {"splat": views.load_splat, "capture": views.load_capture, "scene": views.load_scene,
               "dataset": episode_views.load_dataset, "validation": episode_views.load_validation}
    kind, target = detect_kind(path)
    if max_gaussians < 1:
        raise ValueError(f"--max-gaussians must be >= 1, got {max_gaussians}")
    loaded = loaders[kind](target, max_gaussians=max_gaussians, episode=episode, splat=splat)
    check_port_free(host, port)

    import viser

    server = viser.ViserServer(host=host, port=port, verbose=verbose)
    if port and server.get_port() != port:  # taken between the check and the bind
        server.stop()
        raise ValueError(f"port {port} on {host} is in use; pick a free one with --port")
    server.gui.configure_theme(control_width="medium", show_logo=False, show_share_button=False)
    server.scene.set_up_direction("+z")
    viewer = Viewer(server=server, kind=kind, path=target, view=loaded)
    try:
        loaded.build(viewer)
    except BaseException:
        viewer.close()
        raise
    return viewer


__all__ = ["Viewer", "check_port_free", "open_viewer"]

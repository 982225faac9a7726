"""Deployments of the real2sim flow, served against a Prefect server.

    gwm pipeline serve            # serves real2sim/kitchen and real2sim/capture
    prefect deployment run real2sim/kitchen
    prefect deployment run real2sim/capture -p capture_input=/data/counter.mp4 -p overrides='{"marker_size_m": 0.1}'
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

from pipelines.flows import real2sim

def deployments():
    return [
        real2sim.to_deployment(name="kitchen", parameters={"preset": "kitchen"},
                               description="The whole pipeline on the bundled kitchen capture."),
        real2sim.to_deployment(
            name="capture", parameters={"preset": "capture", "capture_input": "datasets/workbench/images",
                                        "overrides": {"marker_size_m": 0.08}},
            description="Any capture, nothing authored: set capture_input (a video, an image folder or a phone AR "
                        "export) and its metric cue in overrides (marker_size_m, table_width_m/table_depth_m or "
                        "metric_input); outputs go to datasets/outputs/<capture name>."),
    ]


def serve_deployments() -> None:
    from prefect import serve

    serve(*deployments())


def api_healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def start_server(host: str = "127.0.0.1", port: int = 4200, wait_s: float = 90.0) -> subprocess.Popen:
    """Start `prefect server start` on host:port (loopback by default) and wait until healthy."""
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": os.environ.get("PREFECT_UI_ENABLED", "true")}
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://{host}:{port}/api"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with code {proc.returncode}; is port {port} in use?")
        if api_healthy(url):
            return proc
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"prefect server did not become healthy at {url} within {wait_s:.0f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def prefect_server(port: int | None = None) -> Iterator[str]:
    """The Prefect API to use: PREFECT_API_URL if it answers, else a local server started here.

    Flows fan tasks out to Dask worker processes, which must all report to one real server
    (Prefect's in-process ephemeral API cannot be shared between processes).
    """
    url = os.environ.get("PREFECT_API_URL")
    if url and api_healthy(url):
        yield url
        return
    port = port or free_port()
    proc = start_server(port=port)
    url = f"http://127.0.0.1:{port}/api"
    old = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    try:
        yield url
    finally:
        if old is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = old
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

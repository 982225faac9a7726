"""End to end through a real Prefect server: serve the deployments, `prefect deployment run
real2sim/kitchen` with the smoke preset, check it Completed and produced every artifact, then
run again and check every stage came from the cache in a fraction of the time.

The capture is the kitchen video copied alone into an empty folder: no ground truth, masks,
depth, scene file or reference poses exist beside it, so every stage (metric frame from the
printed marker, scene authored by `gwm scene init`) provably runs without them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.deploy import api_healthy, free_port, start_server

pytestmark = pytest.mark.slow

DEPLOYMENT = "real2sim/kitchen"


@pytest.fixture(scope="module")
def prefect_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect_home")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false",
           "OMP_WAIT_POLICY": "PASSIVE"}
    old = dict(os.environ)
    os.environ.update(env)
    server = start_server(port=port)
    serve_log = open(home / "serve.log", "w")
    serving = subprocess.Popen([sys.executable, "-m", "pipelines.cli_main", "pipeline", "serve", "--no-start-server",
                                "--port", str(port)], env=env, stdout=serve_log, stderr=subprocess.STDOUT)
    try:
        _wait_for_deployment(serving, home / "serve.log")
        yield env
    finally:
        serving.terminate()
        serving.wait(timeout=30)
        server.terminate()
        server.wait(timeout=30)
        os.environ.clear()
        os.environ.update(old)


def _client():
    """A client of the test's server (prefect caches settings at import, so pass the URL explicitly)."""
    from prefect.client.orchestration import SyncPrefectClient

    return SyncPrefectClient(os.environ["PREFECT_API_URL"])


def _wait_for_deployment(serving, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if serving.poll() is not None:
            raise RuntimeError(f"`gwm pipeline serve` exited: {log.read_text()[-3000:]}")
        try:
            with _client() as client:
                client.read_deployment_by_name(DEPLOYMENT)
                return
        except Exception:
            time.sleep(1.0)
    raise TimeoutError(f"{DEPLOYMENT} was not registered within {timeout} s: {log.read_text()[-3000:]}")


def _run_deployment(env, out_root: Path, capture_input: Path) -> tuple[float, str]:
    overrides = {"out_root": str(out_root), "capture_input": str(capture_input)}
    params = ["-p", "preset=smoke", "-p", "overrides=" + json.dumps(overrides)]
    start = time.monotonic()
    # `prefect deployment run ...`, with this venv's prefect even when the venv is not activated
    proc = subprocess.run([sys.executable, "-m", "prefect", "deployment", "run", DEPLOYMENT, *params, "--watch"],
                          env=env, capture_output=True, text=True, timeout=1500)
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return seconds, proc.stdout


def _final_state() -> str:
    """State of the newest top-level run of the deployment."""
    with _client() as client:
        deployment = client.read_deployment_by_name(DEPLOYMENT)
        runs = [r for r in client.read_flow_runs(limit=200) if r.deployment_id == deployment.id]
        return sorted(runs, key=lambda r: r.created)[-1].state.type.value


def test_deployment_runs_end_to_end_and_reruns_from_cache(prefect_env, tmp_path):
    import shutil

    from pipelines.config import PROJECT_ROOT

    video = tmp_path / "phone" / "counter.mp4"  # the capture and nothing else
    video.parent.mkdir()
    shutil.copyfile(PROJECT_ROOT / "datasets" / "kitchen" / "orbit.mp4", video)
    out = tmp_path / "kitchen"
    first_s, stdout = _run_deployment(prefect_env, out, video)
    assert _final_state() == "COMPLETED"
    # every stage's artifact is on disk
    assert (out / "reconstruct" / "splat.ply").is_file()
    assert (out / "scene" / "scene.usdz").is_file()
    assert (out / "scene" / "scene.toml").is_file() and (out / "scene" / "scene_preview.png").is_file()
    report = json.loads((out / "capture" / "capture_report.json").read_text())
    assert report["alignment"]["metric_from"] == "marker", report["alignment"]
    assert (out / "datasets" / "demos" / "lerobot" / "meta" / "info.json").is_file()
    assert (out / "datasets" / "demos" / "hdf5" / "dataset.hdf5").is_file()
    assert list((out / "model").glob("*.safetensors"))
    assert (out / "validation" / "report.md").is_file()
    records = {p.stem: json.loads(p.read_text()) for p in (out / "stages").glob("*.json")}
    assert all(r["state"] == "done" for r in records.values()), records

    second_s, stdout = _run_deployment(prefect_env, out, video)
    assert _final_state() == "COMPLETED"
    print(f"\nfirst run {first_s:.0f} s, cached re-run {second_s:.0f} s ({second_s / first_s:.0%})")
    assert second_s < 0.5 * first_s

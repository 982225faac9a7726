"""`gwm reconstruct run` on the tiny capture."""

import json

import torch
from typer.testing import CliRunner

from gwm.reconstruct.cli import app


def test_cli_run_builtin(tiny_capture, tmp_path):
    out = tmp_path / "out"
    threads = torch.get_num_threads()
    res = CliRunner().invoke(app, ["run", str(tiny_capture), str(out), "--backend", "builtin", "--preset", "cpu",
                                   "--iterations", "20", "--downscale", "2"])
    assert res.exit_code == 0, res.output
    assert "held-out PSNR" in res.output and (out / "splat.ply").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["iterations"] == 20 and metrics["config"]["downscale"] == 2
    assert metrics["extras"]["image_size"] == [32, 24]
    assert torch.get_num_threads() == threads  # the cpu preset's single torch thread is restored


def test_cli_errors(tiny_capture, tmp_path, monkeypatch):
    res = CliRunner().invoke(app, ["run", str(tiny_capture), str(tmp_path / "o"), "--backend", "colmap"])
    assert res.exit_code != 0 and "unknown backend 'colmap'" in res.output
    monkeypatch.delenv("GWM_NERFSTUDIO_VENV", raising=False)
    venv = tmp_path / "none"
    res = CliRunner().invoke(app, ["run", str(tiny_capture), str(tmp_path / "o"), "--backend", "nerfstudio",
                                   "--nerfstudio-venv", str(venv)])
    # a missing venv is bad input: one line naming the fix, exit code 2, no traceback
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.exception
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: nerfstudio venv {venv} lacks ns-train, ns-export"), lines
    assert "pip install nerfstudio==1.1.5" in lines[0] and "--backend builtin" in lines[0]

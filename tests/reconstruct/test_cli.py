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
    res = CliRunner().invoke(app, ["run", str(tiny_capture), str(tmp_path / "o"), "--backend", "nerfstudio",
                                   "--nerfstudio-venv", str(tmp_path / "none")])
    assert res.exit_code != 0 and "pip install nerfstudio==1.1.5" in str(res.exception)

"""The splatfacto backend around nerfstudio: commands, venv errors, output import.

nerfstudio cannot run here (its own venv, CUDA only). A stand-in venv whose ns-train and
ns-export write what nerfstudio 1.1.5 writes (config.yml, dataparser_transforms.json,
an INRIA PLY in nerfstudio's rescaled frame) tests everything around it end to end.
"""

import json
import math
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gwm.ply import read_ply, read_ply_metadata, write_ply
from gwm.reconstruct import NerfstudioConfig, reconstruct
from gwm.reconstruct.nerfstudio_backend import (
    VENV_ENV_VAR,
    export_command,
    find_trained_config,
    resolve_venv,
    run_folder,
    train_command,
)

_STUB_TRAIN = """\
import json, os, sys
from pathlib import Path
argv = sys.argv[1:]
with open(os.environ["STUB_LOG"], "a") as f:
    f.write(json.dumps(["ns-train"] + argv) + "\\n")
if os.environ.get("STUB_FAIL"):
    print("CUDA error: no kernel image is available"); sys.exit(1)
opt = lambda k: argv[argv.index(k) + 1]
run = Path(opt("--output-dir")) / opt("--experiment-name") / argv[0] / opt("--timestamp")
run.mkdir(parents=True)
(run / "config.yml").write_text("!!python/object:nerfstudio.engine.trainer.TrainerConfig {}\\n")
(run / "dataparser_transforms.json").write_text(os.environ["STUB_DATAPARSER"])
"""

_STUB_EXPORT = """\
import json, os, shutil, sys
from pathlib import Path
argv = sys.argv[1:]
with open(os.environ["STUB_LOG"], "a") as f:
    f.write(json.dumps(["ns-export"] + argv) + "\\n")
out = Path(argv[argv.index("--output-dir") + 1]); out.mkdir(parents=True)
shutil.copy(os.environ["STUB_SPLAT"], out / "splat.ply")
"""


def _make_venv(root: Path) -> Path:
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    for name, body in (("ns-train", _STUB_TRAIN), ("ns-export", _STUB_EXPORT)):
        exe = bin_dir / name
        exe.write_text(f"#!{sys.executable}\n" + body)
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return root


def test_train_and_export_commands(tmp_path):
    venv = tmp_path / "venv"
    cfg = NerfstudioConfig(iterations=30_000, downscale=2, extra_train_args=("--pipeline.model.sh-degree", "3"))
    cmd = train_command(venv, Path("/data/kitchen"), tmp_path / "runs", cfg)
    assert cmd[:2] == [str(venv / "bin" / "ns-train"), "splatfacto"]
    joined = " ".join(cmd)
    for flag in ("--vis tensorboard", "--viewer.quit-on-train-completion True", "--max-num-iterations 30000",
                 "--experiment-name gwm", "--timestamp run", f"--output-dir {tmp_path / 'runs'}"):
        assert flag in joined
    assert "--optimizers.means.scheduler.max-steps" not in joined  # splatfacto's default already
    # train options come before the dataparser sub-command, its options after
    i = cmd.index("nerfstudio-data")
    assert cmd.index("--pipeline.model.sh-degree") < i
    assert cmd[i + 1 : i + 3] == ["--data", "/data/kitchen"]
    tail = " ".join(cmd[i:])
    for flag in ("--orientation-method none", "--center-method none", "--load-3D-points True",
                 "--eval-mode interval", "--eval-interval 8", "--downscale-factor 2"):
        assert flag in tail
    short = train_command(venv, Path("/d"), tmp_path, NerfstudioConfig(iterations=3000, holdout_every=0))
    assert short[short.index("--optimizers.means.scheduler.max-steps") + 1] == "3000"
    assert short[-2:] == ["--eval-mode", "all"]
    assert export_command(venv, Path("/r/config.yml"), Path("/e")) == [
        str(venv / "bin" / "ns-export"), "gaussian-splat", "--load-config", "/r/config.yml", "--output-dir", "/e"]
    assert run_folder(Path("/o"), "splatfacto") == Path("/o/gwm/splatfacto/run")


def test_missing_venv_error_explains_setup(tmp_path, monkeypatch):
    monkeypatch.delenv(VENV_ENV_VAR, raising=False)
    with pytest.raises(FileNotFoundError, match=r"lacks ns-train, ns-export.*pip install nerfstudio==1.1.5.*GWM_NERFSTUDIO_VENV"):
        resolve_venv(NerfstudioConfig(venv=str(tmp_path / "nope")))
    venv = _make_venv(tmp_path / "ns")
    monkeypatch.setenv(VENV_ENV_VAR, str(venv))
    assert resolve_venv(NerfstudioConfig()) == venv  # the env var is the fallback
    assert resolve_venv(NerfstudioConfig(venv=str(venv))) == venv


def test_find_trained_config_falls_back_to_newest(tmp_path):
    with pytest.raises(FileNotFoundError, match="wrote no config.yml"):
        find_trained_config(tmp_path, "splatfacto")
    other = tmp_path / "x" / "splatfacto" / "2026-01-01_000000"
    other.mkdir(parents=True)
    (other / "config.yml").write_text("")
    assert find_trained_config(tmp_path, "splatfacto") == other / "config.yml"


def _nerfstudio_frame(scale: float):
    """A dataparser transform (rotation about z by 30 deg + shift) and the splat moved into that frame."""
    a = math.radians(30)
    t = np.eye(4)
    t[:3, :3] = [[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]]
    t[:3, 3] = [0.1, -0.2, 0.05]
    return t, scale


def test_end_to_end_with_stand_in_nerfstudio(capture_copy, tmp_path, monkeypatch):
    """Exported splat in nerfstudio's frame comes back in the capture frame, evaluated on held-out views."""
    truth = read_ply(capture_copy / "scene_gt.ply")
    # the capture says its poses went through an applied_transform (as COLMAP imports do)
    meta = json.loads((capture_copy / "transforms.json").read_text())
    applied = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, -1, 0], [0, 0, 0, 1]], dtype=float)
    meta["applied_transform"] = applied[:3].tolist()
    (capture_copy / "transforms.json").write_text(json.dumps(meta))
    t_orient, s = _nerfstudio_frame(0.4)
    # nerfstudio's frame: x_ns = s * T_orient x_capture; its file stores T_orient @ applied and s
    m_ns = torch.tensor(t_orient, dtype=torch.float32)
    m_ns[:3, 3] *= s
    write_ply(tmp_path / "exported.ply", truth.transform(m_ns, scale=s))
    dataparser = {"transform": (t_orient @ applied)[:3].tolist(), "scale": s}

    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("STUB_LOG", str(log))
    monkeypatch.setenv("STUB_SPLAT", str(tmp_path / "exported.ply"))
    monkeypatch.setenv("STUB_DATAPARSER", json.dumps(dataparser))
    venv = _make_venv(tmp_path / "venv")
    out = tmp_path / "out"
    cfg = NerfstudioConfig(venv=str(venv), eval_device="cpu", iterations=7000)
    result = reconstruct(capture_copy, out, cfg)

    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c[0] for c in calls] == ["ns-train", "ns-export"]
    assert calls[1][calls[1].index("--load-config") + 1] == str(run_folder(out / "nerfstudio" / "outputs", "splatfacto") / "config.yml")
    assert result.backend == "nerfstudio" and result.splat_path == out / "splat.ply"
    back = read_ply(result.splat_path)
    assert len(back) == len(truth) == result.num_gaussians
    assert torch.allclose(back.means, truth.means, atol=1e-5)
    assert torch.allclose(back.log_scales, truth.log_scales, atol=1e-5)
    assert torch.allclose(back.sh, truth.sh, atol=1e-4)  # SH rotated back too
    md = read_ply_metadata(result.splat_path)
    assert md["backend"] == "nerfstudio" and md["config"]["iterations"] == 7000
    assert md["normalisation"] == np.eye(4).tolist()  # the capture's own, copied from transforms.json
    # the held-out views (every 8th of 24) render like the ground truth, side-by-side PNGs saved
    assert result.psnr > 40 and result.ssim > 0.99
    assert sorted(p.name for p in (out / "eval").glob("*.png")) == ["frame_00000.png", "frame_00008.png", "frame_00016.png"]
    assert json.loads((out / "metrics.json").read_text())["backend"] == "nerfstudio"


def test_failures_are_reported_with_the_log(capture_copy, tmp_path, monkeypatch):
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("STUB_LOG", str(log))
    monkeypatch.setenv("STUB_FAIL", "1")
    cfg = NerfstudioConfig(venv=str(_make_venv(tmp_path / "venv")), evaluate=False)
    with pytest.raises(RuntimeError, match=r"(?s)ns-train failed \(exit 1\).*CUDA error: no kernel image"):
        reconstruct(capture_copy, tmp_path / "out", cfg)
    # a bad capture is refused before nerfstudio starts
    (capture_copy / "images" / "frame_00005.png").unlink()
    log.unlink()
    with pytest.raises(ValueError, match="1 of 24 images it lists are missing"):
        reconstruct(capture_copy, tmp_path / "out2", cfg)
    assert not log.exists()

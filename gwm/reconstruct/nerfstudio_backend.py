"""Reconstruction with nerfstudio's splatfacto, run as subprocesses in their own venv.

nerfstudio 1.1.5 pins gsplat 1.4.0, numpy < 2 and an old protobuf, so it cannot share
this project's environment, and splatfacto is CUDA-only. Setup, on a GPU machine:

    python3.11 -m venv ~/.venvs/nerfstudio
    ~/.venvs/nerfstudio/bin/pip install --upgrade pip
    # a CUDA build of torch that matches the driver, per nerfstudio's install guide, then:
    ~/.venvs/nerfstudio/bin/pip install nerfstudio==1.1.5
    export GWM_NERFSTUDIO_VENV=~/.venvs/nerfstudio   # or NerfstudioConfig(venv=...)

Run: `ns-train splatfacto ... nerfstudio-data --data DIR`, then
`ns-export gaussian-splat --load-config .../config.yml`. nerfstudio's dataparser rescales
the poses (splatfacto's thresholds assume a unit-size scene); that change, recorded in its
dataparser_transforms.json, is undone on import so splat.ply is in the capture's metric frame.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from gwm.splats import GaussianSplats

VENV_ENV_VAR = "GWM_NERFSTUDIO_VENV"
DEFAULT_VENV = "~/.venvs/nerfstudio"
EXPERIMENT = "gwm"
TIMESTAMP = "run"  # fixed, so the run folder is known: <run_dir>/gwm/splatfacto/run
_SPLATFACTO_DEFAULT_STEPS = 30_000
# nerfstudio's value of applied_transform for COLMAP folders written before the field existed
_LEGACY_COLMAP_APPLIED = [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, -1, 0]]

SETUP_HELP = (
    "set up nerfstudio in its own virtual environment on a CUDA machine: "
    "`python3.11 -m venv ~/.venvs/nerfstudio && ~/.venvs/nerfstudio/bin/pip install nerfstudio==1.1.5` "
    "(after a CUDA build of torch, per nerfstudio's install guide), then point "
    f"{VENV_ENV_VAR} (or NerfstudioConfig.venv) at it; or use --backend builtin"
)


@dataclass(frozen=True)
class NerfstudioConfig:
    """Settings of the splatfacto backend."""

    venv: str | None = None  # None: $GWM_NERFSTUDIO_VENV, then ~/.venvs/nerfstudio
    method: str = "splatfacto"  # or "splatfacto-big"
    iterations: int = 30_000
    holdout_every: int = 8  # nerfstudio --eval-mode interval, same frames as the built-in trainer
    downscale: int | None = None  # nerfstudio --downscale-factor (None: nerfstudio chooses)
    extra_train_args: tuple[str, ...] = ()  # appended before the dataparser sub-command
    evaluate: bool = True  # held-out PSNR/SSIM with gwm.render after import
    eval_downscale: int = 1
    eval_device: str = "cuda"
    timeout_s: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_venv(config: NerfstudioConfig) -> Path:
    """The nerfstudio venv folder, checked to hold ns-train and ns-export."""
    raw = config.venv or os.environ.get(VENV_ENV_VAR) or DEFAULT_VENV
    venv = Path(raw).expanduser()
    missing = [exe for exe in ("ns-train", "ns-export") if not (venv / "bin" / exe).is_file()]
    if missing:
        raise FileNotFoundError(f"nerfstudio venv {venv} lacks {', '.join(missing)}: {SETUP_HELP}")
    return venv


def run_folder(run_dir: Path, method: str) -> Path:
    """Where ns-train writes config.yml for the fixed experiment name and timestamp."""
    return Path(run_dir) / EXPERIMENT / method / TIMESTAMP


def train_command(venv: Path, dataset_dir: Path, run_dir: Path, config: NerfstudioConfig) -> list[str]:
    """ns-train command line: splatfacto, no viewer, quits at the end, fixed output folder."""
    cmd = [
        str(venv / "bin" / "ns-train"), config.method,
        "--output-dir", str(run_dir),
        "--experiment-name", EXPERIMENT,
        "--timestamp", TIMESTAMP,
        "--vis", "tensorboard",
        "--viewer.quit-on-train-completion", "True",
        "--max-num-iterations", str(config.iterations),
    ]
    if config.iterations != _SPLATFACTO_DEFAULT_STEPS:  # keep the position LR decay over the whole run
        cmd += ["--optimizers.means.scheduler.max-steps", str(config.iterations)]
    cmd += list(config.extra_train_args)
    cmd += [
        "nerfstudio-data", "--data", str(dataset_dir),
        # keep the capture's Z-up axes and origin; only scale (undone on import)
        "--orientation-method", "none", "--center-method", "none", "--auto-scale-poses", "True",
        "--load-3D-points", "True",
        "--eval-mode", "interval", "--eval-interval", str(max(config.holdout_every, 1)),
    ]
    if config.holdout_every <= 0:
        cmd[-4:] = ["--eval-mode", "all"]
    if config.downscale is not None:
        cmd += ["--downscale-factor", str(config.downscale)]
    return cmd


def export_command(venv: Path, trained_config: Path, export_dir: Path) -> list[str]:
    return [str(venv / "bin" / "ns-export"), "gaussian-splat", "--load-config", str(trained_config),
            "--output-dir", str(export_dir)]


def find_trained_config(run_dir: Path, method: str) -> Path:
    """config.yml of the finished run (the fixed folder, else the newest one under run_dir)."""
    expected = run_folder(run_dir, method) / "config.yml"
    if expected.is_file():
        return expected
    found = sorted(Path(run_dir).glob("**/config.yml"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"{run_dir}: ns-train wrote no config.yml; see train.log there for its error")
    return found[-1]


def capture_frame_from_nerfstudio(run_folder_: Path, transforms_meta: dict, dataset_dir: Path) -> tuple[np.ndarray, float]:
    """(M, s) with x_capture = M (x_ns / s): undoes nerfstudio's dataparser transform.

    dataparser_transforms.json holds T = T_orient @ A (A = transforms.json's applied_transform)
    and the scale s, and nerfstudio works in x_ns = s T_orient x_capture; so M = A T^-1.
    """
    path = Path(run_folder_) / "dataparser_transforms.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; the nerfstudio run did not finish (see train.log)")
    dp = json.loads(path.read_text())
    t = np.vstack([np.asarray(dp["transform"], dtype=np.float64), [0, 0, 0, 1]])
    scale = float(dp["scale"])
    if "applied_scale" in transforms_meta:
        scale /= float(transforms_meta["applied_scale"])  # applied to points only, not to poses
    if "applied_transform" in transforms_meta:
        applied = np.asarray(transforms_meta["applied_transform"], dtype=np.float64)
    elif (Path(dataset_dir) / "colmap" / "sparse" / "0").exists():
        applied = np.asarray(_LEGACY_COLMAP_APPLIED, dtype=np.float64)
    else:
        applied = np.eye(4)[:3]
    a = np.vstack([applied[:3], [0, 0, 0, 1]])
    return a @ np.linalg.inv(t), scale


def import_exported_splat(ply_path: Path, capture_from_ns: np.ndarray, scale: float) -> GaussianSplats:
    """Read ns-export's PLY and move it to the capture frame (rotates SH, rescales sizes)."""
    from gwm.ply import read_ply

    splats = read_ply(ply_path)
    m = torch.tensor(capture_from_ns, dtype=torch.float32)
    return splats.transform(m, scale=1.0 / scale)


def _run(cmd: list[str], log_path: Path, timeout_s: float | None, what: str) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        try:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"{what} ran past {timeout_s} s; log: {log_path}") from e
    if proc.returncode != 0:
        tail = "".join(log_path.read_text().splitlines(keepends=True)[-20:])
        raise RuntimeError(f"{what} failed (exit {proc.returncode}); last lines of {log_path}:\n{tail}")


def run_splatfacto(dataset_dir: Path, out_dir: Path, config: NerfstudioConfig, transforms_meta: dict) -> GaussianSplats:
    """Train, export, import: returns the splat in the capture frame. Logs in out_dir/nerfstudio."""
    venv = resolve_venv(config)
    work = Path(out_dir) / "nerfstudio"
    run_dir = work / "outputs"
    _run(train_command(venv, Path(dataset_dir).resolve(), run_dir, config), work / "train.log", config.timeout_s, "ns-train")
    trained = find_trained_config(run_dir, config.method)
    export_dir = work / "export"
    _run(export_command(venv, trained, export_dir), work / "export.log", config.timeout_s, "ns-export")
    ply = export_dir / "splat.ply"
    if not ply.is_file():
        raise FileNotFoundError(f"{ply}: ns-export wrote no splat.ply; see {work / 'export.log'}")
    m, scale = capture_frame_from_nerfstudio(trained.parent, transforms_meta, dataset_dir)
    return import_exported_splat(ply, m, scale)

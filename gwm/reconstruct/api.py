"""One entry point for every reconstruction backend: capture folder in, splat.ply out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from gwm.reconstruct.config import TrainConfig
from gwm.reconstruct.nerfstudio_backend import NerfstudioConfig

RECONSTRUCTION_FORMAT_VERSION = 1
BACKENDS = ("builtin", "nerfstudio")


@dataclass
class ReconstructionResult:
    backend: str  # "builtin" | "nerfstudio"
    splat_path: Path  # out_dir/splat.ply, INRIA layout, capture (metric, Z-up) frame
    num_gaussians: int
    psnr: float | None  # mean over held-out frames, dB (None: not evaluated)
    ssim: float | None
    seconds: float  # wall time of the whole reconstruction
    out_dir: Path
    config: dict  # the resolved config
    normalisation: list  # 4x4 from the capture's transforms.json (raw SfM frame -> this frame)
    init_psnr: float | None = None  # held-out PSNR of the initial Gaussians (builtin only)
    extras: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["splat_path"], d["out_dir"] = str(self.splat_path), str(self.out_dir)
        return d


def backend_of(config) -> str:
    if isinstance(config, TrainConfig):
        return "builtin"
    if isinstance(config, NerfstudioConfig):
        return "nerfstudio"
    raise TypeError(f"unknown reconstruction config {type(config).__name__}; pass a TrainConfig or NerfstudioConfig")


def reconstruct(dataset_dir: str | Path, out_dir: str | Path, config: TrainConfig | NerfstudioConfig) -> ReconstructionResult:
    """Reconstruct a capture (nerfstudio layout) into out_dir/splat.ply.

    The config's type picks the backend: TrainConfig -> built-in 3DGS trainer,
    NerfstudioConfig -> splatfacto in nerfstudio's own venv. Also writes
    out_dir/metrics.json, out_dir/eval/*.png (ground truth | render for held-out frames) and,
    for the built-in trainer, out_dir/training_curve.png.
    """
    backend = backend_of(config)
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if backend == "builtin":
        from gwm.reconstruct.trainer import torch_threads

        with torch_threads(config.torch_threads):
            result = _reconstruct_builtin(dataset_dir, out_dir, config)
    else:
        result = _reconstruct_nerfstudio(dataset_dir, out_dir, config)
    from gwm.atomic_io import write_json_atomic

    write_json_atomic(out_dir / "metrics.json", {
        "format": "gwm.reconstruction.metrics", "format_version": RECONSTRUCTION_FORMAT_VERSION, **result.to_dict()},
        indent=2)
    return result


def _splat_metadata(backend: str, config: dict, normalisation, dataset_dir: Path, sh_degree: int) -> dict:
    return {
        "reconstruction_format_version": RECONSTRUCTION_FORMAT_VERSION,
        "backend": backend,
        "config": config,
        "normalisation": normalisation,
        "source": str(dataset_dir),
        "sh_degree": sh_degree,
        "frame": "capture transforms.json frame (metric, Z up when the capture normalised it)",
    }


def _reconstruct_builtin(dataset_dir: Path, out_dir: Path, config: TrainConfig) -> ReconstructionResult:
    from gwm.ply import write_ply
    from gwm.reconstruct.dataset import load_capture
    from gwm.reconstruct.evaluate import evaluate_views, save_training_curve
    from gwm.reconstruct.trainer import init_from_points, resolve_device, splats_from_params, train_splats

    start = time.perf_counter()
    resolve_device(config.device)  # fail before loading images
    data = load_capture(dataset_dir, downscale=config.downscale)
    train_idx, eval_idx = data.split(config.holdout_every)
    held_images = data.images[eval_idx]
    held_cameras = data.cameras[eval_idx] if eval_idx else None
    held_names = [data.image_names[i] for i in eval_idx]
    eval_kw = dict(background=config.background, backend=config.render_backend, device=config.device)

    def held_out_psnr(splats, sh_degree: int) -> float:
        return evaluate_views(splats, held_images, held_cameras, held_names, sh_degree=sh_degree, **eval_kw).psnr

    init_psnr = None
    if eval_idx:
        init = splats_from_params(init_from_points(data.points, data.point_colors, config), 0)
        init_psnr = held_out_psnr(init, 0)

    trained = train_splats(data, config, train_idx, eval_fn=held_out_psnr if eval_idx else None)

    ev = None
    if eval_idx:
        ev = evaluate_views(trained.splats, held_images, held_cameras, held_names, sh_degree=trained.sh_degree,
                            save_dir=out_dir / "eval", **eval_kw)
        trained.history.eval_step.append(config.iterations)
        trained.history.eval_psnr.append(ev.psnr)
        if init_psnr is not None:
            trained.history.eval_step.insert(0, 0)
            trained.history.eval_psnr.insert(0, init_psnr)
    history = trained.history.to_dict()
    save_training_curve(history, out_dir / "training_curve.png",
                        title=f"built-in 3DGS on {dataset_dir.name}: {len(trained.splats)} Gaussians")

    cfg = config.to_dict()
    splat_path = write_ply(out_dir / "splat.ply", trained.splats,
                           metadata=_splat_metadata("builtin", cfg, data.normalisation, dataset_dir, trained.sh_degree))
    return ReconstructionResult(
        backend="builtin",
        splat_path=splat_path,
        num_gaussians=len(trained.splats),
        psnr=ev.psnr if ev else None,
        ssim=ev.ssim if ev else None,
        seconds=time.perf_counter() - start,
        out_dir=out_dir,
        config=cfg,
        normalisation=data.normalisation,
        init_psnr=init_psnr,
        extras={
            "train_seconds": trained.train_seconds,
            "iterations": config.iterations,
            "image_size": [data.cameras.width, data.cameras.height],
            "num_train_views": len(train_idx),
            "num_heldout_views": len(eval_idx),
            "heldout": ev.per_view if ev else [],
            "history": history,
        },
    )


def _reconstruct_nerfstudio(dataset_dir: Path, out_dir: Path, config: NerfstudioConfig) -> ReconstructionResult:
    from gwm.ply import write_ply
    from gwm.reconstruct.dataset import normalisation_from_transforms, read_capture_cameras
    from gwm.reconstruct.nerfstudio_backend import resolve_venv, run_splatfacto

    start = time.perf_counter()
    _cams, _names, meta = read_capture_cameras(dataset_dir)  # fail on a bad capture before a long run
    resolve_venv(config)
    splats = run_splatfacto(dataset_dir, out_dir, config, meta)
    normalisation = normalisation_from_transforms(meta)
    cfg = config.to_dict()
    splat_path = write_ply(out_dir / "splat.ply", splats,
                           metadata=_splat_metadata("nerfstudio", cfg, normalisation, dataset_dir, splats.sh_degree))
    psnr = ssim = None
    per_view: list = []
    if config.evaluate:
        from gwm.reconstruct.dataset import load_capture
        from gwm.reconstruct.evaluate import evaluate_views

        data = load_capture(dataset_dir, downscale=config.eval_downscale)
        _, eval_idx = data.split(config.holdout_every)
        if eval_idx:
            ev = evaluate_views(splats, data.images[eval_idx], data.cameras[eval_idx],
                                [data.image_names[i] for i in eval_idx], device=config.eval_device,
                                save_dir=out_dir / "eval")
            psnr, ssim, per_view = ev.psnr, ev.ssim, ev.per_view
    return ReconstructionResult(
        backend="nerfstudio",
        splat_path=splat_path,
        num_gaussians=len(splats),
        psnr=psnr,
        ssim=ssim,
        seconds=time.perf_counter() - start,
        out_dir=out_dir,
        config=cfg,
        normalisation=normalisation,
        extras={"heldout": per_view, "nerfstudio_dir": str(out_dir / "nerfstudio")},
    )

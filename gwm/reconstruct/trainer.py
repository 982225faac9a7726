"""The built-in 3DGS trainer on the project renderer (gwm.render.rasterize), CPU or CUDA."""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from gwm.reconstruct.config import TrainConfig
from gwm.reconstruct.dataset import CaptureDataset
from gwm.reconstruct.densify import (
    DensifyStats,
    accumulate,
    densify_and_prune,
    exponential_lr,
    make_optimizer,
    reset_opacity,
)
from gwm.sh import SH_C0, num_sh_bases
from gwm.splats import GaussianSplats


@dataclass
class TrainHistory:
    """What the training curve plots: per logged step, and per held-out evaluation."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)  # training view PSNR
    num_gaussians: list[int] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    eval_psnr: list[float] = field(default_factory=list)  # held-out PSNR

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class TrainResult:
    splats: GaussianSplats  # detached, on CPU, SH at the final degree
    history: TrainHistory
    train_seconds: float
    sh_degree: int


def _knn_mean_distance(points: torch.Tensor, k: int) -> torch.Tensor:
    """(P,) mean distance to the k nearest other points (scipy's KD-tree)."""
    from scipy.spatial import cKDTree

    pts = points.double().numpy()
    k = min(k, len(pts) - 1)
    d, _ = cKDTree(pts).query(pts, k=k + 1)
    return torch.from_numpy(d[:, 1:].mean(1)).float()


def init_from_points(points: torch.Tensor, colors: torch.Tensor, config: TrainConfig) -> dict[str, torch.Tensor]:
    """3DGS initialisation: one isotropic Gaussian per SfM point, size from its neighbours.

    Returns the trainable tensors: means (N,3), quats_wxyz (N,4) identity, log_scales
    (N,3), logit_opacities (N,), sh_dc (N,1,3) from the point colour, sh_rest (N,K-1,3) zeros.
    """
    if config.max_init_points is not None and len(points) > config.max_init_points:
        g = torch.Generator().manual_seed(config.seed)
        keep = torch.randperm(len(points), generator=g)[: config.max_init_points]
        points, colors = points[keep], colors[keep]
    n = len(points)
    dist = _knn_mean_distance(points, config.init_knn).clamp_min(1e-7)
    k = num_sh_bases(config.sh_degree)
    opacity = config.init_opacity
    return {
        "means": points.float().clone(),
        "quats_wxyz": torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(n, 1),
        "log_scales": torch.log(dist)[:, None].repeat(1, 3),
        "logit_opacities": torch.full((n,), math.log(opacity / (1 - opacity))),
        "sh_dc": ((colors.float() - 0.5) / SH_C0)[:, None, :],
        "sh_rest": torch.zeros(n, k - 1, 3),
    }


def splats_from_params(params: dict[str, torch.Tensor], sh_degree: int) -> GaussianSplats:
    """The GaussianSplats view of the trainable tensors, SH truncated to sh_degree."""
    k = num_sh_bases(sh_degree)
    sh = torch.cat([params["sh_dc"], params["sh_rest"][:, : k - 1]], dim=1)
    return GaussianSplats(params["means"], params["quats_wxyz"], params["log_scales"], params["logit_opacities"], sh)


def learning_rates(config: TrainConfig, scene_extent: float) -> dict[str, float]:
    return {
        "means": config.lr_means * scene_extent,
        "quats_wxyz": config.lr_quats,
        "log_scales": config.lr_scales,
        "logit_opacities": config.lr_opacities,
        "sh_dc": config.lr_sh_dc,
        "sh_rest": config.lr_sh_rest,
    }


def photometric_loss(render: torch.Tensor, target: torch.Tensor, ssim_lambda: float) -> torch.Tensor:
    """(1 - lambda) L1 + lambda (1 - SSIM) on (B,H,W,3) images."""
    from gwm.metrics.images import ssim

    l1 = (render - target).abs().mean()
    if ssim_lambda == 0:
        return l1
    return (1 - ssim_lambda) * l1 + ssim_lambda * (1 - ssim(render, target))


@contextmanager
def torch_threads(n: int | None):
    """Run a block with n torch intra-op threads (None: unchanged), restoring the setting after."""
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def resolve_device(name: str) -> torch.device:
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} asked for but torch sees no CUDA GPU; use the `cpu` preset or device='cpu'")
    return device


def train_splats(
    data: CaptureDataset,
    config: TrainConfig,
    train_indices: list[int],
    eval_fn=None,
) -> TrainResult:
    """Optimise Gaussians on the training views of data.

    eval_fn(splats, sh_degree) -> held-out PSNR, called every config.eval_every steps for
    the training curve (None: no intermediate evaluation).
    """
    from tqdm.auto import tqdm

    from gwm.metrics.images import psnr
    from gwm.render import rasterize

    if not train_indices:
        raise ValueError("no training views: the capture needs more frames than held-out ones")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)

    extent = data.scene_extent()
    params = {n: nn.Parameter(t.to(device)) for n, t in init_from_points(data.points, data.point_colors, config).items()}
    lrs = learning_rates(config, extent)
    optimizer = make_optimizer(params, lrs)
    stats = DensifyStats.zeros(len(params["means"]), device=device)
    background = torch.tensor(config.background, dtype=torch.float32, device=device)
    images = data.images[train_indices].to(device)  # (T,H,W,3)
    cameras = data.cameras[torch.tensor(train_indices)].to(device)

    history = TrainHistory()
    postfix: dict[str, str | int] = {}
    sh_degree = 0
    order: list[int] = []
    # as in 3DGS, over-large Gaussians are pruned only once an opacity reset has happened
    prune_large_from = config.opacity_reset_every if config.opacity_reset_every > 0 else config.iterations + 1
    start = time.perf_counter()
    bar = tqdm(range(1, config.iterations + 1), desc="reconstruct", disable=not config.progress, mininterval=1.0)
    for step in bar:
        for group in optimizer.param_groups:
            if group["name"] == "means":
                group["lr"] = exponential_lr(step - 1, lrs["means"], config.lr_means_final * extent, config.iterations)
        if config.sh_increase_every > 0 and step % config.sh_increase_every == 0:
            sh_degree = min(sh_degree + 1, config.sh_degree)
        if not order:  # a fresh random pass over the training views
            order = torch.randperm(len(train_indices), generator=generator).tolist()
        i = order.pop()
        camera = cameras[i]
        target = images[i : i + 1]

        out = rasterize(splats_from_params(params, sh_degree), camera, sh_degree=sh_degree, background=background,
                        backend=config.render_backend)
        loss = photometric_loss(out.rgb, target, config.ssim_lambda)
        loss.backward()

        with torch.no_grad():
            if step <= config.densify_until:
                accumulate(stats, params, camera)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

            if config.densify_from < step <= config.densify_until and step % config.densify_every == 0:
                densify_and_prune(
                    params, optimizer, stats,
                    grad_threshold=config.densify_grad_threshold,
                    scene_extent=extent,
                    dense_fraction=config.dense_fraction,
                    split_count=config.split_count,
                    prune_opacity=config.prune_opacity,
                    prune_large=step > prune_large_from,
                    prune_world_size=config.prune_world_size,
                    prune_screen_size=config.prune_screen_size,
                    max_gaussians=config.max_gaussians,
                    generator=generator,
                )
            if config.opacity_reset_every > 0 and step % config.opacity_reset_every == 0 and step <= config.densify_until:
                reset_opacity(params, optimizer, config.opacity_reset_value)

            if step % config.log_every == 0 or step == config.iterations:
                p = float(psnr(out.rgb.detach().clamp(0, 1), target))
                history.step.append(step)
                history.loss.append(float(loss))
                history.psnr.append(p)
                history.num_gaussians.append(len(params["means"]))
                postfix.update(loss=f"{float(loss):.4f}", psnr=f"{p:.2f}", gaussians=len(params["means"]))
                bar.set_postfix(postfix, refresh=False)
            if eval_fn is not None and config.eval_every > 0 and step % config.eval_every == 0 and step != config.iterations:
                history.eval_step.append(step)
                history.eval_psnr.append(eval_fn(splats_from_params(params, sh_degree).detach(), sh_degree))
                postfix["heldout_psnr"] = f"{history.eval_psnr[-1]:.2f}"
    bar.close()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        final = splats_from_params(params, sh_degree).detach().to("cpu")
    return TrainResult(final, history, seconds, sh_degree)

"""Held-out-view evaluation: PSNR/SSIM, side-by-side PNGs (ground truth | render), training curve."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gwm.cameras import Cameras
from gwm.atomic_io import atomic_write_path
from gwm.splats import GaussianSplats


@dataclass
class EvalResult:
    psnr: float  # mean over held-out views, dB
    ssim: float  # mean over held-out views
    per_view: list[dict] = field(default_factory=list)  # {name, psnr, ssim}

    def to_dict(self) -> dict:
        return {"psnr": self.psnr, "ssim": self.ssim, "per_view": self.per_view}


@torch.no_grad()
def render_views(
    splats: GaussianSplats, cameras: Cameras, *, sh_degree: int | None = None, background=(0.0, 0.0, 0.0),
    backend: str = "auto", device: str | torch.device = "cpu",
) -> torch.Tensor:
    """(B,H,W,3) renders in [0,1], one camera at a time to bound memory."""
    from gwm.render import rasterize

    splats = splats.to(device)
    bg = torch.tensor(background, dtype=torch.float32, device=device)
    out = [
        rasterize(splats, cameras[i].to(device), sh_degree=sh_degree, background=bg, backend=backend).rgb.clamp(0, 1).cpu()
        for i in range(len(cameras))
    ]
    return torch.cat(out)


def _write_png(path: Path, image: np.ndarray) -> None:
    """Atomic PNG write of (H,W,3) float in [0,1]."""
    import imageio.v3 as iio

    with atomic_write_path(path, keep_suffix=True) as tmp:
        iio.imwrite(tmp, (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))


@torch.no_grad()
def evaluate_views(
    splats: GaussianSplats,
    images: torch.Tensor,
    cameras: Cameras,
    names: list[str],
    *,
    sh_degree: int | None = None,
    background=(0.0, 0.0, 0.0),
    backend: str = "auto",
    device: str | torch.device = "cpu",
    save_dir: str | Path | None = None,
) -> EvalResult:
    """PSNR/SSIM of renders against images (B,H,W,3); PNGs 'ground truth | render' in save_dir."""
    from gwm.metrics.images import psnr, ssim

    if len(cameras) == 0:
        return EvalResult(float("nan"), float("nan"))
    renders = render_views(splats, cameras, sh_degree=sh_degree, background=background, backend=backend, device=device)
    per_view = []
    for i, name in enumerate(names):
        r, t = renders[i : i + 1], images[i : i + 1].cpu()
        per_view.append({"name": name, "psnr": float(psnr(r, t)), "ssim": float(ssim(r, t))})
    if save_dir is not None:
        save_dir = Path(save_dir)
        save_dir.mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(names):
            side = torch.cat([images[i].cpu(), renders[i]], dim=1).numpy()  # (H, 2W, 3)
            _write_png(save_dir / f"{Path(name).stem}.png", side)
    return EvalResult(
        psnr=float(np.mean([v["psnr"] for v in per_view])),
        ssim=float(np.mean([v["ssim"] for v in per_view])),
        per_view=per_view,
    )


def save_training_curve(history: dict, path: str | Path, title: str = "") -> Path:
    """Loss and PSNR against step (training views, and held-out views where evaluated) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, (ax_loss, ax_psnr) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax_loss.plot(history["step"], history["loss"], lw=1)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss (L1 + D-SSIM)")
    ax_loss.set_yscale("log")
    ax_loss.grid(alpha=0.3)
    ax_psnr.plot(history["step"], history["psnr"], lw=1, alpha=0.6, label="training view")
    if history.get("eval_step"):
        ax_psnr.plot(history["eval_step"], history["eval_psnr"], "o-", label="held-out views")
    ax_psnr.set_xlabel("step")
    ax_psnr.set_ylabel("PSNR (dB)")
    ax_psnr.grid(alpha=0.3)
    ax_psnr.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_write_path(path, keep_suffix=True) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return path

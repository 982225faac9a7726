"""Training settings of the built-in 3DGS trainer, and its presets by name.

Defaults follow the 3DGS paper (Kerbl et al. 2023) at 30k iterations; the `cpu` preset
compresses the schedules so a small capture trains in minutes on two cores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class TrainConfig:
    iterations: int = 30_000
    device: str = "cpu"  # "cpu" | "cuda" | "cuda:N"
    render_backend: str = "auto"  # passed to gwm.render.rasterize
    # torch intra-op threads while reconstructing (None: torch's default). The tensors are
    # small, so one thread avoids OpenMP's spin-waits on a busy machine; the renderer's numba
    # kernels keep their own threads. Measured on the tiny test capture, 2 shared cores:
    # 58 s -> 11 s for 300 steps, identical results.
    torch_threads: int | None = None
    seed: int = 0

    # data
    downscale: int = 1  # integer image downscale for training and evaluation
    holdout_every: int = 8  # frames whose sorted index % holdout_every == 0 are held out (0: none)

    # initialisation from the SfM points
    init_opacity: float = 0.1
    init_knn: int = 3  # initial isotropic scale = mean distance to this many nearest points
    max_init_points: int | None = None  # random subset of the SfM points when set

    # appearance
    sh_degree: int = 3
    sh_increase_every: int = 1000  # one more SH band every this many steps, up to sh_degree
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)

    # loss: (1 - ssim_lambda) * L1 + ssim_lambda * (1 - SSIM)
    ssim_lambda: float = 0.2

    # Adam learning rates; positions are scaled by the scene extent and decay exponentially
    lr_means: float = 1.6e-4
    lr_means_final: float = 1.6e-6
    lr_sh_dc: float = 2.5e-3
    lr_sh_rest: float = 2.5e-3 / 20
    lr_opacities: float = 0.05
    lr_scales: float = 5e-3
    lr_quats: float = 1e-3

    # adaptive density control
    densify_from: int = 500
    densify_until: int = 15_000
    densify_every: int = 100
    densify_grad_threshold: float = 2e-4  # mean view-space positional gradient, NDC units
    dense_fraction: float = 0.01  # clone if max scale <= this * extent, else split
    split_count: int = 2
    prune_opacity: float = 0.005
    opacity_reset_every: int = 3000  # 0 disables
    opacity_reset_value: float = 0.01
    # after the first opacity reset (never when resets are off), prune Gaussians larger than:
    prune_world_size: float = 0.1  # this fraction of the scene extent
    prune_screen_size: float = 0.15  # this fraction of the image's larger side
    max_gaussians: int | None = None  # densification stops growing past this count

    # logging and evaluation
    log_every: int = 10
    eval_every: int = 0  # held-out PSNR for the training curve every this many steps (0: end only)
    progress: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, TrainConfig] = {
    # Two CPU cores, a few minutes on the kitchen sample (48 frames of 400x300): images at half
    # size (200x150), 600 steps, densification every 100 steps until step 500 and no opacity
    # reset (the schedule is too short to recover from one). Measured on the kitchen, shared
    # 2-core machine: 29.1 dB held-out in 2.3 min; downscale=1: 27.1 dB in 6.1 min.
    "cpu": TrainConfig(
        torch_threads=1,
        iterations=600,
        downscale=2,
        sh_increase_every=150,
        densify_from=100,
        densify_until=500,
        densify_every=100,
        opacity_reset_every=0,
        max_gaussians=100_000,
        lr_means_final=1.6e-5,
        eval_every=100,
    ),
    # The 3DGS paper's schedule at full resolution on a CUDA device.
    "gpu": TrainConfig(iterations=30_000, device="cuda", eval_every=2_500, log_every=50),
}


def train_preset(name: str, **overrides) -> TrainConfig:
    """A preset by name, with field overrides (e.g. train_preset("cpu", iterations=500))."""
    if name not in PRESETS:
        raise ValueError(f"unknown training preset {name!r}; choose one of {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides)

"""Reconstruction benchmark: capture + built-in 3DGS trainer, held-out quality and time.

    python benchmarks/reconstruct.py [--preset cpu] [--iterations N] [--out DIR] [--synthetic]

On the bundled kitchen sample (datasets/kitchen) it runs the capture stage (pycolmap SfM on
the stills, aligned to the ground-truth poses, so the splat is metric and Z-up) and then the
built-in trainer; without the sample (or with --synthetic) it uses a synthetic capture
rendered with gwm.render. Prints held-out PSNR / SSIM (every 8th frame), Gaussians and
minutes, with same-run references: the PSNR of the SfM initialisation before training and
the 25 dB target. Outputs (splat.ply, eval/*.png ground truth | render, training_curve.png,
metrics.json) stay in --out. Timings on a shared 2-core machine are noisy and pessimistic.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
KITCHEN = ROOT / "datasets" / "kitchen"
TARGET_PSNR, TARGET_MINUTES = 25.0, 10.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "datasets" / "outputs" / "bench_reconstruct")
    ap.add_argument("--synthetic", action="store_true", help="use the synthetic capture even if the kitchen exists")
    args = ap.parse_args()

    import numba
    import torch

    from gwm.reconstruct import reconstruct, train_preset

    overrides = {} if args.iterations is None else {"iterations": args.iterations}
    config = train_preset(args.preset, **overrides)
    args.out.mkdir(parents=True, exist_ok=True)
    capture_dir = args.out / "capture"
    capture_minutes = 0.0
    t0 = time.perf_counter()
    if KITCHEN.joinpath("images").is_dir() and not args.synthetic:
        from gwm.capture import CaptureConfig, run_capture

        dataset = "datasets/kitchen (stills -> pycolmap SfM, aligned to ground_truth.json)"
        result = run_capture(KITCHEN / "images", capture_dir, CaptureConfig(camera_model="PINHOLE"),
                             reference=KITCHEN / "ground_truth.json", overwrite=True)
        print(result.summary(), flush=True)
    else:
        from gwm.reconstruct.synthetic import make_synthetic_capture

        dataset = "synthetic capture (kitchen sample absent or --synthetic): 48 views 200x150 of 3000 Gaussians"
        make_synthetic_capture(capture_dir, num_gaussians=3000, num_views=48, width=200, height=150,
                               num_points=1500, seed=0)
        config = train_preset(args.preset, **{"downscale": 1, **overrides})
    capture_minutes = (time.perf_counter() - t0) / 60

    r = reconstruct(capture_dir, args.out / "reconstruction", config)
    w, h = r.extras["image_size"]
    minutes = r.seconds / 60
    print(f"\ndataset: {dataset}")
    print(f"backend {r.backend}, preset {args.preset}: {config.iterations} steps at {w}x{h} px, "
          f"{r.extras['num_train_views']} training / {r.extras['num_heldout_views']} held-out views, "
          f"device {config.device}, torch threads {config.torch_threads or torch.get_num_threads()}, "
          f"renderer (numba) threads {numba.get_num_threads()}")
    print(f"{'':24s} {'PSNR dB':>8s} {'SSIM':>6s} {'Gaussians':>9s} {'minutes':>8s}")
    print(f"{'SfM initialisation':24s} {r.init_psnr:8.2f} {'':>6s} {r.extras['history']['num_gaussians'][0]:9d} {'':>8s}")
    print(f"{'trained (held-out)':24s} {r.psnr:8.2f} {r.ssim:6.3f} {r.num_gaussians:9d} {minutes:8.2f}")
    print(f"gain over initialisation {r.psnr - r.init_psnr:+.2f} dB; PSNR / target {r.psnr / TARGET_PSNR:.3f}; "
          f"minutes / budget {minutes / TARGET_MINUTES:.3f} (capture took {capture_minutes:.2f} min more)")
    print(f"per held-out view: " + ", ".join(f"{Path(v['name']).stem} {v['psnr']:.1f}" for v in r.extras["heldout"]))
    print(f"outputs: {r.out_dir} (splat.ply, eval/, training_curve.png, metrics.json)")


if __name__ == "__main__":
    main()

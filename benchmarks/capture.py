"""Capture on the bundled kitchen sample: registration, reprojection error, pose error, time.

    python benchmarks/capture.py [--camera-model OPENCV|PINHOLE] [--max-frames 40] [--quick]

Runs the image-folder path (all stills, exhaustive matching) and the video path (orbit.mp4,
sequential matching), each aligned to the ground-truth camera centres by a similarity, and
prints pose errors against ground truth and their ratio to the targets (< 1 cm, < 0.5 deg).
`--quick` uses every 4th still and 12 video frames. Timings on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
KITCHEN = ROOT / "datasets" / "kitchen"
TARGET_CM, TARGET_DEG = 1.0, 0.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--camera-model", default="OPENCV", choices=["OPENCV", "PINHOLE"])
    ap.add_argument("--max-frames", type=int, default=40, help="video frames kept")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()

    from gwm.capture import CaptureConfig, run_capture

    gt = KITCHEN / "ground_truth.json"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        images = KITCHEN / "images"
        if args.quick:
            images = tmp / "stills"
            images.mkdir()
            for p in sorted((KITCHEN / "images").glob("*.png"))[::4]:
                shutil.copyfile(p, images / p.name)
        runs = [
            ("images", images, CaptureConfig(camera_model=args.camera_model)),
            ("video", KITCHEN / "orbit.mp4", CaptureConfig(camera_model=args.camera_model,
                                                         max_frames=12 if args.quick else args.max_frames)),
        ]
        for name, src, config in runs:
            r = run_capture(src, tmp / name, config, reference=gt)
            print(r.summary(), flush=True)
            rows.append((name, r))

    print(f"\ncamera model {args.camera_model}; targets: translation < {TARGET_CM} cm, rotation < {TARGET_DEG} deg")
    head = f"{'input':8s} {'registered':>10s} {'reproj px':>9s} {'t mean cm':>9s} {'t max cm':>8s} " \
           f"{'r mean deg':>10s} {'r max deg':>9s} {'t max/target':>12s} {'r max/target':>12s} {'seconds':>8s}"
    print(head)
    for name, r in rows:
        p = r.pose_error
        print(f"{name:8s} {f'{r.num_registered}/{r.num_frames}':>10s} {r.mean_reprojection_error_px:9.3f} "
              f"{p['translation_cm_mean']:9.3f} {p['translation_cm_max']:8.3f} {p['rotation_deg_mean']:10.3f} "
              f"{p['rotation_deg_max']:9.3f} {p['translation_cm_max'] / TARGET_CM:12.3f} "
              f"{p['rotation_deg_max'] / TARGET_DEG:12.3f} {r.seconds:8.1f}")


if __name__ == "__main__":
    main()

"""The README's viewer screenshots: each kind of path opened by `gwm view`, drawn by headless Chromium.

    python docs/viewer/make_screenshots.py --outputs datasets/outputs/kitchen [--validation DIR]

Writes docs/viewer/<kind>.png (rendered at 800x520, saved at 600x390: the 3D view with viser's control panel) for the pipeline outputs
present under --outputs (capture, reconstruct/splat.ply, scene/scene.usdz, datasets/demos/lerobot) and a
validation folder.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from gwm.viewer import open_viewer
from gwm.viewer.browser import HeadlessBrowser

HERE = Path(__file__).resolve().parent
W, H = 800, 520
SAVE_SCALE = 0.75  # saved at 600x390: small files for the README


def shoot(browser: HeadlessBrowser, path: Path, name: str, setup=None, **kw) -> None:
    viewer = open_viewer(path, port=0, **kw)
    try:
        browser.goto(viewer.url)
        client = viewer.wait_for_client()
        time.sleep(1.0)
        if setup is not None:
            setup(viewer, client)
        img = browser.settled_screenshot(timeout_s=30)
        img = cv2.resize(img, (int(W * SAVE_SCALE), int(H * SAVE_SCALE)), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(HERE / f"{name}.png"), np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(f"{name}: {viewer.kind} {path}")
    finally:
        viewer.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--outputs", type=Path, required=True)
    ap.add_argument("--validation", type=Path)
    args = ap.parse_args()
    out = args.outputs

    def proxies_on(viewer, _):
        viewer.controls["collision_proxies"].value = True

    def mid_episode(viewer, _):
        viewer.controls["timeline"].value = viewer.info["frames"] // 2

    def late_step(viewer, _):
        viewer.controls["horizon"].value = int(viewer.controls["horizon"].max)

    with HeadlessBrowser("about:blank", W, H) as browser:
        jobs = [(out / "reconstruct" / "splat.ply", "splat", None), (out / "capture", "capture", None),
                (out / "scene" / "scene.usdz", "scene", proxies_on),
                (out / "datasets" / "demos" / "lerobot", "dataset", mid_episode)]
        if args.validation:
            jobs.append((args.validation, "validation", late_step))
        for path, name, setup in jobs:
            if path.exists():
                shoot(browser, path, name, setup)


if __name__ == "__main__":
    main()

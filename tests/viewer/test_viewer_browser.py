"""The viewer in a real browser: headless Chromium (Debian's `chromium`, SwiftShader WebGL) renders each view;
changes are made through the same GUI handles a click sets, and the rendered pictures must change.

Skipped where no Chromium is installed (.ci/run installs it, so CI runs it)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from gwm.viewer import open_viewer
from gwm.viewer.browser import HeadlessBrowser, find_chromium

pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="no Chromium on PATH: apt-get install chromium (.ci/run does)")
W, H = 800, 600
VIEW_COLUMNS = slice(0, int(0.55 * W))  # the 3D canvas left of viser's control panel (docked top right)


def scene_region(img: np.ndarray) -> np.ndarray:
    return img[:, VIEW_COLUMNS].astype(np.int16)


def drawn_fraction(img: np.ndarray) -> float:
    """Share of the 3D region that is not the empty background (viser's is plain white)."""
    region = scene_region(img)
    background = np.median(region[:20, :20].reshape(-1, 3), axis=0)  # top-left corner: nothing drawn there
    return float((np.abs(region - background).max(-1) > 30).mean())


def changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.abs(scene_region(a) - scene_region(b)).max(-1) > 30).mean())


@pytest.fixture(scope="module")
def browser():
    with HeadlessBrowser("about:blank", W, H) as b:
        yield b


def show(browser, path, **kw):
    viewer = open_viewer(path, port=0, **kw)
    browser.goto(viewer.url)
    client = viewer.wait_for_client()
    deadline = time.monotonic() + 20
    while drawn_fraction(browser.screenshot()) == 0 and time.monotonic() < deadline:  # the scene arrives
        time.sleep(0.2)
    return viewer, client


def test_splat_is_drawn_and_follows_the_camera(browser, small_tabletop):
    root, _ = small_tabletop
    viewer, client = show(browser, root / "splat.ply")
    try:
        a = browser.settled_screenshot()
        assert drawn_fraction(a) > 0.05
        look, pos = np.asarray(client.camera.look_at), np.asarray(client.camera.position)
        c, s = np.cos(np.radians(100)), np.sin(np.radians(100))  # orbit 100 degrees about the vertical
        client.camera.position = tuple(look + np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ (pos - look))
        client.camera.look_at = tuple(look)  # setting the position alone translates the view
        b = browser.settled_screenshot()
        assert drawn_fraction(b) > 0.05
        assert changed_fraction(a, b) > 0.05
    finally:
        viewer.close()


def test_timeline_changes_the_rendered_episode_frame(browser, lerobot_dataset):
    viewer, _ = show(browser, lerobot_dataset)
    try:
        first = browser.settled_screenshot()
        assert drawn_fraction(first) > 0.01
        viewer.controls["timeline"].value = 9
        last = browser.settled_screenshot()
        assert changed_fraction(first, last) > 0.01
        viewer.controls["timeline"].value = 0  # back to the first frame: the first picture again
        again = browser.settled_screenshot()
        assert changed_fraction(first, again) < 0.002
    finally:
        viewer.close()


def test_collision_proxy_toggle_changes_the_picture(browser, scene_usdz):
    viewer, _ = show(browser, scene_usdz)
    try:
        off = browser.settled_screenshot()
        assert drawn_fraction(off) > 0.05
        viewer.controls["collision_proxies"].value = True
        on = browser.settled_screenshot()
        assert changed_fraction(off, on) > 0.002
    finally:
        viewer.close()

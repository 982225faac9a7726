"""Issue #19: the same input and settings give the same cameras, and the fingerprint shows it."""

import numpy as np

from gwm.capture import CaptureConfig, capture_fingerprint, run_capture
from gwm.capture.nerfstudio import read_transforms_cameras

# small and fast, but with the default threading (several extraction threads)
FAST = CaptureConfig(camera_model="PINHOLE", max_image_size=320, max_num_features=1024)


def _twice(src, tmp_path, config):
    runs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        r = run_capture(src, out, config, progress=False)
        cams, paths, meta = read_transforms_cameras(out)
        runs.append((r, [p.name for p in paths], cams.world_from_cam.numpy(), meta))
    return runs


def _assert_same(runs):
    (r0, n0, p0, m0), (r1, n1, p1, m1) = runs
    assert n0 == n1 and r0.num_points == r1.num_points
    np.testing.assert_array_equal(p0, p1)  # bit for bit
    assert r0.fingerprint == r1.fingerprint == m0["gwm"]["fingerprint"] == m1["gwm"]["fingerprint"]
    assert f"fingerprint {r0.fingerprint}" in r0.summary()


def test_two_captures_of_the_same_stills_agree(subset_images, tmp_path):
    _assert_same(_twice(subset_images, tmp_path, FAST))


def test_two_captures_of_the_same_video_agree(kitchen, tmp_path):
    _assert_same(_twice(kitchen / "orbit.mp4", tmp_path, CaptureConfig(**{**FAST.to_dict(), "max_frames": 10})))


def test_fingerprint_sees_a_micrometre_and_ignores_float_noise():
    rng = np.random.default_rng(0)
    poses = np.tile(np.eye(4), (3, 1, 1))
    poses[:, :3, 3] = rng.normal(size=(3, 3))
    names = ["a.png", "b.png", "c.png"]
    base = capture_fingerprint(names, poses, 100)
    jitter = poses.copy()
    jitter[:, :3, 3] += 1e-10
    assert capture_fingerprint(names, jitter, 100) == base
    moved = poses.copy()
    moved[1, 0, 3] += 2e-6
    assert capture_fingerprint(names, moved, 100) != base
    assert capture_fingerprint(names, poses, 101) != base
    assert capture_fingerprint(["a.png", "b.png", "d.png"], poses, 100) != base

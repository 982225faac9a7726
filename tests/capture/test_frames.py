"""Blurred stills are dropped relative to their folder, with every image's verdict recorded."""

import cv2
import numpy as np
import pytest

from gwm.capture import CaptureConfig, CaptureError
from gwm.capture.frames import select_folder_images


def _motion_blur(img: np.ndarray, length: int, angle_deg: float) -> np.ndarray:
    k = np.zeros((length, length), np.float32)
    k[length // 2, :] = 1.0 / length
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle_deg, 1.0)
    k = cv2.warpAffine(k, rot, (length, length))
    return cv2.filter2D(img, -1, k / k.sum())


@pytest.fixture()
def folder(subset_images, tmp_path):
    d = tmp_path / "stills"
    d.mkdir()
    names = sorted(p.name for p in subset_images.iterdir())
    blurred = {names[2]: (7, 20.0), names[9]: (9, 100.0)}  # a 7 px and a 9 px shake
    for n in names:
        img = cv2.imread(str(subset_images / n))
        if n in blurred:
            img = _motion_blur(img, *blurred[n])
        cv2.imwrite(str(d / n), img)
    return d, names, set(blurred)


def test_blurred_stills_are_dropped_with_a_reason(folder, tmp_path):
    src, names, blurred = folder
    out = tmp_path / "images"
    out.mkdir()
    sel = select_folder_images(src, out, CaptureConfig(), progress=False)
    assert set(sel.dropped_names) == blurred
    assert sorted(sel.names) == sorted(set(names) - blurred)
    assert sorted(p.name for p in out.iterdir()) == sorted(sel.names)  # only sharp stills go to SfM
    rows = {r["name"]: r for r in sel.frames}
    assert len(rows) == len(names)
    for n in blurred:
        assert not rows[n]["kept"] and rows[n]["ratio"] < 0.5 and "of the median still" in rows[n]["reason"]
    sharp = [r for n, r in rows.items() if n not in blurred]
    assert all(r["kept"] and r["reason"] is None and r["ratio"] > 0.6 for r in sharp)
    assert len({r["reference"] for r in rows.values()}) == 1  # one reference: the folder's median


def test_relative_threshold_carries_across_contrast(folder, tmp_path):
    """Halving the contrast of every still (a dimmer scene) quarters the sharpness numbers but
    drops the same stills: the judgement is relative to the set, not one absolute number."""
    src, names, blurred = folder
    dim = tmp_path / "dim"
    dim.mkdir()
    for n in names:
        cv2.imwrite(str(dim / n), (cv2.imread(str(src / n)).astype(np.float32) * 0.5).astype(np.uint8))
    out = tmp_path / "images"
    out.mkdir()
    sel = select_folder_images(dim, out, CaptureConfig(min_sharpness=1.0), progress=False)
    assert set(sel.dropped_names) == blurred


def test_a_still_named_by_a_cue_is_kept(folder, tmp_path):
    src, names, blurred = folder
    must = sorted(blurred)[0]
    out = tmp_path / "images"
    out.mkdir()
    sel = select_folder_images(src, out, CaptureConfig(), progress=False, keep_names=(must,))
    assert must in sel.names
    row = next(r for r in sel.frames if r["name"] == must)
    assert row["kept"] and "kept because a scale cue names this frame" in row["reason"]
    with pytest.raises(CaptureError, match=r"\['nope.png'\] named by a scale cue are not in the folder"):
        select_folder_images(src, out, CaptureConfig(), progress=False, keep_names=("nope.png",))

"""Shared fixtures: the bundled kitchen sample and one real pycolmap run on a subset of it."""

import shutil
from pathlib import Path

import pytest

KITCHEN = Path(__file__).resolve().parents[2] / "datasets" / "kitchen"
GROUND_TRUTH = KITCHEN / "ground_truth.json"
# 7 views of the low orbit ring and 5 of the high one: every pair of neighbours overlaps.
SUBSET = ["000", "003", "006", "009", "012", "015", "018", "021", "025", "029", "033", "037"]


@pytest.fixture(scope="session")
def kitchen() -> Path:
    if not GROUND_TRUTH.is_file():
        pytest.fail(f"{KITCHEN} is missing; regenerate it with `python datasets/kitchen/generate.py`")
    return KITCHEN


@pytest.fixture(scope="session")
def subset_images(kitchen, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("subset") / "images"
    d.mkdir()
    for i in SUBSET:
        shutil.copyfile(kitchen / "images" / f"frame_{i}.png", d / f"frame_{i}.png")
    return d


@pytest.fixture(scope="session")
def subset_capture(subset_images, tmp_path_factory):
    """(CaptureResult, output folder): 12 stills at 320x240, exhaustive matching, aligned to ground truth.
    Treat the folder as read-only."""
    from gwm.capture import CaptureConfig, run_capture

    out = tmp_path_factory.mktemp("capture") / "kitchen12"
    config = CaptureConfig(camera_model="PINHOLE", max_image_size=320, max_num_features=2048, num_threads=1)
    result = run_capture(subset_images, out, config, reference=GROUND_TRUTH, progress=False)
    return result, out

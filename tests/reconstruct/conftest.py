"""A tiny synthetic capture (rendered with gwm.render), shared by the reconstruction tests."""

import shutil

import pytest

from gwm.reconstruct.synthetic import make_synthetic_capture


@pytest.fixture(scope="session")
def tiny_capture(tmp_path_factory):
    """24 views of 64x48 px of a 400-Gaussian scene, 150 noisy SfM points; treat as read-only."""
    return make_synthetic_capture(tmp_path_factory.mktemp("capture") / "tiny", num_gaussians=400, num_views=24,
                                  width=64, height=48, num_points=150, seed=0)


@pytest.fixture
def capture_copy(tiny_capture, tmp_path):
    """A private copy of the tiny capture that a test may break."""
    dst = tmp_path / "capture"
    shutil.copytree(tiny_capture, dst)
    return dst

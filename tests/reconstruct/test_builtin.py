"""The built-in 3DGS trainer end to end on the tiny synthetic capture (a few hundred steps)."""

import json

import pytest
import torch

from gwm.ply import read_ply, read_ply_metadata
from gwm.reconstruct import TrainConfig, reconstruct, train_preset
from gwm.reconstruct.api import backend_of


def _tiny_config(**kw) -> TrainConfig:
    base = dict(iterations=300, downscale=1, sh_increase_every=100, densify_from=100, densify_until=250,
                densify_every=50, eval_every=100, max_gaussians=4000, progress=False, log_every=10)
    base.update(kw)
    return train_preset("cpu", **base)


@pytest.fixture(scope="module")
def tiny_run(tiny_capture, tmp_path_factory):
    out = tmp_path_factory.mktemp("builtin")
    return reconstruct(tiny_capture, out, _tiny_config()), out


def test_quality_rises_on_held_out_views(tiny_run):
    result, _ = tiny_run
    # measured: init 14.7 dB -> 19.8 dB after 300 steps (64x48 px, 21 training views)
    assert result.backend == "builtin"
    assert result.psnr > 18.0
    assert result.psnr > result.init_psnr + 3.0
    assert result.ssim > 0.7
    h = result.extras["history"]
    # the training curve goes the right way: late loss below early loss
    assert sum(h["loss"][-5:]) < 0.7 * sum(h["loss"][:5])
    assert h["eval_step"][0] == 0 and h["eval_step"][-1] == 300


def test_densification_grows_the_model(tiny_run):
    result, _ = tiny_run
    counts = result.extras["history"]["num_gaussians"]
    assert counts[0] == 150  # one per SfM point
    assert result.num_gaussians > 2 * counts[0]
    assert result.num_gaussians <= 4000


def test_outputs_on_disk(tiny_run, tiny_capture):
    result, out = tiny_run
    splats = read_ply(out / "splat.ply")
    assert len(splats) == result.num_gaussians and splats.sh_degree == 3  # one band per 100 steps, from 0
    md = read_ply_metadata(out / "splat.ply")
    assert md["backend"] == "builtin" and md["format_version"] == 1
    assert md["config"]["iterations"] == 300 and md["normalisation"] == json.loads(
        (tiny_capture / "transforms.json").read_text())["normalisation"]
    # held-out frames 0, 8, 16 of 24, saved as ground truth | render
    pngs = sorted(p.name for p in (out / "eval").glob("*.png"))
    assert pngs == ["frame_00000.png", "frame_00008.png", "frame_00016.png"]
    import imageio.v3 as iio

    assert iio.imread(out / "eval" / pngs[0]).shape == (48, 128, 3)
    assert (out / "training_curve.png").stat().st_size > 1000
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["psnr"] == pytest.approx(result.psnr) and metrics["num_gaussians"] == result.num_gaussians
    assert metrics["format_version"] == 1 and metrics["normalisation"] == md["normalisation"]
    assert metrics["config"] == md["config"]


def test_config_picks_the_backend_and_presets():
    assert backend_of(train_preset("cpu")) == "builtin"
    assert train_preset("gpu").iterations == 30_000 and train_preset("gpu").device == "cuda"
    with pytest.raises(ValueError, match="unknown training preset 'fast'"):
        train_preset("fast")
    with pytest.raises(TypeError, match="TrainConfig or NerfstudioConfig"):
        backend_of({"iterations": 3})


def test_bad_dataset_is_refused_before_training(capture_copy, tmp_path):
    (capture_copy / "images" / "frame_00004.png").unlink()
    with pytest.raises(ValueError, match="1 of 24 images it lists are missing"):
        reconstruct(capture_copy, tmp_path / "out", _tiny_config(iterations=5))


def test_cuda_device_without_gpu_is_a_clear_error(tiny_capture, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="no CUDA GPU; use the `cpu` preset"):
        reconstruct(tiny_capture, tmp_path / "out", _tiny_config(iterations=5, device="cuda"))

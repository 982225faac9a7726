"""Whether a capture is metric: phone AR poses, the report/transforms.json record, `require_metric`, the CLI."""

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from typer.testing import CliRunner

from gwm.capture import CaptureConfig, CaptureError, load_reference_poses, require_metric, run_capture
from gwm.capture.nerfstudio import read_transforms_cameras, write_transforms
from gwm.metrics import Similarity, robust_similarity

from .conftest import GROUND_TRUTH

# ARKit's world: +y up. arkit_from_world takes the sample's Z-up world there, shifted and turned.
_A = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0], [-1.0, 0.0, 0.0]])  # columns: x -> -z, y -> -x, z (up) -> +y
ARKIT_FROM_WORLD = Similarity(1.0, _A, np.array([0.4, -1.5, 0.9]))


def _phone_export(folder, images, noise_m=0.003, bad=None, seed=0):
    """A nerfstudio export of the subset's true poses in an ARKit-like frame, with noise."""
    ref = load_reference_poses(GROUND_TRUTH, video=False)
    names = sorted(p.name for p in images.iterdir())
    poses = ARKIT_FROM_WORLD.apply_poses(np.stack([ref[n] for n in names]))
    rng = np.random.default_rng(seed)
    poses[:, :3, 3] += rng.normal(0, noise_m, (len(names), 3))
    if bad is not None:
        poses[bad, :3, 3] += [0.12, 0.0, -0.08]
    (folder / "images").mkdir(parents=True)
    for n in names:
        (folder / "images" / n).write_bytes((images / n).read_bytes())
    K = np.asarray(json.loads(GROUND_TRUTH.read_text())["camera"]["K"])
    write_transforms(folder / "transforms.json", names, poses, K, 400, 300, {}, np.eye(4), {})
    return names


def _errors(out):
    """Scale error and up error of a capture's output frame against the sample's truth."""
    cams, paths, _ = read_transforms_cameras(out)
    ref = load_reference_poses(GROUND_TRUTH, video=False)
    est, gt = cams.world_from_cam.numpy(), np.stack([ref[p.name] for p in paths])
    fit = robust_similarity(est, gt)
    # up error from the cameras' orientations (the centres carry the phone's noise)
    rot = Rotation.from_matrix(gt[:, :3, :3] @ np.swapaxes(est[:, :3, :3], 1, 2)).mean().as_matrix()
    tilt = np.degrees(np.arccos(np.clip((rot @ [0, 0, 1.0])[2], -1, 1)))
    return abs(1.0 / fit.similarity.scale - 1.0), tilt


def test_phone_poses_as_given(subset_images, tmp_path):
    _phone_export(tmp_path / "export", subset_images)
    r = run_capture(tmp_path / "export", tmp_path / "out", CaptureConfig(metric_input=True, up="orbit"), progress=False)
    m = r.metric
    assert m["metric"] and m["metric_from"] == "phone_poses" and m["scale_uncertainty"] is None
    assert m["up_from"].startswith("the input's gravity (+y")
    scale_err, tilt = _errors(tmp_path / "out")
    assert scale_err < 1e-3 and tilt < 0.05


def test_phone_poses_checked_against_sfm(subset_images, tmp_path):
    """Re-posed by SfM: the phone poses give scale and gravity, a wrong one is caught and left out."""
    names = _phone_export(tmp_path / "export", subset_images, bad=5)
    config = CaptureConfig(metric_input=True, rerun_sfm=True, camera_model="PINHOLE", max_num_features=2048)
    r = run_capture(tmp_path / "export", tmp_path / "out", config, progress=False)
    cue = r.alignment["cues"]["phone_poses"]
    assert r.metric["metric_from"] == "phone_poses" and 0 < r.metric["scale_uncertainty"] < 0.01
    assert names[5] in r.outliers and "disagrees with the phone's" in r.outliers[names[5]]
    residual_cm = float(r.outliers[names[5]].split(": ")[1].split(" cm")[0])
    assert residual_cm > 5  # the pose was moved by 14 cm
    assert names[5] not in {row["name"] for row in cue["per_camera"]}  # the scale was taken without it
    assert all(row["consistent"] for row in cue["per_camera"])
    assert r.alignment["up_from"] == "table plane" and "phone gravity" in r.alignment["up_prior"]["from"]
    scale_err, tilt = _errors(tmp_path / "out")
    assert scale_err < 0.01 and scale_err < 4 * r.metric["scale_uncertainty"] + 1e-3
    assert tilt < 0.5


def test_metric_input_needs_a_nerfstudio_input(subset_images, tmp_path):
    with pytest.raises(CaptureError, match="--metric-input applies to a nerfstudio dataset"):
        run_capture(subset_images, tmp_path / "out", CaptureConfig(metric_input=True), progress=False)


def test_require_metric(subset_capture, tmp_path):
    _, out = subset_capture
    info = require_metric(out)
    assert info["metric"] and info["metric_from"] == "reference" and len(info["fingerprint"]) == 16
    # the same cameras with no cue: SfM units
    plain = tmp_path / "plain"
    r = run_capture(out / "colmap" / "sparse" / "0", plain, CaptureConfig(), images_dir=out / "images", progress=False)
    assert not r.metric["metric"] and "NOT metric" in r.summary()
    meta = json.loads((plain / "transforms.json").read_text())["gwm"]
    assert meta["scale_is_metric"] is False and meta["metric_from"] is None and meta["units"] == "sfm units"
    with pytest.raises(CaptureError) as e:
        require_metric(plain / "transforms.json")
    msg = str(e.value)
    for cue in ("--marker-size", "--length-view", "--table-width", "--metric-input", "explicit scale"):
        assert cue in msg
    assert require_metric(plain, explicit_scale=0.5)["metric_from"] == "explicit scale"
    with pytest.raises(CaptureError, match="cannot read the capture"):
        require_metric(tmp_path / "nothing")


def test_cli_parses_cues_and_reports_bad_ones(tmp_path):
    from gwm.capture.cli import _known_length, app

    kl = _known_length(["a.png:10,20.5:30,40", "b.png:1,2:3,4"], 0.3)
    assert kl.metres == 0.3 and kl.views[0].a == (10.0, 20.5) and kl.views[1].frame == "b.png"
    runner = CliRunner()
    res = runner.invoke(app, ["run", str(tmp_path), str(tmp_path / "out"), "--length-view", "a.png:1,2", "--length-metres", "0.3"])
    assert res.exit_code == 2 and "write FRAME:XA,YA:XB,YB" in res.output
    res = runner.invoke(app, ["run", str(tmp_path), str(tmp_path / "out"), "--length-view", "a.png:1,2:3,4"])
    assert res.exit_code == 2 and "needs both --length-view" in res.output
    res = runner.invoke(app, ["run", str(tmp_path), str(tmp_path / "out"), "--marker-size", "10"])
    assert res.exit_code == 2 and "in metres" in res.output

"""A capture whose metric scale is wrong (a marker side in cm given as metres, or in mm): scene init stops in
one line naming where the scale came from, before any image work, and a scene file written before survives."""

import json
import shutil

import numpy as np
import pytest
import torch

from gwm.ply import read_ply, write_ply
from gwm.scene.autoscene import init_scene
from gwm.scene.config import SceneConfigError
from gwm.scene.synthetic import front_orbit_cameras, make_tabletop, write_synthetic_capture

TABLE = 0.75


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """A small metric tabletop capture whose scale came from a 0.10 m marker."""
    root = tmp_path_factory.mktemp("badscale")
    clean, _ = make_tabletop(spacing=0.015, seed=3, sh_degree=0)
    write_synthetic_capture(clean, root / "capture",
                            front_orbit_cameras([0.0, 0.0, TABLE + 0.03], num_views=4, width=64, height=48))
    write_ply(root / "splat.ply", clean)
    tf = root / "capture" / "transforms.json"
    d = json.loads(tf.read_text())
    d["gwm"].update(metric_from="marker", config={"marker_size_m": 0.10})
    tf.write_text(json.dumps(d))
    return root


def _rescaled(root, out, factor: float, marker_given: float):
    """The same capture as if the marker's side had been given `factor` times too large: every length scaled."""
    shutil.copytree(root / "capture", out / "capture")
    tf = out / "capture" / "transforms.json"
    d = json.loads(tf.read_text())
    for f in d["frames"]:
        m = np.asarray(f["transform_matrix"])
        m[:3, 3] *= factor
        f["transform_matrix"] = m.tolist()
    d["gwm"]["config"]["marker_size_m"] = marker_given
    tf.write_text(json.dumps(d))
    write_ply(out / "splat.ply", read_ply(root / "splat.ply").transform(torch.eye(4, dtype=torch.float64), scale=factor))
    return out


@pytest.mark.parametrize("factor, given, distance", [(10.0, 1.0, r"\d+\.?\d* m"), (0.1, 0.01, r"0\.0\d+ m")])
def test_a_marker_side_in_the_wrong_unit_is_one_clear_error(capture, tmp_path, factor, given, distance):
    bad = _rescaled(capture, tmp_path, factor, given)
    with pytest.raises(SceneConfigError) as e:
        init_scene(bad / "splat.ply", bad / "capture", tmp_path / "scene.toml", progress=False)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("the capture's scale looks wrong: it makes the cameras a median ")
    assert f"the marker (side given as {given} m)" in msg and "0.10 for 10 cm" in msg
    # the figure it names is the true camera distance (front_orbit_cameras: 0.9 m) times the slip
    found = float(msg.split("a median ")[1].split(" m")[0])
    assert found == pytest.approx(0.9 * factor, rel=0.05)
    assert not (tmp_path / "scene.toml").exists()


def test_the_right_scale_passes_the_check(capture, tmp_path):
    """The unscaled capture gets past the scale check (its tabletop has objects, so init completes)."""
    result = init_scene(capture / "splat.ply", capture / "capture", tmp_path / "scene.toml", progress=False)
    assert result.objects and max(result.support.size) < 6.0


def test_an_earlier_scene_file_survives_a_failed_overwrite(capture, tmp_path):
    bad = _rescaled(capture, tmp_path, 10.0, 1.0)
    out = tmp_path / "scene.toml"
    out.write_text("# the scene I edited\n")
    with pytest.raises(SceneConfigError, match="scale looks wrong"):
        init_scene(bad / "splat.ply", bad / "capture", out, overwrite=True, progress=False)
    assert out.read_text() == "# the scene I edited\n"
    assert not out.with_name("scene_preview.png").exists()


def test_cli_names_the_marker_in_one_line(capture, tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli_main import app

    bad = _rescaled(capture, tmp_path, 10.0, 1.0)
    res = CliRunner().invoke(app, ["scene", "init", str(bad / "splat.ply"), str(bad / "capture"),
                                   str(tmp_path / "scene.toml")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: the capture's scale looks wrong")
    assert "side given as 1.0 m" in lines[0]

"""`gwm scene init` on a synthetic capture whose splat carries floaters, with no masks and no scene file."""

import json
import math
import shutil

import numpy as np
import pytest
import torch

from gwm.ply import write_ply
from gwm.scene import assemble_scene, load_scene_config
from gwm.scene.autoscene import (DENSITY_PRIOR_KG_M3, PANDA_REACH_M, TASK_BEARING_DEG, TASK_REACH_M, FoundObject,
                                 InitConfig, init_scene, place_robot)
from gwm.scene.clusters import Rect, fit_support_rect
from gwm.scene.config import SceneConfigError
from gwm.scene.synthetic import front_orbit_cameras, make_tabletop, write_synthetic_capture
from gwm.splats import GaussianSplats

TABLE = 0.75


def _blob(rng, center, n, rgb, spread, opacity, scale):
    p = np.asarray(center) + rng.normal(0, spread, (n, 3))
    return GaussianSplats.from_activated(
        torch.from_numpy(p).float(), torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1), torch.full((n, 3), scale),
        torch.full((n,), opacity), rgb=torch.tensor([rgb] * n).float())


def _with_floaters(clean, truth, seed=0):
    """What a reconstruction adds around objects: opaque floaters in front of and beside them (coloured by
    what some view saw behind them), large faint Gaussians over them, an opaque clump in mid-air."""
    rng = np.random.default_rng(seed)
    parts = [clean]
    for o in truth["objects"].values():
        c, s = np.asarray(o["center"]), np.asarray(o["size"])
        parts.append(_blob(rng, c + [0, -s[1] / 2 - 0.018, 0.01], 12, (1, 0, 1), 0.004, 0.9, 0.004))
        parts.append(_blob(rng, c + [s[0] / 2 + 0.02, 0, 0], 10, (0.2, 0.4, 1.0), 0.004, 0.8, 0.004))
        parts.append(_blob(rng, c, 8, (0.8, 0.8, 0.8), 0.03, 0.08, 0.03))
    parts.append(_blob(rng, [0.0, -0.25, 0.85], 40, (0, 1, 1), 0.01, 0.9, 0.005))
    return GaussianSplats.cat([p.with_sh_degree(0) for p in parts])


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    root = tmp_path_factory.mktemp("autoscene")
    clean, truth = make_tabletop(spacing=0.012, seed=1, sh_degree=0)
    cams = front_orbit_cameras([0.0, 0.0, TABLE + 0.03], num_views=16, width=200, height=150)
    write_synthetic_capture(clean, root / "capture", cams)
    write_ply(root / "splat.ply", _with_floaters(clean, truth))
    return root, truth


@pytest.fixture(scope="module")
def initialised(capture):
    root, truth = capture
    result = init_scene(root / "splat.ply", root / "capture", root / "scene" / "scene.toml", progress=False)
    return root, truth, result


def _hull_vs_truth(obj, t):
    """Centre error and per-axis extent error of a hull measured along the true box's axes."""
    m = obj.world_from_body.numpy()
    hull = obj.collision_vertices.astype(np.float64) @ m[:3, :3].T + m[:3, 3]
    y = math.radians(t["yaw_deg"])
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    local = (hull - t["center"]) @ rz
    lo, hi = local.min(0), local.max(0)
    return np.linalg.norm((lo + hi) / 2), (hi - lo) - np.asarray(t["size"])


def _match(scene, truth):
    pairs = {}
    for name, t in truth["objects"].items():
        d = [np.linalg.norm(o.world_from_body[:2, 3].numpy() - t["center"][:2]) for o in scene.objects]
        pairs[name] = scene.objects[int(np.argmin(d))]
        assert min(d) < 0.02, f"{name}: nearest object {min(d):.3f} m away"
    return pairs


def test_objects_found_despite_floaters(initialised):
    root, truth, result = initialised
    scene = result.scene
    assert len(scene.objects) == len(truth["objects"])  # the mid-air clump is not an object
    pairs = _match(scene, truth)
    assert len({o.name for o in pairs.values()}) == len(truth["objects"])
    for name, obj in pairs.items():
        centre_err, extent_err = _hull_vs_truth(obj, truth["objects"][name])
        assert centre_err <= 0.01, name
        assert np.abs(extent_err).max() <= 0.015, (name, extent_err)
    filtered = [scene.metadata["stats"]["objects"][o.name]["hull_filter"]["contradicted_by_images"]
                for o in scene.objects]
    assert sum(filtered) >= 30


def test_floaters_would_stretch_the_hulls_without_the_image_check(initialised):
    from dataclasses import replace

    root, truth, result = initialised
    cfg = load_scene_config(result.scene_file)
    plain = assemble_scene(replace(cfg, assembly=replace(cfg.assembly, hull_filter="none")))
    worst = max(np.abs(_hull_vs_truth(o, truth["objects"][n])[1]).max() for n, o in _match(plain, truth).items())
    assert worst > 0.015


def test_scene_file_round_trips_and_assembles(initialised):
    root, truth, result = initialised
    cfg = load_scene_config(result.scene_file)
    assert [o.name for o in cfg.objects] == [f"object_{k}" for k in range(len(truth["objects"]))]
    assert cfg.assembly.hull_filter == "images" and cfg.assembly.cameras.samefile(root / "capture" / "transforms.json")
    assert cfg.masks is None
    again = assemble_scene(result.scene_file)
    for a, b in zip(again.objects, result.scene.objects):
        assert a.name == b.name
        np.testing.assert_allclose(a.world_from_body.numpy(), b.world_from_body.numpy(), atol=1e-9)
        np.testing.assert_allclose(a.collision_vertices, b.collision_vertices, atol=1e-6)
        st = again.metadata["stats"]["objects"][a.name]
        air = min(st["container_test"]["volume"], 0.9 * st["volume"]) if st["role"] == "container" else 0.0
        assert a.mass == pytest.approx((st["volume"] - air) * DENSITY_PRIOR_KG_M3, abs=1e-3)
    # the support: the table top (1.2 x 0.8 at z = 0.75), found from the data
    sup = cfg.plane
    assert sup.point[2] == pytest.approx(TABLE, abs=2e-3)
    np.testing.assert_allclose(sorted(sup.support_size), [0.8, 1.2], atol=0.03)
    from PIL import Image

    with Image.open(result.preview) as im:
        assert im.size[0] > 1000 and im.size[0] > im.size[1]


def test_robot_on_the_capture_side_within_reach(initialised):
    root, truth, result = initialised
    x, y, z = result.robot_position
    assert z == pytest.approx(TABLE, abs=2e-3)
    assert y == pytest.approx(-0.4 - 0.10, abs=0.02)  # 10 cm behind the front edge (the cameras' side, -y)
    assert result.robot_yaw_deg == pytest.approx(90.0, abs=2.0)  # facing across the table (+y)
    for o in result.scene.objects:
        assert np.linalg.norm(o.world_from_body[:2, 3].numpy() - [x, y]) < PANDA_REACH_M


def test_existing_scene_file_is_not_overwritten(capture, tmp_path):
    root, _ = capture
    out = tmp_path / "scene.toml"
    out.write_text("# my edits\n")
    with pytest.raises(SceneConfigError, match="already there; pass --overwrite"):
        init_scene(root / "splat.ply", root / "capture", out, progress=False)
    assert out.read_text() == "# my edits\n"


def test_cli_reports_errors_in_one_line(capture, tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli_main import app

    root, _ = capture
    out = tmp_path / "scene.toml"
    out.write_text("# mine\n")
    res = CliRunner().invoke(app, ["scene", "init", str(root / "splat.ply"), str(root / "capture"), str(out)])
    assert res.exit_code == 2
    assert "error:" in res.output and "--overwrite" in res.output and "Traceback" not in res.output


def test_non_metric_capture_stops_with_the_three_cues(capture, tmp_path):
    root, _ = capture
    cap = tmp_path / "capture"
    shutil.copytree(root / "capture", cap)
    tf = json.loads((cap / "transforms.json").read_text())
    tf["gwm"]["scale_is_metric"] = False
    (cap / "transforms.json").write_text(json.dumps(tf))
    with pytest.raises(SceneConfigError) as e:
        init_scene(root / "splat.ply", cap, tmp_path / "scene.toml", progress=False)
    msg = str(e.value)
    assert "not metric" in msg and "marker" in msg and "known length" in msg and "phone poses" in msg
    assert "--scale" in msg
    assert not (tmp_path / "scene.toml").exists()
    # assembly through a scene file that points at this capture stops the same way, unless [scale] is given
    text = (f'format_version = 1\n[input]\nsplat = "{root / "splat.ply"}"\n[assembly]\ncameras = "capture"\n'
            'hull_filter = "images"\n')
    (tmp_path / "s.toml").write_text(text)
    with pytest.raises(SceneConfigError, match="not metric"):
        assemble_scene(tmp_path / "s.toml")
    (tmp_path / "s.toml").write_text(text.replace("[assembly]", "[scale]\nfactor = 1.0\n[assembly]"))
    assert len(assemble_scene(tmp_path / "s.toml").objects) == 0


def test_empty_counter(tmp_path):
    clean, _ = make_tabletop(boxes=(), spacing=0.012, seed=2, sh_degree=0)
    write_ply(tmp_path / "splat.ply", clean)
    write_synthetic_capture(clean, tmp_path / "capture",
                            front_orbit_cameras([0.0, 0.0, TABLE], num_views=4, width=64, height=48))
    with pytest.raises(SceneConfigError, match="no objects on the support surface.*looks empty"):
        init_scene(tmp_path / "splat.ply", tmp_path / "capture", tmp_path / "scene.toml", progress=False)
    assert not (tmp_path / "scene.toml").exists()


def test_no_support_plane(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    d = rng.normal(size=(n, 3))
    pts = 0.3 * d / np.linalg.norm(d, axis=1, keepdims=True) + [0, 0, 0.8]  # a hollow ball: no plane anywhere
    blob = GaussianSplats.from_activated(torch.from_numpy(pts).float(), torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1),
                                         torch.full((n, 3), 0.005), torch.full((n,), 0.9),
                                         rgb=torch.full((n, 3), 0.5))
    write_ply(tmp_path / "splat.ply", blob)
    write_synthetic_capture(blob, tmp_path / "capture",
                            front_orbit_cameras([0.0, 0.0, 0.8], num_views=4, width=64, height=48, radius=1.5))
    with pytest.raises(SceneConfigError, match=r"no (horizontal )?support (plane|region).*capture the counter top") as e:
        init_scene(tmp_path / "splat.ply", tmp_path / "capture", tmp_path / "scene.toml", progress=False)
    assert "\n" not in str(e.value) and not (tmp_path / "scene.toml").exists()


def _found(xy):
    return FoundObject(name="", box=Rect(tuple(xy), (0.06, 0.06), 0.0), bottom=0.0, top=0.1, crop_center=(0, 0, 0),
                       crop_size=(0, 0, 0), gaussians=100)


def test_object_beyond_reach_is_an_error_naming_it():
    support = Rect((0.0, 0.0), (3.0, 0.6), 0.0)  # a long counter, objects at both ends
    objects = [_found((-1.3, 0.0)), _found((1.3, 0.1)), _found((0.0, 0.0))]
    cams = np.array([[0.0, -1.0]])
    empty = np.zeros((0, 3))
    with pytest.raises(SceneConfigError, match=r"beyond the Panda's 0.855 m reach.*--allow-unreachable") as e:
        place_robot(support, objects, cams, empty, np.zeros(0), np.zeros(0))
    assert "[-1.30, 0.00]" in str(e.value) or "[1.30, 0.10]" in str(e.value)
    base, yaw, warnings = place_robot(support, objects, cams, empty, np.zeros(0), np.zeros(0),
                                      allow_unreachable=True)
    assert any("reach" in w for w in warnings)
    assert base[1] == pytest.approx(-0.4) and yaw == pytest.approx(90.0)  # the cameras' side, facing the counter


def test_robot_avoids_a_wall_and_prefers_the_capture_side():
    support = Rect((0.0, 0.0), (1.0, 0.7), 0.0)
    objects = [_found((-0.2, 0.0)), _found((0.2, 0.05))]
    wall = np.stack(np.meshgrid(np.linspace(-1, 1, 60), [-0.47, -0.45, -0.43], np.linspace(0.1, 0.7, 10)), -1)
    wall = wall.reshape(-1, 3)
    h, o = wall[:, 2], np.full(len(wall), 0.9)
    base, yaw, _ = place_robot(support, objects, np.array([[0.0, -1.5]]), wall, h, o)
    assert base[1] != pytest.approx(-0.45)  # not inside the wall on the capture side
    base, yaw, _ = place_robot(support, objects, np.array([[0.0, -1.5]]), np.zeros((0, 3)), np.zeros(0), np.zeros(0))
    assert base[1] == pytest.approx(-0.45) and yaw == pytest.approx(90.0)
    assert abs(base[0]) <= 0.1


def test_task_workspace_matches_sim_tasks():
    from sim_tasks.workspace import WorkspaceConfig

    w = WorkspaceConfig()
    assert TASK_REACH_M == (w.min_reach, w.max_reach) and TASK_BEARING_DEG == w.max_bearing_deg


def test_support_rectangle_follows_a_turned_table_with_holes():
    rng = np.random.default_rng(0)
    local = (rng.random((20000, 2)) - 0.5) * [1.0, 0.6]
    local = local[np.linalg.norm(local - [0.2, 0.1], axis=1) > 0.08]  # an object's footprint: no table seen there
    y = math.radians(25.0)
    rot = np.array([[math.cos(y), -math.sin(y)], [math.sin(y), math.cos(y)]])
    xy = local @ rot.T + [0.3, -0.2]
    noise = rng.random((40, 2)) * 3 - 1.5  # stray points far off
    region = fit_support_rect(np.concatenate([xy, noise]), np.array([0.3, -0.2]))
    r = region.rect
    assert r.yaw_deg == pytest.approx(25.0, abs=1.0)
    np.testing.assert_allclose(r.center, [0.3, -0.2], atol=0.01)
    np.testing.assert_allclose(r.size, [1.0, 0.6], atol=0.02)


def _wall(rng, a, b, height, n=60):
    t = rng.random(n)
    p = np.asarray(a) + t[:, None] * (np.asarray(b) - np.asarray(a))
    return np.c_[p, rng.uniform(0.015, height, n)]


def test_pieces_of_one_tray_join_and_separate_things_do_not():
    from gwm.scene.clusters import connected_components

    rng = np.random.default_rng(0)
    # a 20 x 16 cm tray, 4.5 cm tall, whose walls the capture saw in four pieces (the corners missing)
    tray = np.concatenate([_wall(rng, (-0.075, -0.08), (0.075, -0.08), 0.045),
                           _wall(rng, (-0.075, 0.08), (0.075, 0.08), 0.045),
                           _wall(rng, (-0.10, -0.055), (-0.10, 0.055), 0.045),
                           _wall(rng, (0.10, -0.055), (0.10, 0.055), 0.045)])
    labels = connected_components(tray)
    assert len(np.unique(labels)) == 1
    # two blocks of the same height 6 cm apart, and a taller one 3 cm from them: three things
    block = lambda x, y, h: _wall(rng, (x - 0.02, y), (x + 0.02, y), h)  # noqa: E731
    things = np.concatenate([block(0.0, 0.0, 0.07), block(0.10, 0.0, 0.07), block(0.05, 0.05, 0.12)])
    assert len(np.unique(connected_components(things))) == 3

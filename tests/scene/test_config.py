"""Bad scene files fail with a message that names the problem and the fix."""

import copy

import pytest

from gwm.scene import SceneConfigError, assemble_scene, load_scene_config, parse_scene_config


@pytest.fixture()
def good(tabletop):
    root, _, truth = tabletop
    data = {
        "format_version": 1,
        "input": {"splat": "splat.ply", "up_axis": "+z"},
        "plane": {"method": "ransac", "select": "highest", "height": 0.75},
        "bounds": {"min": [-2, -2, -0.5], "max": [2, 2, 2.5]},
        "robot": {"position": [0, -0.55, 0.75], "yaw_deg": 90},
        "objects": [{"name": n, "center": [o["center"][0], o["center"][1], o["center"][2] + 0.005],
                     "size": [s + 0.04 for s in o["size"]], "yaw_deg": o["yaw_deg"], "mass": 0.2, "friction": 0.6}
                    for n, o in truth["objects"].items()],
    }
    return root, data


def _error(root, data, *, assemble=False) -> str:
    with pytest.raises(SceneConfigError) as e:
        cfg = parse_scene_config(data, base_dir=root)
        if assemble:
            assemble_scene(cfg)
    return str(e.value)


def test_good_config_parses(good):
    root, data = good
    cfg = parse_scene_config(data, base_dir=root)
    assert [o.name for o in cfg.objects] == ["red_cube", "green_box", "blue_block"]
    assert cfg.plane.height == 0.75 and cfg.scale.resolve() == 1.0
    assert cfg.to_dict()["objects"][0]["box"]["size"] == list(cfg.objects[0].box.size)


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda d: d.update(objetcs=[]), ["unknown key 'objetcs'", "did you mean 'objects'"]),
        (lambda d: d["objects"][0].update(mas=1.0), ["unknown key 'mas'", "objects[0] ('red_cube')", "'mass'"]),
        (lambda d: d["plane"].update(hieght=0.7), ["unknown key 'hieght'", "[plane]", "'height'"]),
        (lambda d: d["objects"][1].update(mass=-0.5), ["objects[1] ('green_box').mass = -0.5 kg", "positive"]),
        (lambda d: d["objects"][1].pop("mass"), ["missing required key objects[1] ('green_box').mass"]),
        (lambda d: d["objects"][0].update(name="red cube"), ["not a valid name", "'red_mug'"]),
        (lambda d: d["objects"][1].update(name="red_cube"), ["unique", "red_cube"]),
        (lambda d: d["objects"][0].update(size=[50, 50, 50]), ["50.0 m", "metres"]),
        (lambda d: d["objects"][0].update(center=[100.0, 0, 0.8]), ["100 m from the origin", "millimetres"]),
        (lambda d: d["plane"].update(height=100.0), ["100 m away", "metres"]),
        (lambda d: d["input"].update(splat="missing.ply"), ["does not exist", "missing.ply", "relative to the scene file"]),
        (lambda d: d["input"].update(up_axis="up"), ["input.up_axis = 'up'", "'+z'"]),
        (lambda d: d.update(scale={"factor": 2.0, "known_distance": {"a": [0, 0, 0], "b": [1, 0, 0], "metres": 1}}),
         ["both factor and known_distance"]),
        (lambda d: d.update(scale={"known_distance": {"a": [0, 0, 0], "b": [0, 0, 0], "metres": 1}}), ["same point"]),
        (lambda d: d["objects"][0].update(size=[0.1, 0.1]), ["must be a list of 3 numbers"]),
        (lambda d: d["bounds"].update(min=[3, -2, -0.5]), ["must be below bounds.max"]),
        (lambda d: d["plane"].update(normal=[0, 0, 1]), ["only used with plane.method = \"explicit\""]),
        (lambda d: d["plane"].update(points="sfm"), ["needs input.sfm_points"]),
        (lambda d: d.update(format_version=7), ["format_version 7 is not supported"]),
    ],
)
def test_bad_config_errors(good, edit, expected):
    root, data = good
    data = copy.deepcopy(data)
    edit(data)
    msg = _error(root, data)
    for part in expected:
        assert part in msg, msg


def test_crop_box_selecting_nothing(good):
    root, data = good
    data = copy.deepcopy(data)
    data["objects"][2]["center"] = [0.45, 0.3, 1.4]  # empty air above the table
    msg = _error(root, data, assemble=True)
    assert "objects[2] ('blue_block') crop box" in msg and "selects no Gaussians" in msg
    assert "nearest Gaussian is" in msg and "move the box" in msg


def test_crop_box_holding_only_table(good):
    root, data = good
    data = copy.deepcopy(data)
    data["objects"][0].update(center=[-0.4, -0.3, 0.75], size=[0.1, 0.1, 0.004])
    msg = _error(root, data, assemble=True)
    assert "only holds table Gaussians" in msg and "raise the box" in msg


def test_overlapping_boxes(good):
    root, data = good
    data = copy.deepcopy(data)
    data["objects"][1].update(center=data["objects"][0]["center"], size=data["objects"][0]["size"], yaw_deg=0.0)
    msg = _error(root, data, assemble=True)
    assert "already taken by an earlier object's box" in msg


def test_scale_that_makes_kilometre_objects(good):
    root, data = good
    data = copy.deepcopy(data)
    data["scale"] = {"known_distance": {"a": [0, 0, 0], "b": [0.001, 0, 0], "metres": 1.0}}  # x1000
    msg = _error(root, data, assemble=True)
    assert "kilometres" in msg and "[scale]" in msg


def test_table_far_away_from_wrong_units(tabletop, tmp_path):
    """A millimetre splat (a 6 cm patch of table top, so 60 "m" across) with no [scale]: the
    estimated table ends up 750 m away."""
    import torch

    from gwm.ply import write_ply

    root, splats, truth = tabletop
    m = splats.means
    centre = splats[(m[:, :2].abs() < 0.03).all(1) & (m[:, 2] > 0.7) & (m[:, 2] < 0.76)]
    write_ply(tmp_path / "mm.ply", centre.transform(torch.eye(4), scale=1000.0))
    with pytest.raises(SceneConfigError) as e:
        assemble_scene(parse_scene_config({"input": {"splat": "mm.ply"}, "plane": {"max_tilt_deg": 45}},
                                          base_dir=tmp_path))
    assert "m from the origin" in str(e.value) and "factor = 0.001" in str(e.value)


def test_toml_syntax_and_missing_file(tmp_path):
    (tmp_path / "bad.toml").write_text("[input\nsplat = 1")
    with pytest.raises(SceneConfigError, match="not valid TOML"):
        load_scene_config(tmp_path / "bad.toml")
    with pytest.raises(SceneConfigError, match="scene file not found"):
        load_scene_config(tmp_path / "nope.toml")


def test_image_filter_needs_the_capture(good):
    root, data = good
    bad = copy.deepcopy(data)
    bad["assembly"] = {"hull_filter": "images"}
    assert "needs assembly.cameras" in _error(root, bad)
    bad["assembly"]["cameras"] = "nowhere/transforms.json"
    assert "assembly.cameras = 'nowhere/transforms.json' does not exist" in _error(root, bad)
    bad["assembly"] = {"hull_filter": "masks"}
    assert "assembly.hull_filter = 'masks' is not one of 'none', 'images'" in _error(root, bad)


def test_support_box_turns_with_support_yaw(good):
    import numpy as np

    root, data = good
    turned = copy.deepcopy(data)
    turned["plane"].update(support_center=[0.1, 0.0], support_size=[1.0, 0.5], support_yaw_deg=30.0)
    v = assemble_scene(parse_scene_config(turned, base_dir=root)).support_vertices.astype(np.float64)
    y = np.radians(30.0)
    local = (v[:, :2] - [0.1, 0.0]) @ np.array([[np.cos(y), -np.sin(y)], [np.sin(y), np.cos(y)]])
    np.testing.assert_allclose(np.abs(local), np.tile([0.5, 0.25], (len(v), 1)), atol=1e-5)


def test_keys_and_defaults_come_from_the_dataclasses(good):
    """Each default is written once (in the dataclass): an absent key reads as that default, and every field
    of a table's dataclass is a key the parser reads (a bad value names it, never 'unknown key')."""
    from dataclasses import fields

    from gwm.scene.config import AssemblySpec, BoundsSpec, CropBox, ObjectSpec, PlaneSpec, RobotSpec

    root, data = good
    minimal = {"input": {"splat": "splat.ply"},
               "objects": [{"name": "a", "center": [0, 0, 0.8], "size": [0.1, 0.1, 0.1], "mass": 0.2}]}
    cfg = parse_scene_config(minimal, base_dir=root)
    assert cfg.plane == PlaneSpec() and cfg.assembly == AssemblySpec() and cfg.robot == RobotSpec()
    assert cfg.bounds == BoundsSpec() and cfg.masks is None and cfg.up_axis == "+z"
    obj = cfg.objects[0]
    assert obj.friction == ObjectSpec.__dataclass_fields__["friction"].default and obj.role is None
    assert obj.box.yaw_deg == CropBox.__dataclass_fields__["yaw_deg"].default
    for table, cls in [("plane", PlaneSpec), ("assembly", AssemblySpec), ("robot", RobotSpec)]:
        for f in fields(cls):
            bad = copy.deepcopy(data)
            bad.setdefault(table, {})[f.name] = [[]]  # wrong type for every kind of key
            msg = _error(root, bad)
            assert f"{table}.{f.name}" in msg and "unknown key" not in msg, msg

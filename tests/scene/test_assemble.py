import math

import numpy as np
import pytest
import torch

from gwm.ply import write_ply
from gwm.scene import assemble_scene
from gwm.scene.plane import rotation_between, up_axis_rotation
from gwm.scene.synthetic import scene_toml_for


def _rz(yaw_deg):
    y = math.radians(yaw_deg)
    return np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])


def test_objects_recovered_within_2mm(tabletop, assembled):
    _, _, truth = tabletop
    assert assembled.object_names == list(truth["objects"])
    for obj in assembled.objects:
        t = truth["objects"][obj.name]
        stats = assembled.metadata["stats"]["objects"][obj.name]
        np.testing.assert_allclose(stats["box_center_world"], t["center"], atol=2e-3)
        np.testing.assert_allclose(stats["size_body_axes"], t["size"], atol=3e-3)
        # The body frame's yaw is the crop box's yaw.
        np.testing.assert_allclose(obj.world_from_body[:3, :3].numpy(), _rz(t["yaw_deg"]), atol=1e-9)
        assert obj.mass == 0.2 and obj.friction == 0.6


def test_body_frame_gaussians_and_hull(tabletop, assembled):
    _, splats, truth = tabletop
    for obj in assembled.objects:
        t = truth["objects"][obj.name]
        world = obj.world_splats()
        # Every object Gaussian is on the true box surface (inside the box grown by 1 mm).
        local = (world.means.double().numpy() - t["center"]) @ _rz(t["yaw_deg"])
        assert np.all(np.abs(local) <= np.asarray(t["size"]) / 2 + 1e-3)
        # The hull (body frame) contains every Gaussian centre (body frame): all face planes agree.
        import trimesh

        hull = trimesh.Trimesh(obj.collision_vertices, obj.collision_faces)
        assert hull.is_volume
        p = obj.splats.means.double().numpy()
        outside = np.einsum("nfc,fc->nf", p[:, None, :] - hull.triangles[None, :, 0, :], hull.face_normals)
        assert outside.max() < 1e-5
        # Origin at the centre of mass: the hull's volume centroid is at the body origin.
        np.testing.assert_allclose(hull.center_mass, 0.0, atol=1e-6)
        # Snapped onto the table: the hull bottom is at the plane (0.75) in world.
        bottom = (obj.collision_vertices.astype(np.float64) @ obj.world_from_body[:3, :3].numpy().T
                  + obj.world_from_body[:3, 3].numpy())[:, 2].min()
        assert bottom == pytest.approx(truth["table_height"], abs=1e-4)
    # Gaussians are conserved: background + objects + floaters = input.
    st = assembled.metadata["stats"]
    assert len(assembled.background) + sum(len(o.splats) for o in assembled.objects) + st["floaters_removed"] == len(splats)
    assert st["floaters_removed"] == 50


def test_world_splats_reproduce_input_for_objects(tabletop, assembled):
    """Body-frame storage loses nothing: posing each object at its initial pose gives back the
    input Gaussians moved by the recorded normalisation (means, orientations, SH) up to float error."""
    from scipy.spatial import cKDTree

    _, splats, _ = tabletop
    world = assembled.world_splats()
    norm = torch.tensor(assembled.metadata["normalisation"], dtype=torch.float64)
    scale = float(torch.linalg.det(norm[:3, :3]) ** (1 / 3))
    rigid = norm.clone()
    rigid[:3, :3] /= scale
    moved = splats.transform(rigid, scale=scale)
    m = moved.means.numpy()
    kept = moved[torch.from_numpy(np.all((m >= [-2, -2, -0.5]) & (m <= [2, 2, 2.5]), axis=1))]
    dist, idx = cKDTree(kept.means.numpy()).query(world.means.numpy())
    assert len(world) == len(kept) and len(np.unique(idx)) == len(idx)  # a bijection
    assert dist.max() < 2e-6
    a, b = world, kept[torch.from_numpy(idx)]
    torch.testing.assert_close(a.sh, b.sh, atol=1e-4, rtol=0)
    torch.testing.assert_close(a.log_scales, b.log_scales, atol=1e-5, rtol=0)
    qa, qb = a.unit_quats_wxyz, b.unit_quats_wxyz
    assert torch.all((qa * qb).sum(-1).abs() > 1 - 1e-5)


def test_support_box_top_is_the_plane(assembled, tabletop):
    _, _, truth = tabletop
    v = assembled.support_vertices
    assert v[:, 2].max() == pytest.approx(truth["table_height"], abs=1e-5)
    assert v[:, 2].min() == pytest.approx(truth["table_height"] - 0.05, abs=1e-5)
    # Spans the table top (inlier extent, 1-99th percentile) to within a few cm.
    np.testing.assert_allclose(v[:, :2].max(0) - v[:, :2].min(0), truth["table_size"], atol=0.03)
    np.testing.assert_allclose(assembled.robot_base[:3, 3].numpy(), [0, -0.55, truth["table_height"]])
    np.testing.assert_allclose(assembled.robot_base[:3, :3].numpy(), _rz(90), atol=1e-12)


def test_metadata_carries_config_and_normalisation(assembled):
    md = assembled.metadata
    assert md["format_version"] == 1
    assert len(md["source"]["sha256"]) == 64
    assert md["config"]["objects"][0]["name"] == "red_cube"
    np.testing.assert_allclose(np.asarray(md["normalisation"]), np.eye(4), atol=1e-3)


def test_y_up_scaled_input_gives_the_same_scene(tabletop, tmp_path):
    """Input in another frame (Y up, half scale, tilted 3 deg): up_axis + known_distance + RANSAC
    levelling bring it back to the same world."""
    root, splats, truth = tabletop
    tilt = rotation_between(np.array([0.0, 0.0, 1.0]), np.array([math.sin(math.radians(3)), 0.0, math.cos(math.radians(3))]))
    table_centre = np.array([0.0, 0.0, truth["table_height"]])
    input_from_world = np.eye(4)  # tilt about the table centre, then world +Z -> input +Y
    input_from_world[:3, :3] = up_axis_rotation("+y").T @ tilt
    input_from_world[:3, 3] = 0.5 * up_axis_rotation("+y").T @ (table_centre - tilt @ table_centre)
    moved = splats.transform(torch.from_numpy(input_from_world), scale=0.5)  # x -> R (0.5 x) + t
    write_ply(tmp_path / "splat.ply", moved)
    a, b = np.array([0.0, 0.0, 0.0]), np.array([0.3, 0.0, 0.0])  # 0.3 m apart in world -> 0.15 in input
    text = scene_toml_for(truth).replace(
        '[plane]', f'[scale]\nknown_distance = {{ a = {(0.5 * a).tolist()}, b = {(0.5 * b).tolist()}, metres = 0.3 }}\n\n[plane]'
    ).replace('up_axis = "+z"', 'up_axis = "+y"')
    (tmp_path / "scene.toml").write_text(text)
    scene = assemble_scene(tmp_path / "scene.toml")
    assert scene.metadata["stats"]["scale"] == pytest.approx(2.0)
    for obj in scene.objects:
        # Levelling rotates about the plane's inlier centroid (~ the table centre, where we tilted).
        np.testing.assert_allclose(scene.metadata["stats"]["objects"][obj.name]["box_center_world"],
                                   truth["objects"][obj.name]["center"], atol=3e-3)


def test_opacity_weighted_com(tabletop, tmp_path):
    root, _, truth = tabletop
    text = scene_toml_for(truth).replace("[robot]", '[assembly]\ncom = "opacity_weighted"\n\n[robot]')
    (tmp_path / "scene.toml").write_text(text.replace('splat = "splat.ply"', f'splat = "{root / "splat.ply"}"'))
    scene = assemble_scene(tmp_path / "scene.toml")
    obj = scene.object("red_cube")
    # Surface Gaussians on 5 faces (no bottom): their opacity-weighted centroid sits above the centre.
    com = obj.world_from_body[:3, 3].numpy()
    np.testing.assert_allclose(com[:2], truth["objects"]["red_cube"]["center"][:2], atol=2e-3)
    assert com[2] > truth["objects"]["red_cube"]["center"][2] + 0.002
    w = obj.splats.opacities.double()
    np.testing.assert_allclose((w[:, None] * obj.splats.means.double()).sum(0) / w.sum(), 0.0, atol=1e-5)


def test_sparse_outliers_do_not_stretch_the_hull():
    from gwm.scene.assemble import _drop_sparse_outliers

    rng = np.random.default_rng(0)
    body = rng.uniform(-0.03, 0.03, size=(2000, 3))
    strays = np.array([[0.08, 0.0, 0.0], [0.0, -0.09, 0.01], [0.05, 0.05, 0.05]])
    kept = _drop_sparse_outliers(np.concatenate([body, strays]), n_std=2.0)
    assert np.abs(kept).max() <= 0.03 + 1e-12  # every stray removed
    assert len(kept) >= 0.97 * len(body)  # the object itself is kept
    assert len(_drop_sparse_outliers(np.concatenate([body, strays]), n_std=0.0)) == len(body) + 3


def _column(one_sided_below: float, radius=0.03, height=0.16, bottom=0.012, n=4000, seed=0):
    """Surface points of a standing cylinder (a bottle) whose cameras saw only one side of its lowest part."""
    rng = np.random.default_rng(seed)
    a, z = rng.uniform(0, 2 * np.pi, n), rng.uniform(bottom, height, n)
    pts = np.stack([radius * np.cos(a), radius * np.sin(a), z], 1)
    seen = (z >= one_sided_below) | (np.cos(a) > 0.8)  # below it, only a sliver facing +x
    return pts[seen]


def test_tip_angle_of_a_box_footprint():
    from gwm.scene.assemble import _tip_angle_deg
    from gwm.scene.plane import Plane

    plane = Plane(normal=np.array([0.0, 0.0, 1.0]), point=np.zeros(3))
    box = np.array([[x, y, z] for x in (-0.02, 0.02) for y in (-0.03, 0.03) for z in (0.0, 0.1)])
    assert _tip_angle_deg(box, np.array([0.0, 0.0, 0.05]), plane) == pytest.approx(math.degrees(math.atan(0.4)))
    # The centre of mass 1 cm past the footprint's edge: already tipping.
    assert _tip_angle_deg(box, np.array([0.03, 0.0, 0.05]), plane) == pytest.approx(-math.degrees(math.atan(0.2)))


def test_a_barely_seen_base_is_grown_until_the_body_stands():
    from gwm.scene.assemble import _stand_on_support
    from gwm.scene.plane import Plane

    plane = Plane(normal=np.array([0.0, 0.0, 1.0]), point=np.zeros(3))
    pts = _column(one_sided_below=0.05)
    sliver, before = _stand_on_support(pts, plane, slab=0.01, min_tip_deg=0.0)
    stood, after = _stand_on_support(pts, plane, slab=0.01, min_tip_deg=10.0)
    assert before["tip_deg"] < 0 and before["slab_m"] == 0.01  # the lowest centimetre alone: it falls over
    assert after["tip_deg"] >= 10.0 and 0.04 <= after["slab_m"] <= 0.08  # grown past the one-sided part, not further
    assert _fall_deg(sliver) > 45 and _fall_deg(stood) < 1  # and MuJoCo agrees
    # A base the cameras saw all round is left as it was.
    whole = _column(one_sided_below=0.0)
    np.testing.assert_array_equal(_stand_on_support(whole, plane, 0.01, 10.0)[0], _stand_on_support(whole, plane, 0.01, 0.0)[0])


def _fall_deg(points: np.ndarray, seconds: float = 1.0) -> float:
    """How far the convex hull of points, a uniform solid resting on a floor at z = 0, has turned after `seconds`."""
    import mujoco
    import trimesh

    hull = trimesh.Trimesh(vertices=points, process=True).convex_hull
    com = np.asarray(hull.center_mass)
    verts = " ".join(f"{v:.6f}" for v in (np.asarray(hull.vertices) - com).ravel())
    xml = f"""<mujoco><option timestep="0.002"/><asset><mesh name="m" vertex="{verts}"/></asset><worldbody>
      <geom type="plane" size="1 1 0.1" friction="0.8"/>
      <body pos="{com[0]} {com[1]} {com[2] + 1e-4}"><freejoint/><geom type="mesh" mesh="m" density="500" friction="0.6"/></body>
      </worldbody></mujoco>"""
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    mujoco.mj_step(model, data, nstep=int(seconds / model.opt.timestep))
    return math.degrees(2 * math.acos(min(1.0, abs(data.qpos[3]))))


def test_a_pole_too_thin_to_stand_stops_at_its_whole_outline():
    from gwm.scene.assemble import _stand_on_support
    from gwm.scene.plane import Plane

    plane = Plane(normal=np.array([0.0, 0.0, 1.0]), point=np.zeros(3))
    pole = _column(one_sided_below=0.0, radius=0.005, height=0.2)  # 1 cm across, 20 cm tall: atan(5/100) ~ 3 deg
    _, base = _stand_on_support(pole, plane, slab=0.01, min_tip_deg=10.0)
    assert base["slab_m"] == pytest.approx(0.2 - 0.012, abs=1e-3)  # grown to the whole object, then given up
    assert 1.0 < base["tip_deg"] < 4.0  # what assembly's warning reports

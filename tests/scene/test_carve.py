"""Mask space carving: floaters and large faint Gaussians around a true box do not stretch its hull."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gwm.ply import write_ply
from gwm.scene import assemble_scene
from gwm.scene.config import SceneConfigError
from gwm.splats import GaussianSplats

BOX_C = np.array([0.05, -0.02, 0.04])  # resting on the table (z = 0)
BOX_S = np.array([0.10, 0.06, 0.08])
W, H, F = 160, 120, 130.0


def _box_surface(rng, n):
    pts = rng.uniform(-0.5, 0.5, size=(n, 3)) * BOX_S
    ax = rng.integers(0, 3, n)
    side = np.where(rng.random(n) < 0.5, -0.5, 0.5)
    pts[np.arange(n), ax] = side * BOX_S[ax]
    return pts + BOX_C


def _splat(rng):
    box = _box_surface(rng, 3000)
    g = np.linspace(-0.3, 0.3, 60)
    table = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    table = np.concatenate([table, np.zeros((len(table), 1))], 1)
    # opaque floaters 1-2.5 cm beside the box (inside its crop box) and large faint Gaussians. Not above
    # it: views from above cannot tell a point just over the top face from the face (a visual hull's limit).
    a = rng.uniform(0, 2 * np.pi, 40)
    d = np.stack([np.cos(a), np.sin(a)], 1)
    edge = d / np.abs(d / (BOX_S[:2] / 2)).max(1, keepdims=True)  # box outline in that direction
    floaters = np.concatenate([BOX_C[:2] + edge + d * rng.uniform(0.01, 0.025, (40, 1)),
                               rng.uniform(0.005, 0.075, (40, 1))], 1)
    faint = BOX_C + rng.uniform(-0.06, 0.06, (15, 3)) * [1, 1, 0.5]
    means = np.concatenate([box, table, floaters, faint])
    scales = np.concatenate([np.full((len(box), 3), 0.0015), np.full((len(table), 3), 0.004),
                             np.full((len(floaters), 3), 0.002), np.full((len(faint), 3), 0.02)])
    opac = np.concatenate([np.full(len(box), 0.9), np.full(len(table), 0.9), rng.uniform(0.5, 0.9, len(floaters)),
                           np.full(len(faint), 0.1)])
    n = len(means)
    return GaussianSplats.from_activated(
        means=torch.from_numpy(means).float(), quats_wxyz=torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1),
        scales=torch.from_numpy(scales).float(), opacities=torch.from_numpy(opac).float(),
        rgb=torch.full((n, 3), 0.5))


def _look_at(eye, target):
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0, 0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    m = np.eye(4)
    m[:3, :3] = np.stack([x, y, z], 1)  # OpenCV: x right, y down, z forward
    m[:3, 3] = eye
    return m


def _box_mask(world_from_cam):
    """Exact silhouette of the (axis-aligned) box: 2 where a pixel-centre ray hits it, else 1 (table) / 0."""
    u, v = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    d_cam = np.stack([(u - W / 2) / F, (v - H / 2) / F, np.ones_like(u)], -1)
    d = d_cam @ world_from_cam[:3, :3].T
    o = world_from_cam[:3, 3]
    lo, hi = BOX_C - BOX_S / 2, BOX_C + BOX_S / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - o) / d, (hi - o) / d
    tmin = np.nanmax(np.minimum(t1, t2), -1)
    tmax = np.nanmin(np.maximum(t1, t2), -1)
    mask = np.where(d[..., 2] < 0, 1, 0).astype(np.uint8)
    mask[(tmax >= tmin) & (tmax > 0)] = 2
    return mask


def _capture(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    frames = []
    for i, az in enumerate(np.radians(np.arange(12) * 30.0)):  # a full orbit: a front-only one cannot
        # place a floater behind the box (a visual hull is only as tight as its views)
        for el, r in ((np.radians(30), 0.55), (np.radians(55), 0.5)):
            eye = BOX_C + r * np.array([np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), np.sin(el)])
            wfc = _look_at(eye, BOX_C)
            name = f"f{i:02d}_{round(np.degrees(el))}.png"
            Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(tmp_path / "images" / name)
            Image.fromarray(_box_mask(wfc)).save(tmp_path / "masks" / name)
            gl = wfc @ np.diag([1.0, -1.0, -1.0, 1.0])  # nerfstudio stores OpenGL camera-to-world
            frames.append({"file_path": f"images/{name}", "transform_matrix": gl.tolist()})
    (tmp_path / "transforms.json").write_text(json.dumps(
        {"w": W, "h": H, "fl_x": F, "fl_y": F, "cx": W / 2, "cy": H / 2, "frames": frames}))


def _scene(tmp_path, masks=True, extra=""):
    text = f"""format_version = 1
[input]
splat = "splat.ply"
[plane]
method = "explicit"
normal = [0, 0, 1]
point = [0, 0, 0]
[assembly]
hull_sigma = 1.0
{extra}
"""
    if masks:
        text += "[masks]\ncameras = \"transforms.json\"\ndir = \"masks\"\nmax_outside = 2\n"
    text += f"""[[objects]]
name = "box"
center = {(BOX_C + [0, 0, 0.01]).tolist()}
size = [0.15, 0.11, 0.12]
mass = 0.2
""" + ("mask_id = 2\n" if masks else "")
    (tmp_path / "scene.toml").write_text(text)
    return tmp_path / "scene.toml"


@pytest.fixture
def capture(tmp_path):
    write_ply(tmp_path / "splat.ply", _splat(np.random.default_rng(0)))
    _capture(tmp_path)
    return tmp_path


def test_masks_carve_floaters_out_of_the_hull(capture):
    scene = assemble_scene(_scene(capture))
    st = scene.metadata["stats"]["objects"]["box"]
    np.testing.assert_allclose(st["size_body_axes"], BOX_S, atol=4e-3)
    np.testing.assert_allclose(st["box_center_world"], BOX_C, atol=2e-3)
    assert st["carving"]["outside_masks"] >= 30  # the opaque floaters
    # every Gaussian stays in the rendered object; only the hull ignores the floaters
    world = scene.object("box").world_splats().means.double().numpy()
    outside = np.abs(world - BOX_C) > BOX_S / 2 + 0.008
    assert len(world) == st["gaussians"] and outside.any(1).sum() >= 30
    # without masks the same floaters stretch the hull by centimetres
    plain = assemble_scene(_scene(capture, masks=False))
    size = np.asarray(plain.metadata["stats"]["objects"]["box"]["size_body_axes"])
    assert np.abs(size - BOX_S).max() > 0.01


def test_mask_config_errors(capture):
    p = _scene(capture)
    p.write_text(p.read_text().replace("mask_id = 2\n", ""))
    with pytest.raises(SceneConfigError, match="no mask_id"):
        assemble_scene(p)
    p = _scene(capture)
    p.write_text(p.read_text().replace("mask_id = 2", "mask_id = 7"))
    with pytest.raises(SceneConfigError, match="mask_id 7"):
        assemble_scene(p)
    p = _scene(capture)
    p.write_text(p.read_text().replace('dir = "masks"', 'dir = "nomasks"'))
    with pytest.raises(SceneConfigError, match="masks.dir"):
        assemble_scene(p)
    p = _scene(capture, masks=False)
    p.write_text(p.read_text() + "mask_id = 2\n")
    with pytest.raises(SceneConfigError, match="no \\[masks\\] table"):
        assemble_scene(p)
    (capture / "masks" / "f00_30.png").unlink()
    with pytest.raises(SceneConfigError, match="mask for images/f00_30.png not found"):
        assemble_scene(_scene(capture))

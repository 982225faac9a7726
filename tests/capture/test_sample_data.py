"""The bundled kitchen sample: ground truth agrees with its own pixels and with generate.py."""

import importlib.util
import json

import cv2
import numpy as np
import pytest
import torch

from gwm.cameras import Cameras


def _load_generate(kitchen):
    spec = importlib.util.spec_from_file_location("kitchen_generate", kitchen / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def gt(kitchen):
    return json.loads((kitchen / "ground_truth.json").read_text())


def test_files_and_schema(kitchen, gt):
    assert gt["format_version"] == 1
    cam = gt["camera"]
    assert (cam["width"], cam["height"]) == (400, 300)
    assert len(gt["frames"]) == 48
    for f in gt["frames"]:
        img = cv2.imread(str(kitchen / f["file_path"]))
        assert img.shape == (300, 400, 3)
        assert (kitchen / f["mask_path"]).is_file() and (kitchen / f["depth_path"]).is_file()
    assert {o["name"] for o in gt["objects"]} == {"mug", "bowl", "box", "can"}
    total = sum(p.stat().st_size for p in kitchen.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert total < 15e6, f"sample is {total / 1e6:.1f} MB; the budget is 15 MB"


def test_objects_rest_on_the_table(kitchen, gt):
    for o in gt["objects"]:
        m = np.asarray(o["world_from_body"])
        lo, hi = np.asarray(o["bbox_body"]["min"]), np.asarray(o["bbox_body"]["max"])
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        world = corners @ m[:3, :3].T + m[:3, 3]
        assert abs(world[:, 2].min()) < 1e-6, o["name"]  # bottom on the plane z = 0
        assert np.all(np.abs(world[:, 0]) < 0.5) and np.all(np.abs(world[:, 1]) < 0.35), o["name"]
        verts = np.array([[float(t) for t in line.split()[1:]] for line in (kitchen / o["mesh"]).read_text().splitlines()
                          if line.startswith("v ")])
        np.testing.assert_allclose(verts.min(0), lo, atol=1e-5)
        np.testing.assert_allclose(verts.max(0), hi, atol=1e-5)


def test_depth_maps_put_the_table_at_z0(kitchen, gt):
    """Back-projecting ground-truth depth through the ground-truth cameras lands table pixels
    on z = 0: poses, intrinsics and pixel convention agree with what the renderer drew."""
    K = np.asarray(gt["camera"]["K"])
    for f in gt["frames"][::6]:
        depth = cv2.imread(str(kitchen / f["depth_path"]), cv2.IMREAD_UNCHANGED).astype(np.float64) / 1000
        mask = cv2.imread(str(kitchen / f["mask_path"]), cv2.IMREAD_UNCHANGED)
        r, c = np.nonzero((mask == 1) & (depth > 0))
        # stay off silhouette edges, where MSAA mixes surfaces
        inner = cv2.erode((mask == 1).astype(np.uint8), np.ones((5, 5), np.uint8))[r, c] > 0
        r, c = r[inner], c[inner]
        z = depth[r, c]
        cam = np.stack([(c + 0.5 - K[0, 2]) / K[0, 0] * z, (r + 0.5 - K[1, 2]) / K[1, 1] * z, z], 1)
        w = np.asarray(f["world_from_cam"])
        world = cam @ w[:3, :3].T + w[:3, 3]
        assert len(world) > 1000
        # depth is quantised to 1 mm; the slab's 4 cm front edge (same mask id) lies below z = 0
        assert np.median(np.abs(world[:, 2])) < 6e-4, f["file_path"]
        assert np.mean(np.abs(world[:, 2]) < 1.5e-3) > 0.8, f["file_path"]


def test_objects_project_into_their_masks(kitchen, gt):
    ids = {o["name"]: o["mask_id"] for o in gt["objects"]}
    K = torch.tensor(gt["camera"]["K"])
    centres = torch.tensor([o["position"] for o in gt["objects"]], dtype=torch.float64)
    hits = {n: [0, 0] for n in ids}
    for f in gt["frames"]:
        cam = Cameras(K[None], torch.tensor(f["world_from_cam"])[None], 400, 300)
        mask = cv2.imread(str(kitchen / f["mask_path"]), cv2.IMREAD_UNCHANGED)
        uv, _ = cam.project(centres)
        for o, (u, v) in zip(gt["objects"], uv[0].numpy()):
            if 0 <= u < 400 and 0 <= v < 300:
                hits[o["name"]][1] += 1
                hits[o["name"]][0] += int(mask[int(v), int(u)] == ids[o["name"]])
    for name, (hit, seen) in hits.items():
        assert seen >= 20 and hit / seen > 0.8, (name, hit, seen)  # the rest: occluded by another object


def test_generator_is_deterministic_and_matches_ground_truth(kitchen, gt):
    g = _load_generate(kitchen)
    a, b = g.texture_tiles(np.random.default_rng([0, 7]), 64, 96, 4, 3), g.texture_tiles(np.random.default_rng([0, 7]), 64, 96, 4, 3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, g.texture_tiles(np.random.default_rng([1, 7]), 64, 96, 4, 3))
    objects = g.object_records()
    stills = g.still_cameras(objects)
    for o, ref in zip(objects, gt["objects"]):
        assert o["name"] == ref["name"]
        np.testing.assert_allclose(o["world_from_body"], ref["world_from_body"], atol=1e-9)
    for c, ref in zip(stills, gt["frames"]):
        np.testing.assert_allclose(c["world_from_cam"], ref["world_from_cam"], atol=1e-8)
    np.testing.assert_allclose(g.video_pose(37), gt["video"]["frames"][37]["world_from_cam"], atol=1e-8)


def test_ground_truth_transforms_json_matches(kitchen, gt):
    from gwm.capture.nerfstudio import read_transforms_cameras

    cams, paths, meta = read_transforms_cameras(kitchen)
    assert [p.name for p in paths] == [f["file_path"].split("/")[-1] for f in gt["frames"]]
    np.testing.assert_allclose(cams.world_from_cam.numpy(), [f["world_from_cam"] for f in gt["frames"]], atol=1e-9)
    np.testing.assert_allclose(cams.Ks[0].numpy(), gt["camera"]["K"])
    assert meta["gwm"]["scale_is_metric"] is True

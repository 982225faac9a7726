"""A synthetic tabletop splat with known ground truth, for tests and benchmarks.

Surface Gaussians (flat discs tangent to the surface) on a floor, a table top and a few boxes
resting on it, plus floaters. Everything metric and Z up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gwm.geometry import rotmat_to_quat, yaw_rotation
from gwm.sh import num_sh_bases
from gwm.splats import GaussianSplats, rgb_to_sh_dc


@dataclass(frozen=True)
class BoxTruth:
    name: str
    center: tuple[float, float, float]  # world, box centre
    size: tuple[float, float, float]  # full edge lengths
    yaw_deg: float
    rgb: tuple[float, float, float]


DEFAULT_BOXES = (
    BoxTruth("red_cube", (0.10, 0.05, 0.775), (0.05, 0.05, 0.05), 0.0, (0.9, 0.1, 0.1)),
    BoxTruth("green_box", (-0.20, 0.10, 0.79), (0.12, 0.06, 0.08), 30.0, (0.1, 0.8, 0.2)),
    BoxTruth("blue_block", (0.25, -0.15, 0.80), (0.04, 0.04, 0.10), -20.0, (0.1, 0.2, 0.9)),
)
TABLE_HEIGHT = 0.75
TABLE_SIZE = (1.2, 0.8)


def _disc_gaussians(points, normals, rgb, spacing, rng, sh_degree):
    """Flat Gaussians at points, their thin axis along normals."""
    n = len(points)
    # Orthonormal frame per point with the normal as the third column.
    helper = np.where(np.abs(normals[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    t1 = np.cross(normals, helper)
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    t2 = np.cross(normals, t1)
    rot = np.stack([t1, t2, normals], axis=2)  # (n,3,3) columns = axes
    quats = rotmat_to_quat(torch.from_numpy(rot)).float()
    scales = np.stack([np.full(n, 0.6 * spacing), np.full(n, 0.6 * spacing), np.full(n, 0.0005)], 1)
    colour = np.clip(np.asarray(rgb)[None] + 0.05 * rng.standard_normal((n, 3)), 0, 1)
    sh = torch.zeros(n, num_sh_bases(sh_degree), 3)
    sh[:, 0] = rgb_to_sh_dc(torch.from_numpy(colour).float())
    if sh_degree > 0:
        sh[:, 1:] = 0.02 * torch.from_numpy(rng.standard_normal((n, num_sh_bases(sh_degree) - 1, 3))).float()
    opac = np.clip(0.9 + 0.05 * rng.standard_normal(n), 0.6, 0.99)
    return GaussianSplats.from_activated(
        means=torch.from_numpy(points).float(), quats_wxyz=quats, scales=torch.from_numpy(scales).float(),
        opacities=torch.from_numpy(opac).float(), sh=sh)


def _box_surface(center, size, yaw_deg, spacing, rng, bottom=False):
    """Points and outward normals on a box's faces (the bottom face only when asked)."""
    size = np.asarray(size, dtype=np.float64)
    pts, nrm = [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            if axis == 2 and sign < 0 and not bottom:
                continue
            others = [a for a in range(3) if a != axis]
            area = size[others[0]] * size[others[1]]
            k = max(4, int(area / spacing**2))
            p = (rng.random((k, 3)) - 0.5) * size
            p[:, axis] = sign * size[axis] / 2
            n = np.zeros((k, 3))
            n[:, axis] = sign
            pts.append(p)
            nrm.append(n)
    pts, nrm = np.concatenate(pts), np.concatenate(nrm)
    rz = yaw_rotation(np.deg2rad(yaw_deg))
    return pts @ rz.T + np.asarray(center), nrm @ rz.T


def make_tabletop(
    boxes: tuple[BoxTruth, ...] = DEFAULT_BOXES,
    spacing: float = 0.006,
    sh_degree: int = 3,
    floaters: int = 50,
    seed: int = 0,
) -> tuple[GaussianSplats, dict]:
    """(splats, truth) with truth = {"table_height", "table_size", "objects": {name: {center, size, yaw_deg}}}."""
    rng = np.random.default_rng(seed)
    parts = []
    # Table top: a thin slab; only its top face matters for the plane.
    tw, td = TABLE_SIZE
    k = int(tw * td / spacing**2)
    top = np.stack([(rng.random(k) - 0.5) * tw, (rng.random(k) - 0.5) * td, np.full(k, TABLE_HEIGHT)], 1)
    parts.append(_disc_gaussians(top, np.tile([0.0, 0.0, 1.0], (k, 1)), (0.6, 0.45, 0.3), spacing, rng, sh_degree))
    # Floor around the table, coarser.
    fs = 3 * spacing
    k = int(2.0 * 1.6 / fs**2)
    floor = np.stack([(rng.random(k) - 0.5) * 2.0, (rng.random(k) - 0.5) * 1.6, np.zeros(k)], 1)
    parts.append(_disc_gaussians(floor, np.tile([0.0, 0.0, 1.0], (k, 1)), (0.5, 0.5, 0.5), fs, rng, sh_degree))
    for b in boxes:
        p, n = _box_surface(b.center, b.size, b.yaw_deg, spacing / 2, rng)
        parts.append(_disc_gaussians(p, n, b.rgb, spacing / 2, rng, sh_degree))
    if floaters:
        far = (rng.random((floaters, 3)) - 0.5) * 40.0 + np.array([0.0, 0.0, 15.0])
        parts.append(_disc_gaussians(far, np.tile([0.0, 0.0, 1.0], (floaters, 1)), (1, 1, 1), spacing, rng, sh_degree))
    truth = {
        "table_height": TABLE_HEIGHT,
        "table_size": list(TABLE_SIZE),
        "objects": {b.name: {"center": list(b.center), "size": list(b.size), "yaw_deg": b.yaw_deg} for b in boxes},
    }
    return GaussianSplats.cat(parts), truth


def scene_toml_for(truth: dict, splat_name: str = "splat.ply", margin: float = 0.02,
                   masses: dict[str, float] | None = None) -> str:
    """A scene file that crops each ground-truth box with a margin, reaching 5 mm into the table
    (what a user would write)."""
    lines = ["format_version = 1", "", "[input]", f'splat = "{splat_name}"', 'up_axis = "+z"', "",
             "[plane]", 'method = "ransac"', 'select = "highest"', f"height = {truth['table_height']}", "",
             "[bounds]", "min = [-2.0, -2.0, -0.5]", "max = [2.0, 2.0, 2.5]", "",
             "[robot]", f"position = [0.0, -0.55, {truth['table_height']}]", "yaw_deg = 90.0", ""]
    for name, o in truth["objects"].items():
        c, s = o["center"], o["size"]
        lines += ["[[objects]]", f'name = "{name}"', f"center = [{c[0]}, {c[1]}, {c[2] + margin / 2 - 0.005}]",
                  f"size = [{s[0] + 2 * margin}, {s[1] + 2 * margin}, {s[2] + margin + 0.01}]",
                  f"yaw_deg = {o['yaw_deg']}", f"mass = {(masses or {}).get(name, 0.2)}", "friction = 0.6", ""]
    return "\n".join(lines)


def mesh_surface_gaussians(mesh, world_from_body, rgb, spacing: float, rng: np.random.Generator,
                           sh_degree: int = 0, seed: int = 0) -> GaussianSplats:
    """Flat Gaussians on a trimesh's surface (about one per spacing^2 of area), posed by world_from_body."""
    import trimesh

    count = max(100, int(mesh.area / spacing**2))
    pts, face = trimesh.sample.sample_surface(mesh, count, seed=seed)
    m = np.asarray(world_from_body, dtype=np.float64)
    return _disc_gaussians(pts @ m[:3, :3].T + m[:3, 3], mesh.face_normals[face] @ m[:3, :3].T, rgb, spacing, rng,
                           sh_degree)


def splat_from_ground_truth(gt_path, spacing: float = 0.004, room_spacing: float = 0.02, sh_degree: int = 0,
                           seed: int = 0) -> GaussianSplats:
    """A stand-in splat for a generated capture (e.g. datasets/kitchen/ground_truth.json): surface
    Gaussians sampled from the object meshes at their poses and from the static boxes. It is what a
    perfect reconstruction would give, for exercising scene files before a real splat exists."""
    import json
    from pathlib import Path

    import trimesh

    gt_path = Path(gt_path)
    gt = json.loads(gt_path.read_text())
    rng = np.random.default_rng(seed)
    parts = []
    palette = [(0.8, 0.2, 0.2), (0.2, 0.7, 0.3), (0.2, 0.3, 0.8), (0.8, 0.7, 0.2), (0.6, 0.3, 0.7)]
    for i, o in enumerate(gt["objects"]):
        mesh = trimesh.load(gt_path.parent / o["mesh"], force="mesh", process=False)
        parts.append(mesh_surface_gaussians(mesh, o["world_from_body"], palette[i % len(palette)], spacing, rng,
                                            sh_degree, seed=seed + i))
    for st in gt.get("static", []):
        m = np.asarray(st["world_from_body"], dtype=np.float64)
        yaw = np.degrees(np.arctan2(m[1, 0], m[0, 0]))
        fine = st["name"] == gt.get("table", {}).get("name")
        step = spacing if fine else room_spacing
        pts, normals = _box_surface(m[:3, 3], st["size"], yaw, step, rng)  # undersides are never seen
        parts.append(_disc_gaussians(pts, normals, (0.55, 0.5, 0.45), step, rng, sh_degree))
    return GaussianSplats.cat(parts)


def front_orbit_cameras(center, num_views: int = 20, width: int = 160, height: int = 120, radius: float = 0.9,
                        elevations_deg=(30.0, 55.0), azimuth_span_deg: float = 150.0, fov_y_deg: float = 60.0):
    """Cameras on two rings over the front half (-y side) of a scene centre, looking at it: how a person
    photographs a counter standing in front of it."""
    import math

    from gwm.cameras import Cameras, intrinsics_from_fov, look_at

    center = np.asarray(center, dtype=np.float64)
    per_ring = max(1, num_views // len(elevations_deg))
    poses = []
    for el in elevations_deg:
        for az in np.linspace(-azimuth_span_deg / 2, azimuth_span_deg / 2, per_ring):
            a, e = math.radians(az), math.radians(el)
            eye = center + radius * np.array([math.sin(a) * math.cos(e), -math.cos(a) * math.cos(e), math.sin(e)])
            poses.append(look_at(eye.tolist(), center.tolist()))
    k = intrinsics_from_fov(fov_y_deg, width, height)
    return Cameras(k.expand(len(poses), 3, 3).clone(), torch.stack(poses).double(), width, height)


def write_synthetic_capture(splats: GaussianSplats, out_dir, cameras, metric: bool = True):
    """A capture folder as `gwm capture run` writes it (transforms.json with its gwm block, images/), with the
    images rendered from `splats` (the scene as the cameras saw it). Returns the folder."""
    from pathlib import Path

    from PIL import Image

    from gwm.atomic_io import write_json_atomic
    from gwm.render import rasterize

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    frames = []
    gl = cameras.to_opengl()
    for i in range(len(cameras)):
        with torch.no_grad():
            rgb = rasterize(splats, cameras[i].to(dtype=torch.float32), background=torch.zeros(3)).rgb[0]
        name = f"images/frame_{i:05d}.png"
        Image.fromarray((rgb.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)).save(out / name)
        frames.append({"file_path": name, "transform_matrix": gl[i].tolist()})
    K = cameras.Ks[0]
    write_json_atomic(out / "transforms.json", {
        "w": cameras.width, "h": cameras.height, "fl_x": float(K[0, 0]), "fl_y": float(K[1, 1]),
        "cx": float(K[0, 2]), "cy": float(K[1, 2]), "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0,
        "camera_model": "OPENCV", "frames": frames,
        "gwm": {"format": "gwm.capture", "source": {"kind": "synthetic"}, "scale_is_metric": metric,
                "units": "metres" if metric else "sfm units", "up_axis": "+z"}}, indent=2)
    return out


__all__ = ["BoxTruth", "DEFAULT_BOXES", "front_orbit_cameras", "make_tabletop", "mesh_surface_gaussians",
           "scene_toml_for", "splat_from_ground_truth", "write_synthetic_capture"]

"""Test shapes as trimesh meshes (base on z = 0, centred in xy) and a tabletop splat holding them.

Surface Gaussians are sampled from the meshes like gwm/scene/synthetic.py's ground-truth stand-in,
so the container rule sees what a perfect reconstruction would give.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gwm.scene.synthetic import make_tabletop, mesh_surface_gaussians
from gwm.splats import GaussianSplats


def _box(size, center):
    import trimesh

    return trimesh.creation.box(extents=size, transform=trimesh.transformations.translation_matrix(center))


def closed_box(size=(0.12, 0.09, 0.06)):
    return _box(size, (0.0, 0.0, size[2] / 2))


def open_tray(size=(0.20, 0.15, 0.035), wall=0.006, floor=0.006):
    """A floor slab and four walls: open on top."""
    import trimesh

    sx, sy, sz = size
    parts = [_box((sx, sy, floor), (0, 0, floor / 2)),
             _box((wall, sy, sz), (-(sx - wall) / 2, 0, sz / 2)), _box((wall, sy, sz), ((sx - wall) / 2, 0, sz / 2)),
             _box((sx, wall, sz), (0, -(sy - wall) / 2, sz / 2)), _box((sx, wall, sz), (0, (sy - wall) / 2, sz / 2))]
    return trimesh.util.concatenate(parts)


def mug(radius=0.038, height=0.095, wall=0.005, base=0.008):
    """An open cylinder with a floor and a handle (the kitchen mug's proportions)."""
    import trimesh

    body = trimesh.creation.annulus(r_min=radius - wall, r_max=radius, height=height,
                                    transform=trimesh.transformations.translation_matrix((0, 0, height / 2)))
    floor = trimesh.creation.cylinder(radius=radius - wall, height=base,
                                      transform=trimesh.transformations.translation_matrix((0, 0, base / 2)))
    handle = trimesh.creation.torus(major_radius=0.025, minor_radius=0.006)
    handle.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, (1, 0, 0)))
    handle.apply_translation((radius + 0.012, 0.0, height * 0.52))
    return trimesh.util.concatenate([body, floor, handle])


def step(size=(0.20, 0.15, 0.10), foot=0.02, upright=0.03):
    """An L-shaped step: a low foot with an upright on one end (low and wide, but open to three sides)."""
    import trimesh

    sx, sy, sz = size
    return trimesh.util.concatenate([_box((sx, sy, foot), (0, 0, foot / 2)),
                                     _box((upright, sy, sz), (-(sx - upright) / 2, 0, sz / 2))])


def cube(side=0.04):
    return closed_box((side, side, side))


def object_points(mesh, spacing=0.004, seed=0, clearance=0.004) -> np.ndarray:
    """(N,3) centres of surface Gaussians on the mesh standing on the support (z = height above it); those
    within `clearance` of the support are left out, as scene assembly leaves them to the background."""
    splats = mesh_surface_gaussians(mesh, np.eye(4), (0.5, 0.5, 0.5), spacing, np.random.default_rng(seed), seed=seed)
    pts = splats.means.double().numpy()
    return pts[pts[:, 2] > clearance]


def tabletop_with(meshes: dict, placements: dict, spacing=0.004, seed=0) -> tuple[GaussianSplats, dict]:
    """make_tabletop's table and floor plus the given meshes at placements {name: (x, y, yaw_deg)}, with the
    truth dict that scene_toml_for turns into crop boxes."""
    from gwm.scene.synthetic import TABLE_HEIGHT

    table, truth = make_tabletop(boxes=(), spacing=spacing, sh_degree=0, floaters=0, seed=seed)
    rng = np.random.default_rng(seed)
    parts, objects = [table], {}
    for i, (name, mesh) in enumerate(meshes.items()):
        x, y, yaw = placements[name]
        m = np.eye(4)
        c, s = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
        m[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
        m[:3, 3] = (x, y, TABLE_HEIGHT)
        parts.append(mesh_surface_gaussians(mesh, m, (0.3 + 0.2 * i, 0.5, 0.4), spacing / 2, rng, seed=seed + i))
        lo, hi = mesh.bounds
        objects[name] = {"center": (m[:3, :3] @ ((lo + hi) / 2) + m[:3, 3]).tolist(),
                         "size": [float(v) for v in (hi - lo)], "yaw_deg": yaw}
    truth["objects"] = objects
    return GaussianSplats.cat([p.to(dtype=torch.float32) for p in parts]), truth

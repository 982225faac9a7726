"""A small synthetic tabletop scene in the contract's USD layout, for tests and benchmarks.

A table (static support mesh), two graspable blocks and a shallow tray (role "container", the
target of `pick_place_bowl`; the contract gives objects one convex hull each, so objects end resting
on it), all with Gaussians, and a robot base on the table edge.
Everything here is deterministic: the same config writes the same stage.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from gwm.geometry import make_transform, yaw_rotation
from gwm.scene.asset import SceneAsset, SceneObject
from gwm.splats import GaussianSplats

DEMO_SCENE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class DemoBlock:
    name: str
    size: tuple[float, float, float]  # full extents x, y, z in metres
    mass: float
    friction: float
    rgb: tuple[float, float, float]
    xy: tuple[float, float]  # initial position on the table (tasks re-sample it per seed)
    role: str = "object"  # gwm.roles: "object" | "container"


@dataclass(frozen=True)
class DemoSceneConfig:
    table_center_xy: tuple[float, float] = (0.45, 0.0)
    table_size_xy: tuple[float, float] = (1.1, 1.3)
    table_height: float = 0.75
    # Robot base on the table's back edge, yawed a little so frame bugs show up in tests.
    robot_base_xyz: tuple[float, float, float] = (0.0, 0.0, 0.75)
    robot_base_yaw: float = 0.15
    gaussian_spacing: float = 0.012  # metres between surface samples
    blocks: tuple[DemoBlock, ...] = (
        DemoBlock("red_cube", (0.05, 0.05, 0.05), 0.10, 1.0, (0.85, 0.12, 0.10), (0.45, -0.15)),
        DemoBlock("blue_block", (0.045, 0.045, 0.06), 0.08, 1.0, (0.12, 0.25, 0.85), (0.50, 0.12)),
        DemoBlock("tray", (0.16, 0.16, 0.02), 0.30, 1.0, (0.20, 0.65, 0.25), (0.62, 0.0), "container"),
    )


def box_mesh(size) -> tuple[np.ndarray, np.ndarray]:
    """Closed box centred at the origin: (8,3) float32 vertices, (12,3) int32 outward faces."""
    hx, hy, hz = (0.5 * s for s in size)
    v = np.array([[sx * hx, sy * hy, sz * hz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], np.float32)
    f = np.array(
        [[0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3], [0, 4, 5], [0, 5, 1],
         [2, 3, 7], [2, 7, 6], [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5]],
        np.int32,
    )
    return v, f


def box_surface_splats(size, rgb, spacing: float, rng: np.random.Generator, top_only: bool = False,
                       checker: float = 0.0) -> GaussianSplats:
    """Flat Gaussians on a box surface (body frame), lightly textured so motion is visible."""
    size = np.asarray(size, np.float64)
    pts, normals = [], []
    for axis in range(3):
        for sign in ((1,) if top_only and axis == 2 else (-1, 1)):
            if top_only and axis != 2:
                continue
            u, w = [a for a in range(3) if a != axis]
            nu, nw = (max(2, int(math.ceil(size[a] / spacing))) for a in (u, w))
            gu, gw = np.meshgrid((np.arange(nu) + 0.5) / nu - 0.5, (np.arange(nw) + 0.5) / nw - 0.5, indexing="ij")
            p = np.zeros((nu * nw, 3))
            p[:, u], p[:, w] = gu.ravel() * size[u], gw.ravel() * size[w]
            p[:, axis] = 0.5 * sign * size[axis]
            n = np.zeros_like(p)
            n[:, axis] = sign
            pts.append(p)
            normals.append(n)
    p, n = np.concatenate(pts), np.concatenate(normals)
    # Flat discs: thin along the face normal, about one spacing wide in the face.
    scales = np.full((len(p), 3), 0.6 * spacing)
    scales[np.arange(len(p)), np.abs(n).argmax(1)] = 0.1 * spacing
    colour = np.tile(np.asarray(rgb, np.float64), (len(p), 1)) * rng.uniform(0.85, 1.0, (len(p), 1))
    if checker > 0:
        cells = np.floor(p[:, :2] / checker).astype(int).sum(1) % 2
        colour *= np.where(cells[:, None] == 1, 0.8, 1.0)
    return GaussianSplats.from_activated(
        means=torch.tensor(p, dtype=torch.float32),
        quats_wxyz=torch.tensor([[1.0, 0.0, 0.0, 0.0]]).repeat(len(p), 1),
        scales=torch.tensor(scales, dtype=torch.float32),
        opacities=torch.full((len(p),), 0.95),
        rgb=torch.tensor(colour.clip(0, 1), dtype=torch.float32),
    )


def make_demo_scene(config: DemoSceneConfig = DemoSceneConfig()) -> SceneAsset:
    """The demo scene as a SceneAsset (what scene assembly would produce from a capture)."""
    rng = np.random.default_rng(0)
    tx, ty = config.table_center_xy
    sx, sy = config.table_size_xy
    top = config.table_height

    # Background: the table top, checkered so camera and object motion are visible.
    table_top = box_surface_splats((sx, sy, 0.0), (0.62, 0.48, 0.33), 2 * config.gaussian_spacing, rng,
                                   top_only=True, checker=0.1)
    background = table_top.transform(torch.tensor(make_transform(np.eye(3), (tx, ty, top)), dtype=torch.float32))
    # Support: the table as a closed box, world frame.
    support_v, support_f = box_mesh((sx, sy, top))
    support_v = support_v + np.array([tx, ty, top / 2], np.float32)

    objects = []
    for block in config.blocks:
        hull_v, hull_f = box_mesh(block.size)
        objects.append(SceneObject(
            name=block.name,
            splats=box_surface_splats(block.size, block.rgb, config.gaussian_spacing, rng),
            world_from_body=torch.tensor(make_transform(np.eye(3), (*block.xy, top + block.size[2] / 2))),
            mass=block.mass,
            friction=block.friction,
            collision_vertices=hull_v,
            collision_faces=hull_f,
            role=block.role,
        ))
    return SceneAsset(
        background=background,
        objects=objects,
        support_vertices=support_v,
        support_faces=support_f,
        robot_base=torch.tensor(make_transform(yaw_rotation(config.robot_base_yaw), config.robot_base_xyz)),
        metadata={
            "format_version": DEMO_SCENE_FORMAT_VERSION,
            "config": asdict(config),
            "normalisation": np.eye(4).tolist(),
            "source": "sim_tasks.demo_scene",
        },
        support_friction=1.0,
    )


def write_demo_scene_usd(path: str | os.PathLike, config: DemoSceneConfig = DemoSceneConfig()) -> Path:
    """Export the demo scene through exporters.usd.export_usd (the contract's USD layout)."""
    from exporters.usd import export_usd

    return export_usd(make_demo_scene(config), path)


__all__ = ["DemoBlock", "DemoSceneConfig", "make_demo_scene", "write_demo_scene_usd", "box_mesh", "box_surface_splats"]

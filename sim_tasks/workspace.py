"""Where the robot can work: the support surface in reach of the arm, and object footprints.

Everything is derived from the SceneAsset (support mesh, robot base, object hulls), so the
same code serves the demo scene and a reconstructed kitchen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gwm.geometry import matrix_to_pose7, yaw_of, yaw_rotation



@dataclass(frozen=True)
class WorkspaceConfig:
    min_reach: float = 0.36  # m from the robot base axis (closer folds the arm onto itself)
    max_reach: float = 0.62  # m (the Panda reaches ~0.85; top-down grasps stay well inside)
    max_bearing_deg: float = 50.0  # either side of the base's x axis
    edge_margin: float = 0.04  # keep footprints this far inside the support surface's edge
    max_surface_offset: float = 0.25  # |surface - robot base height| allowed (m)
    # m from the base axis where the closed fingers still push at table height: a corrective push starts
    # anywhere around the object (benchmarks/rollouts.py, workbench tray: starts at 0.15-0.21 m and at
    # 0.83 m failed, 0.18-0.70 m mostly worked)
    push_reach: tuple[float, float] = (0.22, 0.75)


class Workspace:
    """Support-surface heights and reachable placements for one scene."""

    def __init__(self, scene, config: WorkspaceConfig = WorkspaceConfig()):
        self.config = config
        self.robot_base = scene.robot_base.numpy().astype(np.float64)
        v = np.asarray(scene.support_vertices, np.float64)
        f = np.asarray(scene.support_faces, np.int64)
        if len(f) == 0:
            raise ValueError("the scene has no support mesh (/World/Support): tasks need a table or ground "
                             "to place objects on; add one in scene assembly")
        tri = v[f]  # (F,3,3)
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        norm = np.linalg.norm(normal, axis=1)
        up = (norm > 1e-12) & (normal[:, 2] > 0.9 * np.maximum(norm, 1e-12))
        if not up.any():
            raise ValueError("the support mesh has no upward-facing triangles to place objects on")
        self._tris = tri[up]
        self.hulls = {o.name: np.asarray(o.collision_vertices, np.float64) for o in scene.objects}
        self.initial_rotations = {o.name: o.world_from_body.numpy()[:3, :3].astype(np.float64) for o in scene.objects}
        self.scene_poses = {o.name: matrix_to_pose7(o.world_from_body.numpy().astype(np.float64)) for o in scene.objects}

    # surface ------------------------------------------------------------------------------
    def surface_height(self, xy: np.ndarray) -> float:
        """Height of the highest upward-facing support triangle over xy; nan outside the support."""
        p = np.asarray(xy, np.float64)
        a, b, c = self._tris[:, 0], self._tris[:, 1], self._tris[:, 2]
        v0, v1, v2 = (c - a)[:, :2], (b - a)[:, :2], p[None] - a[:, :2]
        d00, d01, d11 = (v0 * v0).sum(1), (v0 * v1).sum(1), (v1 * v1).sum(1)
        d20, d21 = (v2 * v0).sum(1), (v2 * v1).sum(1)
        den = d00 * d11 - d01 * d01
        with np.errstate(divide="ignore", invalid="ignore"):
            u = (d11 * d20 - d01 * d21) / den
            w = (d00 * d21 - d01 * d20) / den
        inside = (u >= -1e-9) & (w >= -1e-9) & (u + w <= 1 + 1e-9) & (np.abs(den) > 1e-18)
        if not inside.any():
            return float("nan")
        z = a[:, 2] + u * (c - a)[:, 2] + w * (b - a)[:, 2]
        return float(z[inside].max())

    def footprint_supported(self, xy: np.ndarray, radius: float) -> bool:
        """The disc of this radius (plus the edge margin) around xy lies on one flat support level."""
        r = radius + self.config.edge_margin
        h = self.surface_height(xy)
        if not np.isfinite(h):
            return False
        for ang in np.linspace(0, 2 * np.pi, 8, endpoint=False):
            hh = self.surface_height(np.asarray(xy) + r * np.array([np.cos(ang), np.sin(ang)]))
            if not np.isfinite(hh) or abs(hh - h) > 0.005:
                return False
        return True

    # reach --------------------------------------------------------------------------------
    def in_reach(self, xy: np.ndarray) -> bool:
        cfg = self.config
        local = np.linalg.inv(self.robot_base) @ np.array([xy[0], xy[1], self.robot_base[2, 3], 1.0])
        r = math.hypot(local[0], local[1])
        bearing = math.degrees(math.atan2(local[1], local[0]))
        return cfg.min_reach <= r <= cfg.max_reach and abs(bearing) <= cfg.max_bearing_deg

    def in_push_reach(self, xy: np.ndarray) -> np.ndarray:
        """Whether each point (..., 2) lies within push_reach of the base axis."""
        lo, hi = self.config.push_reach
        local = (np.asarray(xy, np.float64)[..., :2] - self.robot_base[:2, 3]) @ self.robot_base[:2, :2]
        r = np.hypot(local[..., 0], local[..., 1])
        return (r >= lo) & (r <= hi)

    def ring_in_push_reach(self, xy: np.ndarray, radius: float, points: int = 16) -> bool:
        """Every point at `radius` around xy lies within push_reach: a push pass may start on any side
        of an object that stops near xy."""
        ang = np.linspace(0, 2 * np.pi, points, endpoint=False)
        ring = np.asarray(xy, np.float64)[:2] + radius * np.stack([np.cos(ang), np.sin(ang)], 1)
        return bool(self.in_push_reach(ring).all())

    def base_yaw(self) -> float:
        return yaw_of(self.robot_base)

    def sample_reachable_xy(self, rng: np.random.Generator, radius: float = 0.0) -> np.ndarray:
        """A uniformly random point (by area) of the reachable annulus sector."""
        cfg = self.config
        r = math.sqrt(rng.uniform(cfg.min_reach**2, cfg.max_reach**2))
        bearing = math.radians(rng.uniform(-cfg.max_bearing_deg, cfg.max_bearing_deg))
        local = np.array([r * math.cos(bearing), r * math.sin(bearing), 0.0, 1.0])
        world = self.robot_base @ local
        return world[:2]

    # objects ------------------------------------------------------------------------------
    def footprint_radius(self, name: str) -> float:
        return float(np.linalg.norm(self.hulls[name][:, :2], axis=1).max())

    def resting_pose(self, name: str, xy: np.ndarray, yaw: float) -> np.ndarray:
        """(7,) pose of the object resting on the support at xy, its scene orientation turned by yaw."""
        rot = yaw_rotation(yaw) @ self.initial_rotations[name]
        bottom = (self.hulls[name] @ rot.T)[:, 2].min()
        m = np.eye(4)
        m[:3, :3] = rot
        m[:3, 3] = [xy[0], xy[1], self.surface_height(xy) - bottom]
        return matrix_to_pose7(m)

    def world_hull(self, name: str, pose_matrix: np.ndarray) -> np.ndarray:
        """(V,3) hull vertices of an object at a pose."""
        return self.hulls[name] @ pose_matrix[:3, :3].T + pose_matrix[:3, 3]

    def sample_placements(self, rng: np.random.Generator, names: list[str], clearance: float = 0.04,
                          keep_out: list[tuple[np.ndarray, float]] | None = None, max_tries: int = 2000,
                          required: set[str] | None = None) -> dict[str, np.ndarray]:
        """Random resting poses (reachable, supported, apart by clearance) for every named object.

        required: the objects the task acts on (default: all of them). Another object that finds no
        room in reach (a large piece of a scene authored from a capture) stays where the scene has it,
        and the others are placed around it, rather than failing the episode. When the others took the
        room a required one needs (a small table in reach), the required ones are placed first."""
        required = set(names) if required is None else set(required)
        pinned: dict[str, np.ndarray] = {}
        required_first = False
        while True:
            stays = [(p[:2].copy(), self.footprint_radius(n)) for n, p in pinned.items()]
            free = [n for n in names if n not in pinned]
            if required_first:
                free = [n for n in free if n in required] + [n for n in free if n not in required]
            try:
                return {**{n: p.copy() for n, p in pinned.items()},
                        **self._place(rng, free, clearance, list(keep_out or []) + stays, max_tries)}
            except _NoRoom as e:
                if e.name in required and not required_first:
                    required_first = True
                elif e.name in required:
                    raise RuntimeError(
                        f"could not place {e.name!r} in the reachable part of the support after {max_tries} tries; "
                        "the table in reach is too small or crowded: widen WorkspaceConfig or remove objects"
                    ) from None
                else:
                    pinned[e.name] = self.scene_poses[e.name]

    def _place(self, rng, names, clearance, placed, max_tries) -> dict[str, np.ndarray]:
        poses = {}
        for name in names:
            radius = self.footprint_radius(name)
            for _ in range(max_tries):
                xy = self.sample_reachable_xy(rng)
                if not self.footprint_supported(xy, radius):
                    continue
                if any(np.linalg.norm(xy - c) < radius + r + clearance for c, r in placed):
                    continue
                poses[name] = self.resting_pose(name, xy, rng.uniform(-np.pi, np.pi))
                placed.append((xy, radius))
                break
            else:
                raise _NoRoom(name)
        return poses


class _NoRoom(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


__all__ = ["Workspace", "WorkspaceConfig"]

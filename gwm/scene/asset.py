"""The assembled scene: static background Gaussians, movable bodies, collision proxies.

This is the contract between scene assembly, the exporters and the simulators
(see exporters/usd.py for its USD layout). Units are metres and kilograms, world Z up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gwm.roles import OBJECT_ROLES, check_role
from gwm.splats import GaussianSplats

SCENE_FORMAT_VERSION = 1


@dataclass
class SceneObject:
    """A movable rigid body. Its Gaussians and hull live in the body frame (origin = centre of mass)."""

    name: str
    splats: GaussianSplats  # body frame
    world_from_body: torch.Tensor  # (4,4) initial pose
    mass: float  # kg
    friction: float  # Coulomb coefficient, used as both static and dynamic friction
    collision_vertices: np.ndarray  # (V,3) float32, body frame, convex hull
    collision_faces: np.ndarray  # (F,3) int32
    role: str = "object"  # "object" | "container" (gwm.roles): from the scene file or the object's geometry

    def __post_init__(self) -> None:
        _check_name(self.name)
        check_role(self.role, f"object {self.name!r}", OBJECT_ROLES)
        self.world_from_body = torch.as_tensor(self.world_from_body, dtype=torch.float64)
        if tuple(self.world_from_body.shape) != (4, 4):
            raise ValueError(f"object {self.name!r}: world_from_body must be (4,4), got {tuple(self.world_from_body.shape)}")
        rot = self.world_from_body[:3, :3]
        if not torch.allclose(rot @ rot.T, torch.eye(3, dtype=rot.dtype), atol=1e-5):
            raise ValueError(f"object {self.name!r}: world_from_body rotation is not orthonormal")
        if not (self.mass > 0 and np.isfinite(self.mass)):
            raise ValueError(f"object {self.name!r}: mass must be a positive number of kg, got {self.mass}")
        if not (self.friction >= 0 and np.isfinite(self.friction)):
            raise ValueError(f"object {self.name!r}: friction must be >= 0, got {self.friction}")
        self.collision_vertices = np.ascontiguousarray(self.collision_vertices, dtype=np.float32).reshape(-1, 3)
        self.collision_faces = np.ascontiguousarray(self.collision_faces, dtype=np.int32).reshape(-1, 3)
        if len(self.collision_vertices) < 4 or len(self.collision_faces) < 4:
            raise ValueError(f"object {self.name!r}: collision hull needs >= 4 vertices and faces")

    def world_splats(self, world_from_body: torch.Tensor | None = None) -> GaussianSplats:
        """The object's Gaussians in the world frame at the given pose (default: initial pose)."""
        pose = self.world_from_body if world_from_body is None else world_from_body
        return self.splats.transform(pose.to(self.splats.means.dtype))


@dataclass
class SceneAsset:
    background: GaussianSplats  # world frame, static
    objects: list[SceneObject]
    support_vertices: np.ndarray  # (V,3) world frame: table top / ground collision mesh
    support_faces: np.ndarray  # (F,3)
    robot_base: torch.Tensor  # (4,4) world_from_robot_base
    metadata: dict  # format_version, config, normalisation (4x4 list), source
    support_friction: float = 0.8  # additive to the contract: friction of the support surface

    def __post_init__(self) -> None:
        self.support_vertices = np.ascontiguousarray(self.support_vertices, dtype=np.float32).reshape(-1, 3)
        self.support_faces = np.ascontiguousarray(self.support_faces, dtype=np.int32).reshape(-1, 3)
        self.robot_base = torch.as_tensor(self.robot_base, dtype=torch.float64)
        if tuple(self.robot_base.shape) != (4, 4):
            raise ValueError(f"robot_base must be (4,4), got {tuple(self.robot_base.shape)}")
        names = [o.name for o in self.objects]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"object names must be unique; repeated: {dup}")
        self.metadata = dict(self.metadata)
        self.metadata.setdefault("format_version", SCENE_FORMAT_VERSION)

    @property
    def object_names(self) -> list[str]:
        return [o.name for o in self.objects]

    def object(self, name: str) -> SceneObject:
        for o in self.objects:
            if o.name == name:
                return o
        raise KeyError(f"no object named {name!r}; objects are {self.object_names}")

    def world_splats(self, poses: dict[str, torch.Tensor] | None = None) -> GaussianSplats:
        """Background plus every object's Gaussians posed in the world (default: initial poses)."""
        poses = poses or {}
        parts = [self.background] + [o.world_splats(poses.get(o.name)) for o in self.objects]
        return GaussianSplats.cat(parts)


def _check_name(name: str) -> None:
    # Object names become USD prim names and file names: keep them identifiers.
    if not name or not (name[0].isalpha() or name[0] == "_") or not all(c.isalnum() or c == "_" for c in name):
        raise ValueError(
            f"object name {name!r} is not a valid identifier; use letters, digits and '_' "
            "and start with a letter (e.g. 'red_mug')"
        )


__all__ = ["SCENE_FORMAT_VERSION", "SceneAsset", "SceneObject"]

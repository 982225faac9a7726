"""USD scene stage -> SceneAsset: the reader of the layout exporters/usd.py writes (see its docstring).

It lives next to the scene model it fills, so simulators and tasks read scenes without the exporters;
pxr is imported inside the functions (usd-core is needed only when a USD is read).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from gwm.scene.asset import SCENE_FORMAT_VERSION, SceneAsset, SceneObject
from gwm.sh import num_sh_bases
from gwm.splats import GaussianSplats

USD_SUFFIXES = (".usd", ".usda", ".usdc", ".usdz")
ROLE_ATTR = "gwm:role"  # the body's role (gwm.roles) on each body prim
_OPACITY_EPS = 1e-7  # opacities are stored linear; clamp before logit on read


def read_splat_prim(prim) -> GaussianSplats:
    """Read a ParticleField3DGaussianSplat prim back into GaussianSplats (in the prim's frame)."""
    from pxr import UsdVol

    field = UsdVol.ParticleField3DGaussianSplat(prim)
    if not field:
        raise ValueError(f"{prim.GetPath()}: not a ParticleField3DGaussianSplat (type {prim.GetTypeName()!r})")

    def arr(attr, width):
        value = attr.Get()
        if value is None:
            return np.zeros((0, width), dtype=np.float32)
        return np.asarray(value, dtype=np.float32).reshape(-1, width)

    means = arr(field.GetPositionsAttr(), 3)
    n = len(means)
    quats_xyzw = arr(field.GetOrientationsAttr(), 4)
    scales = arr(field.GetScalesAttr(), 3)
    opacities = arr(field.GetOpacitiesAttr(), 1)[:, 0]
    degree = field.GetRadianceSphericalHarmonicsDegreeAttr().Get()
    degree = 3 if degree is None else int(degree)
    k = num_sh_bases(degree)
    sh = arr(field.GetRadianceSphericalHarmonicsCoefficientsAttr(), 3)
    for name, a, want in [("orientations", quats_xyzw, n), ("scales", scales, n), ("opacities", opacities, n),
                          ("radiance:sphericalHarmonicsCoefficients", sh, n * k)]:
        if len(a) != want:
            raise ValueError(f"{prim.GetPath()}: {name} has {len(a)} entries, expected {want} "
                             f"({n} particles, SH degree {degree}); the prim is inconsistent, re-export it")
    t = torch.from_numpy
    return GaussianSplats(
        means=t(means.copy()),
        quats_wxyz=t(np.ascontiguousarray(quats_xyzw[:, [3, 0, 1, 2]])),
        log_scales=torch.log(t(scales.copy()).clamp_min(1e-30)),
        logit_opacities=torch.logit(t(opacities.copy()).clamp(_OPACITY_EPS, 1 - _OPACITY_EPS)),
        sh=t(sh.reshape(n, k, 3).copy()),
    )


def read_usd_scene(path: str | os.PathLike) -> SceneAsset:
    """Read a stage written by export_usd back into a SceneAsset (exact up to float32 storage)."""
    from pxr import Usd, UsdGeom, UsdPhysics

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such USD file; export one with 'gwm export usd'")
    stage = Usd.Stage.Open(str(path))
    if stage is None:
        raise ValueError(f"{path}: USD could not open this file")
    if UsdGeom.GetStageUpAxis(stage) != UsdGeom.Tokens.z or abs(UsdGeom.GetStageMetersPerUnit(stage) - 1.0) > 1e-9:
        raise ValueError(f"{path}: stage is not Z-up in metres; only stages written by export_usd are supported")
    gwm = stage.GetRootLayer().customLayerData.get("gwm")
    if not gwm:
        raise ValueError(f"{path}: no gwm customLayerData; this stage was not written by export_usd")
    version = int(gwm.get("format_version", -1))
    if version > SCENE_FORMAT_VERSION:
        raise ValueError(f"{path}: scene format_version {version} is newer than this code ({SCENE_FORMAT_VERSION}); upgrade gwm")
    metadata = json.loads(gwm["metadata_json"])

    background = read_splat_prim(_require(stage, "/World/Background/Gaussians", path))
    support_v = np.zeros((0, 3), np.float32)
    support_f = np.zeros((0, 3), np.int32)
    support_friction = 0.8
    support = stage.GetPrimAtPath("/World/Support")
    if support:
        support_v, support_f = _read_mesh(support)
        support_friction = _bound_friction(support, default=support_friction)

    objects = []
    objects_root = stage.GetPrimAtPath("/World/Objects")
    for prim in objects_root.GetChildren() if objects_root else []:
        if not prim.HasAPI(UsdPhysics.RigidBodyAPI):
            continue
        name = prim.GetName()
        mass = UsdPhysics.MassAPI(prim).GetMassAttr().Get()
        collision = _require(stage, f"{prim.GetPath()}/Collision", path)
        verts, faces = _read_mesh(collision)
        objects.append(SceneObject(
            name=name,
            splats=read_splat_prim(_require(stage, f"{prim.GetPath()}/Gaussians", path)),
            world_from_body=_world_from_prim(prim),
            mass=float(mass),
            friction=_bound_friction(collision, default=None),
            collision_vertices=verts,
            collision_faces=faces,
            role=_read_role(prim),
        ))
    robot = stage.GetPrimAtPath("/World/RobotBase")
    robot_base = _world_from_prim(robot) if robot else torch.eye(4, dtype=torch.float64)
    return SceneAsset(background=background, objects=objects, support_vertices=support_v,
                      support_faces=support_f, robot_base=robot_base, metadata=metadata,
                      support_friction=support_friction)


def _require(stage, prim_path: str, path: Path):
    prim = stage.GetPrimAtPath(prim_path)
    if not prim:
        raise ValueError(f"{path}: missing prim {prim_path}; the stage does not follow the gwm scene layout")
    return prim


def _read_mesh(prim) -> tuple[np.ndarray, np.ndarray]:
    from pxr import UsdGeom

    mesh = UsdGeom.Mesh(prim)
    v = np.asarray(mesh.GetPointsAttr().Get(), dtype=np.float32).reshape(-1, 3)
    counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get(), dtype=np.int32)
    if len(counts) and not (counts == 3).all():
        raise ValueError(f"{prim.GetPath()}: only triangle meshes are supported")
    f = np.asarray(mesh.GetFaceVertexIndicesAttr().Get(), dtype=np.int32).reshape(-1, 3)
    return v, f


def _bound_friction(prim, default: float | None) -> float:
    """Dynamic friction of the physics material bound to prim (default when none; None: required)."""
    from pxr import UsdPhysics, UsdShade

    material, _ = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial("physics")
    value = UsdPhysics.MaterialAPI(material.GetPrim()).GetDynamicFrictionAttr().Get() if material else None
    if value is None:
        if default is None:
            raise ValueError(f"{prim.GetPath()}: no physics material with dynamicFriction is bound "
                             "(material:binding:physics); re-export the scene with export_usd")
        return default
    return float(value)


def _world_from_prim(prim) -> torch.Tensor:
    from pxr import Usd, UsdGeom

    m = UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(Usd.TimeCode.Default())
    # Gf matrices act on row vectors: our column-vector (4,4) is the transpose.
    return torch.tensor(np.array(m, dtype=np.float64).T)


def _read_role(prim, default: str = "object") -> str:
    """The prim's gwm:role; stages written before roles have none and read as default."""
    attr = prim.GetAttribute(ROLE_ATTR)
    value = attr.Get() if attr and attr.HasAuthoredValue() else None
    return str(value) if value else default


__all__ = ["ROLE_ATTR", "USD_SUFFIXES", "read_splat_prim", "read_usd_scene"]

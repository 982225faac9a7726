"""SceneAsset <-> USD / USDZ (UsdVol.ParticleField3DGaussianSplat + UsdPhysics).

Layout (Z up, metersPerUnit 1, kilogramsPerUnit 1, defaultPrim /World):

    /World                                  Xform
      PhysicsScene                          UsdPhysics.Scene, gravity -Z 9.81
      Background                            Xform, custom token gwm:role = "background"
        Gaussians                           ParticleField3DGaussianSplat, world frame
      Support                               Mesh, CollisionAPI + MeshCollisionAPI "none",
                                            purpose guide, static (no rigid body), friction bound
      Objects                               Xform
        <name>                              Xform (translate + orient = initial pose),
                                            RigidBodyAPI + MassAPI (mass, centerOfMass 0,
                                            diagonalInertia + principalAxes of the solid hull),
                                            custom token gwm:role = "object" | "container"
                                            (gwm.roles; a prim without it reads as "object")
          Gaussians                         ParticleField3DGaussianSplat, body frame
          Collision                         Mesh, CollisionAPI + MeshCollisionAPI "convexHull",
                                            purpose guide, physics material bound (purpose physics)
      PhysicsMaterials                      Scope
        <name>, Support                     Material + UsdPhysics.MaterialAPI (static/dynamic friction)
      RobotBase                             Xform (robot base pose; simulators add the robot there)

customLayerData["gwm"] holds format_version (of this USD layout, SCENE_FORMAT_VERSION) and the
scene's metadata (format_version, config, normalisation, source) as JSON, returned unchanged by
gwm.scene.usd_scene.read_usd_scene (the reader lives next to the scene model it reads into).

Splat attributes: positions point3f, orientations quatf (unit, w-first in Gf; note
Vt.QuatfArray.FromNumpy takes x,y,z,w columns), scales float3 (linear), opacities float
(linear), radiance:sphericalHarmonicsDegree, radiance:sphericalHarmonicsCoefficients float3[]
with (d+1)^2 per particle grouped per particle, DC first (raw 3DGS coefficients: colour =
0.5 + sum sh*Y), elementSize metadata (d+1)^2, extent = box of the 3-sigma ellipsoids.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from gwm.atomic_io import commit_temp, jsonable
from gwm.geometry import normalize_quats
from gwm.scene.asset import SCENE_FORMAT_VERSION, SceneAsset
from gwm.scene.usd_scene import ROLE_ATTR, USD_SUFFIXES, read_usd_scene
from gwm.splats import GaussianSplats

GRAVITY = 9.81


# splats <-> ParticleField3DGaussianSplat ------------------------------------------------
def write_splat_prim(stage, prim_path: str, splats: GaussianSplats):
    """Author a UsdVol.ParticleField3DGaussianSplat at prim_path from splats (in that prim's frame)."""
    from pxr import UsdVol, Vt

    s = splats.detach().to("cpu", torch.float32)
    s.assert_finite(prim_path)
    n, k = len(s), s.sh.shape[1]
    field = UsdVol.ParticleField3DGaussianSplat.Define(stage, prim_path)
    quats_wxyz = normalize_quats(s.quats_wxyz).numpy()
    field.CreatePositionsAttr().Set(Vt.Vec3fArray.FromNumpy(s.means.numpy()))
    # Vt.QuatfArray.FromNumpy reads columns as (x, y, z, w): reorder from our w-first layout.
    field.CreateOrientationsAttr().Set(Vt.QuatfArray.FromNumpy(np.ascontiguousarray(quats_wxyz[:, [1, 2, 3, 0]])))
    field.CreateScalesAttr().Set(Vt.Vec3fArray.FromNumpy(s.scales.numpy()))
    field.CreateOpacitiesAttr().Set(Vt.FloatArray.FromNumpy(s.opacities.numpy()))
    field.CreateRadianceSphericalHarmonicsDegreeAttr().Set(int(s.sh_degree))
    coeffs = field.CreateRadianceSphericalHarmonicsCoefficientsAttr()
    coeffs.Set(Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(s.sh.numpy().reshape(n * k, 3))))
    coeffs.SetMetadata("elementSize", k)
    field.CreateExtentAttr().Set(Vt.Vec3fArray.FromNumpy(splat_extent(s)))
    return field


def splat_extent(splats: GaussianSplats, sigmas: float = 3.0) -> np.ndarray:
    """(2,3) float32 box holding every Gaussian's sigmas-sigma ellipsoid (zeros when empty)."""
    if len(splats) == 0:
        return np.zeros((2, 3), dtype=np.float32)
    cov = splats.detach().to("cpu", torch.float64).covariances()
    radius = sigmas * torch.sqrt(torch.diagonal(cov, dim1=-2, dim2=-1))  # (N,3) exact box of each ellipsoid
    means = splats.means.detach().to("cpu", torch.float64)
    return torch.stack([(means - radius).min(0).values, (means + radius).max(0).values]).numpy().astype(np.float32)


# SceneAsset -> USD -------------------------------------------------------------------------
def export_usd(scene: SceneAsset, path: str | os.PathLike) -> Path:
    """Write the scene as .usd/.usda/.usdc, or .usdz (packaged), atomically. Returns the path."""
    from pxr import UsdUtils

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in USD_SUFFIXES:
        raise ValueError(f"{path}: unknown USD extension {path.suffix!r}; use one of {', '.join(USD_SUFFIXES)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.tmp-") as tmp:
        layer_path = Path(tmp) / ("scene.usdc" if suffix == ".usdz" else f"scene{suffix}")
        stage = _build_stage(scene, layer_path)
        stage.GetRootLayer().Save()
        del stage
        if suffix == ".usdz":
            out = Path(tmp) / "scene.usdz"
            if not UsdUtils.CreateNewUsdzPackage(str(layer_path), str(out)):
                raise RuntimeError(f"UsdUtils.CreateNewUsdzPackage failed for {path}")
        else:
            out = layer_path
        commit_temp(out, path)
    return path


def _build_stage(scene: SceneAsset, layer_path: Path):
    from pxr import Gf, Sdf, Usd, UsdGeom, UsdPhysics

    stage = Usd.Stage.CreateNew(str(layer_path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdPhysics.SetStageKilogramsPerUnit(stage, 1.0)
    world = UsdGeom.Xform.Define(stage, "/World")
    stage.SetDefaultPrim(world.GetPrim())
    metadata = {"format_version": SCENE_FORMAT_VERSION, **scene.metadata}
    stage.GetRootLayer().customLayerData = {
        "gwm": {
            "format_version": SCENE_FORMAT_VERSION,  # the layout's version, whoever made the scene
            "metadata_json": json.dumps(jsonable(metadata), separators=(",", ":")),
        }
    }

    physics_scene = UsdPhysics.Scene.Define(stage, "/World/PhysicsScene")
    physics_scene.CreateGravityDirectionAttr().Set(Gf.Vec3f(0.0, 0.0, -1.0))
    physics_scene.CreateGravityMagnitudeAttr().Set(GRAVITY)
    # Convex-hull meshes get one contact point per pair in MuJoCo unless multi-CCD is on: bodies
    # then sink ~5 mm and spin on their contact. Newton's SolverMuJoCo reads this flag when its
    # custom attributes are registered (SolverMuJoCo.register_custom_attributes(builder)).
    physics_scene.GetPrim().CreateAttribute("mjc:flag:multiccd", Sdf.ValueTypeNames.Bool, custom=True).Set(True)

    _set_role(UsdGeom.Xform.Define(stage, "/World/Background").GetPrim(), "background")
    write_splat_prim(stage, "/World/Background/Gaussians", scene.background)

    UsdGeom.Scope.Define(stage, "/World/PhysicsMaterials")
    if len(scene.support_vertices):
        support = _define_mesh(stage, "/World/Support", scene.support_vertices, scene.support_faces)
        UsdPhysics.CollisionAPI.Apply(support.GetPrim())
        UsdPhysics.MeshCollisionAPI.Apply(support.GetPrim()).CreateApproximationAttr().Set(UsdPhysics.Tokens.none)
        _bind_physics_material(stage, support.GetPrim(), "Support", scene.support_friction)

    UsdGeom.Xform.Define(stage, "/World/Objects")
    for obj in scene.objects:
        root = UsdGeom.Xform.Define(stage, f"/World/Objects/{obj.name}")
        _set_pose(root, obj.world_from_body)
        prim = root.GetPrim()
        _set_role(prim, obj.role)
        UsdPhysics.RigidBodyAPI.Apply(prim)
        mass_api = UsdPhysics.MassAPI.Apply(prim)
        mass_api.CreateMassAttr().Set(float(obj.mass))
        mass_api.CreateCenterOfMassAttr().Set(Gf.Vec3f(0.0, 0.0, 0.0))
        inertia, axes_wxyz = solid_hull_inertia(obj.collision_vertices, obj.collision_faces, obj.mass)
        mass_api.CreateDiagonalInertiaAttr().Set(Gf.Vec3f(*map(float, inertia)))
        mass_api.CreatePrincipalAxesAttr().Set(Gf.Quatf(*map(float, axes_wxyz)))
        write_splat_prim(stage, f"/World/Objects/{obj.name}/Gaussians", obj.splats)
        hull = _define_mesh(stage, f"/World/Objects/{obj.name}/Collision", obj.collision_vertices, obj.collision_faces)
        UsdPhysics.CollisionAPI.Apply(hull.GetPrim())
        UsdPhysics.MeshCollisionAPI.Apply(hull.GetPrim()).CreateApproximationAttr().Set(UsdPhysics.Tokens.convexHull)
        _bind_physics_material(stage, hull.GetPrim(), obj.name, obj.friction)

    robot = UsdGeom.Xform.Define(stage, "/World/RobotBase")
    _set_pose(robot, scene.robot_base)
    return stage


def _set_role(prim, role: str) -> None:
    from pxr import Sdf

    prim.CreateAttribute(ROLE_ATTR, Sdf.ValueTypeNames.Token, custom=True).Set(role)


def _define_mesh(stage, prim_path: str, vertices: np.ndarray, faces: np.ndarray):
    from pxr import UsdGeom, Vt

    mesh = UsdGeom.Mesh.Define(stage, prim_path)
    v = np.ascontiguousarray(vertices, dtype=np.float32)
    f = np.ascontiguousarray(faces, dtype=np.int32)
    mesh.CreatePointsAttr().Set(Vt.Vec3fArray.FromNumpy(v))
    mesh.CreateFaceVertexCountsAttr().Set(Vt.IntArray.FromNumpy(np.full(len(f), 3, dtype=np.int32)))
    mesh.CreateFaceVertexIndicesAttr().Set(Vt.IntArray.FromNumpy(f.reshape(-1)))
    mesh.CreateExtentAttr().Set(Vt.Vec3fArray.FromNumpy(np.stack([v.min(0), v.max(0)])))
    mesh.CreateSubdivisionSchemeAttr().Set(UsdGeom.Tokens.none)
    mesh.CreatePurposeAttr().Set(UsdGeom.Tokens.guide)  # collision proxy: renderers skip it
    return mesh


def _bind_physics_material(stage, prim, name: str, friction: float) -> None:
    from pxr import UsdPhysics, UsdShade

    material = UsdShade.Material.Define(stage, f"/World/PhysicsMaterials/{name}")
    api = UsdPhysics.MaterialAPI.Apply(material.GetPrim())
    api.CreateStaticFrictionAttr().Set(float(friction))
    api.CreateDynamicFrictionAttr().Set(float(friction))
    api.CreateRestitutionAttr().Set(0.0)
    UsdShade.MaterialBindingAPI.Apply(prim).Bind(
        material, UsdShade.Tokens.weakerThanDescendants, "physics"
    )


def _set_pose(xformable, world_from_local: torch.Tensor) -> None:
    """translate + orient ops (double precision) from a rigid (4,4) transform."""
    from pxr import Gf, UsdGeom

    from gwm.geometry import rotmat_to_quat

    m = torch.as_tensor(world_from_local, dtype=torch.float64)
    q = rotmat_to_quat(m[:3, :3])
    xformable.ClearXformOpOrder()
    xformable.AddTranslateOp().Set(Gf.Vec3d(*map(float, m[:3, 3])))
    xformable.AddOrientOp(precision=UsdGeom.XformOp.PrecisionDouble).Set(Gf.Quatd(*map(float, q)))


def solid_hull_inertia(vertices: np.ndarray, faces: np.ndarray, mass: float) -> tuple[np.ndarray, np.ndarray]:
    """Principal moments (3,) and principal axes (w,x,y,z) of a uniform solid hull of the given mass,
    about the body origin (the centre of mass). Falls back to the vertices' bounding box
    (at least 1 mm thick) when the hull has no volume."""
    import trimesh

    from gwm.geometry import rotmat_to_quat

    v = np.asarray(vertices, dtype=np.float64)
    mesh = trimesh.Trimesh(v, np.asarray(faces), process=False)
    if mesh.is_volume and mesh.volume > 1e-12:
        # trimesh: inertia about the mesh's own centre of mass for density 1; shift to the origin.
        tensor = mesh.moment_inertia * (mass / mesh.volume)
        c = mesh.center_mass
        tensor = tensor + mass * (np.dot(c, c) * np.eye(3) - np.outer(c, c))
    else:
        size = np.maximum(v.max(0) - v.min(0), 1e-3)
        tensor = np.diag(mass / 12.0 * (size[[1, 0, 0]] ** 2 + size[[2, 2, 1]] ** 2))
    moments, axes = np.linalg.eigh(tensor)
    if np.linalg.det(axes) < 0:
        axes[:, 2] *= -1
    q = rotmat_to_quat(torch.from_numpy(axes)).numpy()
    return moments, q


def copy_usd(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Re-save a scene under another USD extension (e.g. .usdz -> .usda for reading by eye)."""
    scene = read_usd_scene(src)
    return export_usd(scene, dst)


__all__ = ["export_usd", "write_splat_prim", "splat_extent",
           "solid_hull_inertia", "copy_usd"]

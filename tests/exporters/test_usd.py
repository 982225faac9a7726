import numpy as np
import pytest
import torch

from exporters.usd import export_usd, solid_hull_inertia, write_splat_prim
from gwm.scene.usd_scene import read_splat_prim, read_usd_scene
from tests.exporters.helpers import assert_splats_equal, random_splats, validation_errors

pxr = pytest.importorskip("pxr")
from pxr import Gf, Usd, UsdGeom, UsdPhysics, UsdShade, UsdVol  # noqa: E402


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_splat_prim_round_trip(degree, tmp_path):
    s = random_splats(degree=degree)
    stage = Usd.Stage.CreateNew(str(tmp_path / "s.usda"))
    write_splat_prim(stage, "/G", s)
    stage.GetRootLayer().Save()
    reopened = Usd.Stage.Open(str(tmp_path / "s.usda"))
    back = read_splat_prim(reopened.GetPrimAtPath("/G"))
    assert_splats_equal(back, s)
    assert back.sh_degree == degree


def test_splat_prim_attribute_layout(tmp_path):
    """The raw USD values follow the schema: quatf w-first in Gf, linear scales/opacities,
    SH grouped per particle with the DC term first (PLY's channel-major f_rest transposed)."""
    s = random_splats(n=5, degree=3)
    stage = Usd.Stage.CreateInMemory()
    field = write_splat_prim(stage, "/G", s)
    q = field.GetOrientationsAttr().Get()[2]
    unit = s.unit_quats_wxyz[2]
    assert isinstance(q, Gf.Quatf)
    assert q.GetReal() == pytest.approx(float(unit[0]), abs=1e-6)
    np.testing.assert_allclose(list(q.GetImaginary()), unit[1:].numpy(), atol=1e-6)
    np.testing.assert_allclose(field.GetScalesAttr().Get()[2], s.scales[2].numpy(), rtol=1e-6)
    assert field.GetOpacitiesAttr().Get()[2] == pytest.approx(float(s.opacities[2]), abs=1e-7)
    coeffs = field.GetRadianceSphericalHarmonicsCoefficientsAttr()
    assert field.GetRadianceSphericalHarmonicsDegreeAttr().Get() == 3
    assert coeffs.GetMetadata("elementSize") == 16
    values = coeffs.Get()
    assert len(values) == 5 * 16
    # particle 2, coefficient 5 (degree-2 band), all three channels
    np.testing.assert_allclose(values[2 * 16 + 5], s.sh[2, 5].numpy(), atol=1e-7)
    np.testing.assert_allclose(values[2 * 16 + 0], s.sh[2, 0].numpy(), atol=1e-7)
    ext = np.asarray(field.GetExtentAttr().Get())
    assert np.all(ext[0] <= s.means.numpy().min(0)) and np.all(ext[1] >= s.means.numpy().max(0))


@pytest.mark.parametrize("suffix", [".usdz", ".usdc"])  # .usda: same code, slow text; see test_splat_prim_round_trip
def test_scene_round_trip(assembled, tmp_path, suffix):
    path = export_usd(assembled, tmp_path / f"scene{suffix}")
    back = read_usd_scene(path)
    assert_splats_equal(back.background, assembled.background)
    assert back.object_names == assembled.object_names
    for a, b in zip(back.objects, assembled.objects):
        torch.testing.assert_close(a.world_from_body, b.world_from_body, atol=1e-12, rtol=0)
        assert a.mass == pytest.approx(b.mass, rel=1e-7)
        assert a.friction == pytest.approx(b.friction, rel=1e-6)
        np.testing.assert_array_equal(a.collision_vertices, b.collision_vertices)
        np.testing.assert_array_equal(a.collision_faces, b.collision_faces)
        assert_splats_equal(a.splats, b.splats)
        assert a.role == b.role
    np.testing.assert_array_equal(back.support_vertices, assembled.support_vertices)
    np.testing.assert_array_equal(back.support_faces, assembled.support_faces)
    torch.testing.assert_close(back.robot_base, assembled.robot_base, atol=1e-12, rtol=0)
    assert back.support_friction == pytest.approx(assembled.support_friction, rel=1e-6)
    assert back.metadata == assembled.metadata
    assert validation_errors(path) == []


def test_roles_round_trip_and_stages_without_roles_read_as_objects(assembled, tmp_path):
    import dataclasses

    scene = dataclasses.replace(assembled, objects=[dataclasses.replace(o, role=r) for o, r in
                                                    zip(assembled.objects, ["container", "object", "container"])])
    path = export_usd(scene, tmp_path / "roles.usdc")
    assert [o.role for o in read_usd_scene(path).objects] == ["container", "object", "container"]
    stage = Usd.Stage.Open(str(path))
    assert stage.GetPrimAtPath("/World/Background").GetAttribute("gwm:role").Get() == "background"
    for prim in stage.GetPrimAtPath("/World/Objects").GetChildren():  # a stage written before roles
        prim.RemoveProperty("gwm:role")
    stage.GetRootLayer().Save()
    assert [o.role for o in read_usd_scene(path).objects] == ["object"] * 3
    with pytest.raises(ValueError, match="role 'robot_link' is not one of 'object', 'container'"):
        dataclasses.replace(assembled.objects[0], role="robot_link")


def test_usdz_structure_units_and_physics(assembled, tmp_path):
    path = export_usd(assembled, tmp_path / "scene.usdz")
    stage = Usd.Stage.Open(str(path))
    assert UsdGeom.GetStageUpAxis(stage) == "Z"
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert UsdPhysics.GetStageKilogramsPerUnit(stage) == 1.0
    assert stage.GetDefaultPrim().GetPath() == "/World"
    scene = UsdPhysics.Scene(stage.GetPrimAtPath("/World/PhysicsScene"))
    assert tuple(scene.GetGravityDirectionAttr().Get()) == (0, 0, -1)
    assert scene.GetGravityMagnitudeAttr().Get() == pytest.approx(9.81)

    bg = stage.GetPrimAtPath("/World/Background/Gaussians")
    assert bg.IsA(UsdVol.ParticleField3DGaussianSplat)
    support = stage.GetPrimAtPath("/World/Support")
    assert support.IsA(UsdGeom.Mesh) and support.HasAPI(UsdPhysics.CollisionAPI)
    assert not support.HasAPI(UsdPhysics.RigidBodyAPI)  # static collider
    assert UsdPhysics.MeshCollisionAPI(support).GetApproximationAttr().Get() == "none"
    assert UsdGeom.Imageable(support).ComputePurpose() == UsdGeom.Tokens.guide

    for obj in assembled.objects:
        root = stage.GetPrimAtPath(f"/World/Objects/{obj.name}")
        assert root.IsA(UsdGeom.Xform)
        assert root.HasAPI(UsdPhysics.RigidBodyAPI) and root.HasAPI(UsdPhysics.MassAPI)
        mass = UsdPhysics.MassAPI(root)
        assert mass.GetMassAttr().Get() == pytest.approx(obj.mass)
        assert tuple(mass.GetCenterOfMassAttr().Get()) == (0, 0, 0)
        assert min(mass.GetDiagonalInertiaAttr().Get()) > 0
        m = np.array(UsdGeom.Xformable(root).ComputeLocalToWorldTransform(Usd.TimeCode.Default())).T
        np.testing.assert_allclose(m, obj.world_from_body.numpy(), atol=1e-12)

        gauss = stage.GetPrimAtPath(f"/World/Objects/{obj.name}/Gaussians")
        assert gauss.IsA(UsdVol.ParticleField3DGaussianSplat)
        ext = np.asarray(UsdVol.ParticleField3DGaussianSplat(gauss).GetExtentAttr().Get())
        means = obj.splats.means.numpy()
        assert np.all(ext[0] <= means.min(0)) and np.all(ext[1] >= means.max(0))
        assert np.all(ext[1] - ext[0] < 0.3)  # body frame: an object-sized box around the origin

        col = stage.GetPrimAtPath(f"/World/Objects/{obj.name}/Collision")
        assert col.IsA(UsdGeom.Mesh) and col.HasAPI(UsdPhysics.CollisionAPI)
        assert UsdPhysics.MeshCollisionAPI(col).GetApproximationAttr().Get() == "convexHull"
        assert UsdGeom.Imageable(col).ComputePurpose() == UsdGeom.Tokens.guide
        material, _ = UsdShade.MaterialBindingAPI(col).ComputeBoundMaterial("physics")
        api = UsdPhysics.MaterialAPI(material.GetPrim())
        assert api.GetStaticFrictionAttr().Get() == pytest.approx(obj.friction)
        assert api.GetDynamicFrictionAttr().Get() == pytest.approx(obj.friction)
    robot = stage.GetPrimAtPath("/World/RobotBase")
    assert robot.IsA(UsdGeom.Xform) and not robot.GetChildren()
    gwm = stage.GetRootLayer().customLayerData["gwm"]
    assert gwm["format_version"] == 1 and "normalisation" in gwm["metadata_json"]


def test_hull_inertia_matches_a_box():
    import trimesh

    box = trimesh.creation.box(extents=[0.1, 0.2, 0.3])
    moments, q = solid_hull_inertia(box.vertices, box.faces, mass=2.0)
    expected = 2.0 / 12 * np.array([0.2**2 + 0.3**2, 0.1**2 + 0.3**2, 0.1**2 + 0.2**2])
    np.testing.assert_allclose(np.sort(moments), np.sort(expected), rtol=1e-9)
    assert np.linalg.norm(q) == pytest.approx(1.0)


def test_bad_paths(tmp_path, assembled):
    with pytest.raises(ValueError, match="unknown USD extension"):
        export_usd(assembled, tmp_path / "scene.obj")
    with pytest.raises(FileNotFoundError, match="gwm export usd"):
        read_usd_scene(tmp_path / "nope.usdz")
    stage = Usd.Stage.CreateNew(str(tmp_path / "plain.usda"))
    UsdGeom.SetStageUpAxis(stage, "Z")
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    stage.GetRootLayer().Save()
    with pytest.raises(ValueError, match="not written by export_usd"):
        read_usd_scene(tmp_path / "plain.usda")

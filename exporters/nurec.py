"""NuRec USDZ for Isaac Sim 5.0-6.0 (the layout NVIDIA's 3DGRUT writes; see FACTS.md).

Package (uncompressed zip, entries 64-byte aligned, default.usda first):
  default.usda   Z up, metersPerUnit 1, defaultPrim /World; /World/gauss references gauss.usda
  gauss.usda     /World/gauss: UsdVol.Volume with omni:nurec:isNuRecVolume, offset, crop bounds,
                 extent, field:density / field:emissiveColor -> OmniNuRecFieldAsset children whose
                 filePath is ./<name>.nurec, and rel proxy -> /World/mesh;
                 /World/mesh references mesh.usda (collision proxy)
  mesh.usda      /mesh: Mesh with CollisionAPI + MeshCollisionAPI "none" (support + object hulls, world)
  <name>.nurec   gzip(msgpack(template)) with float16 tensors under
                 nre_data.state_dict[".gaussians_nodes.gaussians.<field>"] (raw bytes + "<field>.shape"):
                 positions (N,3), rotations (N,4) w-first unit, scales (N,3) log, densities (N,1)
                 logit, features_albedo (N,3) SH DC, features_specular (N,3(K-1)) higher SH bands
                 coefficient-major (k0 rgb, k1 rgb, ...), extra_signal (N,0), n_active_features int64.

NuRec volumes are static: movable objects are baked in at their initial pose. For bodies that
move in Isaac Sim, use the USD export (ParticleField3DGaussianSplat, Isaac Sim 6).
"""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from gwm.atomic_io import atomic_write_path
from gwm.geometry import normalize_quats
from gwm.scene.asset import SceneAsset
from gwm.sh import num_sh_bases, sh_degree_from_bases
from gwm.splats import GaussianSplats

NUREC_DATA_VERSION = "0.2.576"  # nre_data.version 3DGRUT writes
_PREFIX = ".gaussians_nodes.gaussians."
_TENSORS = ("positions", "rotations", "scales", "densities", "features_albedo", "features_specular", "extra_signal")
# Renderer settings 3DGRUT puts in customLayerData so Isaac Sim shows the reconstruction as captured.
RENDER_SETTINGS = {
    "rtx:rendermode": "RaytracedLighting",
    "rtx:directLighting:sampledLighting:samplesPerPixel": 8,
    "rtx:post:histogram:enabled": False,
    "rtx:post:registeredCompositing:invertToneMap": True,
    "rtx:post:registeredCompositing:invertColorCorrection": True,
    "rtx:material:enableRefraction": False,
    "rtx:post:tonemap:op": 2,
    "rtx:raytracing:fractionalCutoutOpacity": False,
    "rtx:matteObject:visibility:secondaryRays": True,
}


def nurec_payload(splats: GaussianSplats) -> dict:
    """The msgpack-able NuRec template (3DGUT renderer settings, float16 tensors)."""
    s = splats.detach().to("cpu", torch.float32)
    s.assert_finite("nurec export")
    n, k = len(s), s.sh.shape[1]
    tensors = {
        "positions": s.means.numpy(),
        "rotations": normalize_quats(s.quats_wxyz).numpy(),
        "scales": s.log_scales.numpy(),
        "densities": s.logit_opacities.numpy()[:, None],
        "features_albedo": s.sh[:, 0, :].numpy(),
        "features_specular": s.sh[:, 1:, :].reshape(n, 3 * (k - 1)).numpy(),
        "extra_signal": np.zeros((n, 0), dtype=np.float32),
    }
    state = {"._extra_state": {"obj_track_ids": {"gaussians": []}}}
    for name, a in tensors.items():
        a16 = np.ascontiguousarray(a, dtype=np.float16)
        state[_PREFIX + name] = a16.tobytes()
        state[_PREFIX + name + ".shape"] = list(a16.shape)
    state[_PREFIX + "n_active_features"] = np.array([s.sh_degree], dtype=np.int64).tobytes()
    state[_PREFIX + "n_active_features.shape"] = []
    config = {
        "layers": {"gaussians": {
            "name": "sh-gaussians", "device": "cuda", "density_activation": "sigmoid",
            "scale_activation": "exp", "rotation_activation": "normalize", "precision": 16,
            "particle": {"density_kernel_planar": False, "density_kernel_degree": 2,
                         "density_kernel_density_clamping": False, "density_kernel_min_response": 0.0113,
                         "radiance_sph_degree": s.sh_degree},
            "transmittance_threshold": 0.001,
        }},
        "renderer": {
            "name": "3dgut-nrend", "log_level": 3, "force_update": False, "update_step_train_batch_end": False,
            "per_ray_features": False, "global_z_order": False,
            "projection": {"n_rolling_shutter_iterations": 5, "ut_dim": 3, "ut_alpha": 1.0, "ut_beta": 2.0,
                           "ut_kappa": 0.0, "ut_require_all_sigma_points": False, "image_margin_factor": 0.1,
                           "min_projected_ray_radius": 0.5477225575051661},
            "culling": {"rect_bounding": True, "tight_opacity_bounding": True, "tile_based": True,
                        "near_clip_distance": 1e-8, "far_clip_distance": 3.402823466e38},
            "render": {"mode": "kbuffer", "k_buffer_size": 0},
        },
        "name": "gaussians_primitive",
        "appearance_embedding": {"name": "skip-appearance", "embedding_dim": 0, "device": "cuda"},
        "background": {"name": "skip-background", "device": "cuda", "composite_in_linear_space": False},
    }
    return {"nre_data": {"version": NUREC_DATA_VERSION, "model": "nre", "config": config, "state_dict": state}}


def encode_nurec(splats: GaussianSplats) -> bytes:
    import msgpack

    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=0, mtime=0) as f:
        f.write(msgpack.packb(nurec_payload(splats)))
    return buf.getvalue()


def decode_nurec(data: bytes) -> GaussianSplats:
    """Inverse of encode_nurec (float16 precision): .nurec bytes -> GaussianSplats."""
    import msgpack

    try:
        payload = msgpack.unpackb(gzip.decompress(data), strict_map_key=False)
        state = payload["nre_data"]["state_dict"]
    except Exception as e:  # gzip, msgpack and key errors all mean the same thing here
        raise ValueError(f"not a NuRec payload (gzip(msgpack) with nre_data.state_dict): {e}") from e

    def tensor(name):
        shape = tuple(state[_PREFIX + name + ".shape"])
        return torch.from_numpy(np.frombuffer(state[_PREFIX + name], dtype=np.float16).astype(np.float32).reshape(shape))

    degree = int(np.frombuffer(state[_PREFIX + "n_active_features"], dtype=np.int64)[0])
    albedo, spec = tensor("features_albedo"), tensor("features_specular")
    n = albedo.shape[0]
    sh = torch.cat([albedo[:, None, :], spec.reshape(n, -1, 3)], dim=1)
    sh_degree_from_bases(sh.shape[1])
    if sh.shape[1] != num_sh_bases(degree):
        sh = sh[:, : num_sh_bases(degree)]
    return GaussianSplats(means=tensor("positions"), quats_wxyz=tensor("rotations"), log_scales=tensor("scales"),
                          logit_opacities=tensor("densities")[:, 0], sh=sh)


def export_nurec(source: SceneAsset | GaussianSplats, path: str | os.PathLike, *,
                 include_objects: bool = True) -> Path:
    """Write a NuRec .usdz. A SceneAsset gives its world splats (objects baked at their initial
    pose unless include_objects=False) and a collision proxy of support + object hulls."""
    path = Path(path)
    if path.suffix.lower() != ".usdz":
        raise ValueError(f"{path}: NuRec packages are .usdz; change the extension")
    if isinstance(source, SceneAsset):
        splats = source.world_splats() if include_objects else source.background
        verts, faces = _proxy_mesh(source, include_objects)
    else:
        splats, verts, faces = source, np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32)
    name = _safe_stem(path.stem)
    model_file = f"{name}.nurec"
    entries = [
        ("default.usda", _default_layer()),
        (model_file, encode_nurec(splats)),
        ("gauss.usda", _gauss_layer(splats, model_file, has_proxy=len(faces) > 0)),
    ]
    if len(faces):
        entries.append(("mesh.usda", _mesh_layer(verts, faces)))
    with atomic_write_path(path) as tmp:
        write_aligned_zip(tmp, entries)
    return path


def read_nurec(path: str | os.PathLike) -> GaussianSplats:
    """The Gaussians stored in a NuRec .usdz (the .nurec the density field points at)."""
    path = Path(path)
    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n.endswith(".nurec")]
        if not names:
            raise ValueError(f"{path}: no .nurec file inside; not a NuRec package")
        return decode_nurec(z.read(names[0]))


def write_aligned_zip(path: Path, entries: list[tuple[str, bytes]], align: int = 64) -> None:
    """Uncompressed zip whose file data start at multiples of `align` bytes (the USDZ rule)."""
    with open(path, "wb") as raw, zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            header_end = raw.tell() + 30 + len(name.encode())
            pad = (-(header_end + 4)) % align  # extra field: 2-byte id + 2-byte size + padding
            info.extra = b"\x00\x00" + pad.to_bytes(2, "little") + b"\x00" * pad
            z.writestr(info, data)


# layers ----------------------------------------------------------------------------------
def _new_stage():
    """(layer, stage): we own the layer so it outlives the stage (see _layer_text)."""
    from pxr import Sdf, Usd, UsdGeom

    layer = Sdf.Layer.CreateAnonymous(".usda")
    stage = Usd.Stage.Open(layer)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    world = UsdGeom.Xform.Define(stage, "/World")
    stage.SetDefaultPrim(world.GetPrim())
    return layer, stage


def _layer_text(layer, references: dict[str, str] | None = None) -> bytes:
    """A root layer as .usda text, plus `over` prims referencing sibling files.

    Callers drop their stage first: the referenced files exist only inside the package, so
    composing the references here would only print warnings.
    """
    from pxr import Sdf

    for prim_path, asset in (references or {}).items():
        spec = Sdf.CreatePrimInLayer(layer, prim_path)
        spec.specifier = Sdf.SpecifierOver
        spec.referenceList.Prepend(Sdf.Reference(asset))
    return layer.ExportToString().encode()


def _default_layer() -> bytes:
    layer, stage = _new_stage()
    stage.SetMetadataByDictKey("customLayerData", "renderSettings", RENDER_SETTINGS)
    del stage
    return _layer_text(layer, {"/World/gauss": "gauss.usda"})


def _gauss_layer(splats: GaussianSplats, model_file: str, has_proxy: bool) -> bytes:
    from pxr import Gf, Sdf, UsdVol

    from exporters.usd import splat_extent

    layer, stage = _new_stage()
    stage.SetMetadataByDictKey("customLayerData", "renderSettings", RENDER_SETTINGS)
    volume = UsdVol.Volume.Define(stage, "/World/gauss")
    prim = volume.GetPrim()
    prim.CreateAttribute("omni:nurec:isNuRecVolume", Sdf.ValueTypeNames.Bool).Set(True)
    prim.CreateAttribute("omni:nurec:useProxyTransform", Sdf.ValueTypeNames.Bool).Set(False)
    for field, data_type in (("density", "float"), ("emissiveColor", "float3")):
        field_path = "/World/gauss/" + ("density_field" if field == "density" else "emissive_color_field")
        asset = stage.DefinePrim(field_path, "OmniNuRecFieldAsset")
        volume.CreateFieldRelationship(field, field_path)
        asset.CreateAttribute("filePath", Sdf.ValueTypeNames.Asset).Set(Sdf.AssetPath("./" + model_file))
        asset.CreateAttribute("fieldName", Sdf.ValueTypeNames.Token).Set(field)
        asset.CreateAttribute("fieldDataType", Sdf.ValueTypeNames.Token).Set(data_type)
        asset.CreateAttribute("fieldRole", Sdf.ValueTypeNames.Token).Set(field)
        if field == "emissiveColor":  # identity colour-correction matrix
            for row, vec in zip("RGB", np.eye(3)):
                asset.CreateAttribute(f"omni:nurec:ccm{row}", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*vec, 0.0))
    if len(splats):
        means = splats.means.detach().cpu().numpy()
        lo, hi = means.min(0), means.max(0)
    else:
        lo = hi = np.zeros(3)
    extent = splat_extent(splats) if len(splats) else np.zeros((2, 3), np.float32)
    volume.CreateExtentAttr().Set([Gf.Vec3f(*map(float, extent[0])), Gf.Vec3f(*map(float, extent[1]))])
    prim.CreateAttribute("omni:nurec:offset", Sdf.ValueTypeNames.Float3).Set(Gf.Vec3f(0.0, 0.0, 0.0))
    prim.CreateAttribute("omni:nurec:crop:minBounds", Sdf.ValueTypeNames.Float3).Set(Gf.Vec3f(*map(float, lo)))
    prim.CreateAttribute("omni:nurec:crop:maxBounds", Sdf.ValueTypeNames.Float3).Set(Gf.Vec3f(*map(float, hi)))
    proxy = prim.CreateRelationship("proxy")
    if has_proxy:
        proxy.SetTargets([Sdf.Path("/World/mesh")])
    del stage, volume, prim, proxy
    return _layer_text(layer, {"/World/mesh": "mesh.usda"} if has_proxy else None)


def _mesh_layer(verts: np.ndarray, faces: np.ndarray) -> bytes:
    from pxr import Usd, UsdGeom, UsdPhysics, Vt

    stage = Usd.Stage.CreateInMemory()
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    mesh = UsdGeom.Mesh.Define(stage, "/mesh")
    stage.SetDefaultPrim(mesh.GetPrim())
    mesh.CreatePointsAttr().Set(Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(verts, np.float32)))
    mesh.CreateFaceVertexCountsAttr().Set(Vt.IntArray.FromNumpy(np.full(len(faces), 3, np.int32)))
    mesh.CreateFaceVertexIndicesAttr().Set(Vt.IntArray.FromNumpy(np.ascontiguousarray(faces, np.int32).reshape(-1)))
    mesh.CreateExtentAttr().Set(Vt.Vec3fArray.FromNumpy(np.stack([verts.min(0), verts.max(0)]).astype(np.float32)))
    mesh.CreateSubdivisionSchemeAttr().Set(UsdGeom.Tokens.none)
    mesh.CreatePurposeAttr().Set(UsdGeom.Tokens.guide)
    UsdPhysics.CollisionAPI.Apply(mesh.GetPrim()).CreateCollisionEnabledAttr(True)
    UsdPhysics.MeshCollisionAPI.Apply(mesh.GetPrim()).CreateApproximationAttr().Set(UsdPhysics.Tokens.none)
    return _layer_text(stage.GetRootLayer())


def _proxy_mesh(scene: SceneAsset, include_objects: bool) -> tuple[np.ndarray, np.ndarray]:
    verts, faces, offset = [scene.support_vertices], [scene.support_faces], len(scene.support_vertices)
    for obj in scene.objects if include_objects else []:
        m = obj.world_from_body.double().numpy()
        verts.append((obj.collision_vertices.astype(np.float64) @ m[:3, :3].T + m[:3, 3]).astype(np.float32))
        faces.append(obj.collision_faces + offset)
        offset += len(obj.collision_vertices)
    return np.concatenate(verts).reshape(-1, 3), np.concatenate(faces).reshape(-1, 3).astype(np.int32)


def _safe_stem(stem: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in stem)
    return cleaned or "scene"


__all__ = ["export_nurec", "read_nurec", "encode_nurec", "decode_nurec", "nurec_payload", "write_aligned_zip",
           "RENDER_SETTINGS", "NUREC_DATA_VERSION"]

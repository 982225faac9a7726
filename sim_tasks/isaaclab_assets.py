"""Per-environment USD assets for Isaac Lab, cut from the project's exported scene USD.

Isaac Lab clones what it spawns under every `/World/envs/env_<i>`. Referencing the whole exported
stage there would put its `/World/PhysicsScene` (a stage-global prim) inside every environment.
`write_isaaclab_scene_assets(scene_usd, out_dir)` writes instead one small layer per spawned part:

    support.usda        the static support mesh (CollisionAPI) with its physics material
    objects/<name>.usda one rigid body per scene object (RigidBodyAPI, MassAPI, collision hull,
                        physics material), posed at identity: the env's init_state / reset event
                        places it

Gaussians (splat prims) are left out by default: Isaac Lab's Newton backend does not render them,
and a reconstructed background holds millions. Only pxr is needed (runs in the main venv).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SUPPORT_PRIM = "/World/Support"
OBJECTS_ROOT = "/World/Objects"


@dataclass(frozen=True)
class IsaacLabSceneAssets:
    support_usd: str
    object_usds: dict  # name -> path

    def to_dict(self) -> dict:
        return {"support_usd": self.support_usd, "object_usds": dict(self.object_usds)}


def _copy_with_bindings(src_layer, src_path: str, dst_layer, dst_path: str, skip_gaussians: bool) -> None:
    """Copy one prim subtree and the physics materials it binds; rebind to the copies."""
    from pxr import Sdf

    Sdf.CopySpec(src_layer, Sdf.Path(src_path), dst_layer, Sdf.Path(dst_path))
    root = dst_layer.GetPrimAtPath(dst_path)
    material_root = Sdf.Path("/" + dst_path.strip("/").split("/")[0]).AppendChild("PhysicsMaterials")
    copied: dict[Sdf.Path, Sdf.Path] = {}

    def visit(spec):
        if skip_gaussians:
            splats = [c.path for c in spec.nameChildren if c.typeName == "ParticleField3DGaussianSplat"]
            if splats:
                dst_layer.Apply(Sdf.BatchNamespaceEdit([Sdf.NamespaceEdit.Remove(p) for p in splats]))
        for rel in spec.relationships:
            targets = list(rel.targetPathList.explicitItems) or list(rel.targetPathList.prependedItems)
            new_targets = []
            for t in targets:
                if t.HasPrefix(Sdf.Path(src_path)):  # inside the copied subtree
                    new_targets.append(t.ReplacePrefix(Sdf.Path(src_path), Sdf.Path(dst_path)))
                    continue
                # outside it: in exported scenes only physics-material bindings point out of a prim
                if t not in copied:
                    if dst_layer.GetPrimAtPath(material_root) is None:
                        Sdf.CreatePrimInLayer(dst_layer, material_root).specifier = Sdf.SpecifierDef
                        dst_layer.GetPrimAtPath(material_root).typeName = "Scope"
                    copied[t] = material_root.AppendChild(t.name)
                    Sdf.CopySpec(src_layer, t, dst_layer, copied[t])
                new_targets.append(copied[t])
            rel.targetPathList.ClearEditsAndMakeExplicit()
            rel.targetPathList.explicitItems = new_targets
        for child in spec.nameChildren:
            visit(child)

    visit(root)


def _new_layer(default_prim: str, up_axis: str, meters_per_unit: float):
    from pxr import Sdf

    layer = Sdf.Layer.CreateAnonymous(".usda")
    layer.defaultPrim = default_prim
    layer.pseudoRoot.SetInfo("upAxis", up_axis)
    layer.pseudoRoot.SetInfo("metersPerUnit", meters_per_unit)
    return layer


def _save(layer, path: Path) -> str:
    from gwm.atomic_io import write_text_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, layer.ExportToString())
    return str(path.resolve())


def write_isaaclab_scene_assets(scene_usd: str | os.PathLike, out_dir: str | os.PathLike,
                                include_gaussians: bool = False) -> IsaacLabSceneAssets:
    """Write support.usda and objects/<name>.usda (see module doc); returns their paths."""
    from pxr import Sdf, Usd, UsdGeom

    stage = Usd.Stage.Open(str(scene_usd))
    if stage is None:
        raise FileNotFoundError(f"{scene_usd}: cannot open the scene USD; export it with `gwm scene export`")
    support = stage.GetPrimAtPath(SUPPORT_PRIM)
    objects = stage.GetPrimAtPath(OBJECTS_ROOT)
    if not support.IsValid() or not objects.IsValid():
        raise ValueError(f"{scene_usd}: no {SUPPORT_PRIM} or {OBJECTS_ROOT}; it is not a scene exported by "
                         "exporters.usd.export_usd (re-export it)")
    flat = stage.Flatten()
    up_axis, mpu = UsdGeom.GetStageUpAxis(stage), UsdGeom.GetStageMetersPerUnit(stage)
    out_dir = Path(out_dir)

    layer = _new_layer("Support", up_axis, mpu)
    root = Sdf.CreatePrimInLayer(layer, "/Support")
    root.specifier, root.typeName = Sdf.SpecifierDef, "Xform"
    _copy_with_bindings(flat, SUPPORT_PRIM, layer, "/Support/Mesh", skip_gaussians=not include_gaussians)
    support_usd = _save(layer, out_dir / "support.usda")

    object_usds = {}
    for prim in objects.GetChildren():
        name = prim.GetName()
        layer = _new_layer(name, up_axis, mpu)
        _copy_with_bindings(flat, str(prim.GetPath()), layer, f"/{name}", skip_gaussians=not include_gaussians)
        spec = layer.GetPrimAtPath(f"/{name}")
        # The pose comes from the env (init_state, reset event); the asset sits at its own origin.
        for attr in [a.name for a in spec.attributes if a.name.startswith("xformOp")]:  # incl. xformOpOrder
            spec.RemoveProperty(spec.attributes[attr])
        object_usds[name] = _save(layer, out_dir / "objects" / f"{name}.usda")
    return IsaacLabSceneAssets(support_usd, object_usds)


__all__ = ["IsaacLabSceneAssets", "OBJECTS_ROOT", "SUPPORT_PRIM", "write_isaaclab_scene_assets"]

"""Plain splat files for Unreal plugins and web viewers: INRIA PLY and Niantic SPZ.

Per scene this writes scene.<ext> (everything at its initial pose, world frame),
background.<ext>, and <object>.<ext> for each movable object posed in the world (so each
file lines up with the others in a viewer). Axes are our world's: metres, Z up.
SPZ is lossy (12-bit fixed-point positions ~0.24 mm, 8-bit colours/SH, smallest-three
quaternions) and written without axis conversion (gsply's default).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from gwm.atomic_io import atomic_write_path
from gwm.geometry import normalize_quats
from gwm.ply import write_ply
from gwm.scene.asset import SceneAsset
from gwm.splats import GaussianSplats

SPZ_FORMAT_VERSION = 3  # Niantic SPZ container version written (gzip, smallest-three quaternions)


def scene_parts(scene: SceneAsset) -> dict[str, GaussianSplats]:
    """{"scene": all, "background": ..., <object name>: world-posed object} (world frame)."""
    parts = {"scene": scene.world_splats(), "background": scene.background}
    for obj in scene.objects:
        parts[obj.name] = obj.world_splats()
    return parts


def export_ply(scene: SceneAsset, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write scene.ply, background.ply and <object>.ply (INRIA layout) into out_dir."""
    out = Path(out_dir)
    meta = _file_metadata(scene)
    return {name: write_ply(out / f"{name}.ply", s, metadata={**meta, "part": name})
            for name, s in scene_parts(scene).items()}


def export_spz(scene: SceneAsset, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write scene.spz, background.spz and <object>.spz into out_dir."""
    out = Path(out_dir)
    return {name: write_spz(out / f"{name}.spz", s) for name, s in scene_parts(scene).items()}


def write_spz(path: str | os.PathLike, splats: GaussianSplats) -> Path:
    """Write one splat as Niantic SPZ (via gsply), atomically."""
    import gsply

    path = Path(path)
    s = splats.detach().to("cpu", torch.float32)
    s.assert_finite(f"write_spz({path.name})")
    data = gsply.GSData(
        means=np.ascontiguousarray(s.means.numpy()),
        scales=np.ascontiguousarray(s.log_scales.numpy()),
        quats=np.ascontiguousarray(normalize_quats(s.quats_wxyz).numpy()),
        opacities=np.ascontiguousarray(s.logit_opacities.numpy()),
        sh0=np.ascontiguousarray(s.sh[:, 0, :].numpy()),
        shN=np.ascontiguousarray(s.sh[:, 1:, :].numpy()),
    )
    with atomic_write_path(path, keep_suffix=True) as tmp:
        gsply.write_spz(tmp, data, version=SPZ_FORMAT_VERSION)
    return path


def read_spz(path: str | os.PathLike) -> GaussianSplats:
    """Read an SPZ file (any container version gsply knows) into GaussianSplats."""
    import gsply

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such SPZ file")
    d = gsply.read_spz(path)
    n = len(d.means)
    sh_rest = np.asarray(d.shN, dtype=np.float32).reshape(n, -1, 3) if d.shN is not None else np.zeros((n, 0, 3))
    sh = np.concatenate([np.asarray(d.sh0, dtype=np.float32).reshape(n, 1, 3), sh_rest], axis=1)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    return GaussianSplats(means=t(d.means), quats_wxyz=t(d.quats), log_scales=t(d.scales),
                          logit_opacities=t(np.asarray(d.opacities).reshape(n)), sh=t(sh))


def _file_metadata(scene: SceneAsset) -> dict:
    md = scene.metadata
    return {k: md[k] for k in ("config", "normalisation", "source") if k in md}


__all__ = ["export_ply", "export_spz", "write_spz", "read_spz", "scene_parts", "SPZ_FORMAT_VERSION"]

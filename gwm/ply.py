"""INRIA 3DGS PLY read/write (the layout nerfstudio, SuperSplat and Unreal plugins use)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from plyfile import PlyData, PlyElement

from gwm.atomic_io import atomic_write_path
from gwm.sh import num_sh_bases, sh_degree_from_bases
from gwm.splats import GaussianSplats

PLY_FORMAT_VERSION = 1
_META_PREFIX = "gwm_meta "


def ply_property_names(sh_degree: int) -> list[str]:
    """Vertex properties in the exact INRIA order."""
    n_rest = 3 * (num_sh_bases(sh_degree) - 1)
    return (
        ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
        + [f"f_rest_{i}" for i in range(n_rest)]
        + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    )


def write_ply(path: str | os.PathLike, splats: GaussianSplats, metadata: dict | None = None) -> Path:
    """Write splats as binary little-endian float32 INRIA PLY, atomically (temp file + rename).

    metadata (format version, config, normalisation transform) goes in a PLY comment,
    which INRIA readers ignore.
    """
    path = Path(path)
    splats.assert_finite(f"write_ply({path.name})")
    s = splats.detach().to("cpu", torch.float32)
    n = len(s)
    k = s.sh.shape[1]
    # PLY f_rest is channel-major: all R coefficients (1..K-1), then G, then B.
    f_rest = s.sh[:, 1:, :].permute(0, 2, 1).reshape(n, 3 * (k - 1))
    columns = torch.cat(
        [s.means, torch.zeros(n, 3), s.sh[:, 0, :], f_rest, s.logit_opacities[:, None], s.log_scales, s.quats_wxyz],
        dim=1,
    ).numpy()
    names = ply_property_names(s.sh_degree)
    vertex = np.empty(n, dtype=[(name, "<f4") for name in names])
    for i, name in enumerate(names):
        vertex[name] = columns[:, i]
    meta = {"format": "gwm.splat.ply", "format_version": PLY_FORMAT_VERSION, **(metadata or {})}
    ply = PlyData([PlyElement.describe(vertex, "vertex")], text=False, byte_order="<",
                  comments=[_META_PREFIX + json.dumps(meta, separators=(",", ":"))])
    with atomic_write_path(path) as tmp:
        ply.write(str(tmp))
    return path


def read_ply(path: str | os.PathLike) -> GaussianSplats:
    """Read an INRIA-layout PLY; quaternions are returned as stored (normalise on use)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such PLY file")
    try:
        ply = PlyData.read(str(path))
    except Exception as e:  # plyfile raises several types for truncated or non-PLY input
        raise ValueError(f"{path}: not a readable PLY file ({e}); re-export it as binary PLY") from e
    if "vertex" not in ply:
        raise ValueError(f"{path}: PLY has no 'vertex' element; is this a Gaussian splat PLY?")
    v = ply["vertex"].data
    present = set(v.dtype.names)
    required = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    missing = [p for p in required if p not in present]
    if missing:
        raise ValueError(
            f"{path}: missing Gaussian properties {missing}; expected the INRIA 3DGS layout "
            "(export with 'ns-export gaussian-splat' or the original 3DGS trainer)"
        )
    rest = sorted((p for p in present if p.startswith("f_rest_")), key=lambda p: int(p[7:]))
    if rest != [f"f_rest_{i}" for i in range(len(rest))] or len(rest) % 3:
        raise ValueError(f"{path}: f_rest_* properties are not 0..3(K-1)-1 ({len(rest)} found)")
    try:
        degree = sh_degree_from_bases(1 + len(rest) // 3)
    except ValueError as e:
        raise ValueError(f"{path}: {len(rest)} f_rest properties is a wrong SH count: {e}") from e
    col = lambda names: torch.from_numpy(np.stack([np.asarray(v[p], dtype=np.float32) for p in names], 1))  # noqa: E731
    n, k = len(v), num_sh_bases(degree)
    sh = torch.empty(n, k, 3)
    sh[:, 0, :] = col(["f_dc_0", "f_dc_1", "f_dc_2"])
    if k > 1:
        sh[:, 1:, :] = col(rest).reshape(n, 3, k - 1).permute(0, 2, 1)
    splats = GaussianSplats(
        means=col(["x", "y", "z"]),
        quats_wxyz=col(["rot_0", "rot_1", "rot_2", "rot_3"]),
        log_scales=col(["scale_0", "scale_1", "scale_2"]),
        logit_opacities=col(["opacity"])[:, 0],
        sh=sh,
    )
    splats.assert_finite(str(path))
    if n and (splats.quats_wxyz.norm(dim=1) < 1e-12).any():
        raise ValueError(f"{path}: some rot_0..3 quaternions are all zero")
    return splats


def read_ply_metadata(path: str | os.PathLike) -> dict:
    """The metadata our writer stores in the PLY header ({} for PLYs from other tools)."""
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("ascii", errors="replace").strip()
            if line.startswith("comment " + _META_PREFIX):
                return json.loads(line[len("comment " + _META_PREFIX):])
            if line == "end_header":
                break
    return {}

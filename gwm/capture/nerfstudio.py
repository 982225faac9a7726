"""nerfstudio dataset files: transforms.json (OpenGL camera-to-world) and sparse_pc.ply.

Layout as nerfstudio's `colmap_to_json` writes it: w h fl_x fl_y cx cy k1 k2 p1 p2
camera_model "OPENCV", frames [{file_path, transform_matrix, colmap_im_id}],
applied_transform (3x4: the transform from the SfM frame to this file's frame; ours holds
the similarity, scale included) and ply_file_path. gwm adds `normalisation` (the same
transform as 4x4) and a `gwm` block (format version, resolved config, alignment, source).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from gwm.cameras import Cameras
from gwm.capture.config import CaptureError
from gwm.atomic_io import atomic_write_path, write_json_atomic
from gwm.geometry import opencv_to_opengl

def write_transforms(path: Path, image_names: list[str], world_from_cam: np.ndarray, K: np.ndarray,
                     width: int, height: int, distortion: dict, normalisation: np.ndarray,
                     gwm_meta: dict, colmap_image_ids: list[int] | None = None,
                     ply_file_path: str = "sparse_pc.ply", images_subdir: str = "images") -> None:
    """transforms.json for OpenCV world_from_cam (N,4,4) poses already in the output frame."""
    frames = []
    for i, name in enumerate(image_names):
        c2w_gl = opencv_to_opengl(np.asarray(world_from_cam[i], dtype=np.float64))
        frame = {"file_path": f"{images_subdir}/{name}", "transform_matrix": c2w_gl.tolist()}
        if colmap_image_ids is not None:
            frame["colmap_im_id"] = int(colmap_image_ids[i])
        frames.append(frame)
    n = np.asarray(normalisation, dtype=np.float64)
    data = {
        "w": int(width), "h": int(height),
        "fl_x": float(K[0, 0]), "fl_y": float(K[1, 1]), "cx": float(K[0, 2]), "cy": float(K[1, 2]),
        "k1": float(distortion.get("k1", 0.0)), "k2": float(distortion.get("k2", 0.0)),
        "p1": float(distortion.get("p1", 0.0)), "p2": float(distortion.get("p2", 0.0)),
        "camera_model": "OPENCV",
        "frames": frames,
        "applied_transform": n[:3].tolist(),
        "ply_file_path": ply_file_path,
        "normalisation": n.tolist(),
        "gwm": gwm_meta,
    }
    write_json_atomic(path, data, indent=2)


def read_transforms_cameras(path: str | Path) -> tuple[Cameras, list[Path], dict]:
    """Cameras (OpenCV), image paths and the file's other fields, with input checks.

    Accepts a transforms.json path or its folder. Raises CaptureError when images are
    missing, sizes are mixed, or fields are absent.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "transforms.json"
    if not path.is_file():
        raise CaptureError(f"{path}: no transforms.json here; point at a nerfstudio dataset folder or its transforms.json")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CaptureError(f"{path}: not valid JSON ({e}); re-export the dataset") from e
    frames = meta.get("frames") or []
    if not frames:
        raise CaptureError(f"{path}: no frames; the dataset registered no images (re-run SfM)")
    root = path.parent
    paths, Ks, poses, sizes = [], [], [], {}
    for f in frames:
        if "file_path" not in f or "transform_matrix" not in f:
            raise CaptureError(f"{path}: a frame lacks file_path or transform_matrix; re-export the dataset")
        p = Path(f["file_path"])
        paths.append(p if p.is_absolute() else root / p)
        try:
            fx, fy = float(f.get("fl_x", meta.get("fl_x"))), float(f.get("fl_y", meta.get("fl_y")))
            cx, cy = float(f.get("cx", meta.get("cx"))), float(f.get("cy", meta.get("cy")))
            w, h = int(f.get("w", meta.get("w"))), int(f.get("h", meta.get("h")))
        except (TypeError, ValueError) as e:
            raise CaptureError(f"{path}: intrinsics fl_x, fl_y, cx, cy, w, h missing for {f['file_path']}; "
                               "add them (globally or per frame) as nerfstudio's format requires") from e
        sizes.setdefault((w, h), []).append(f["file_path"])
        Ks.append([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        m = np.asarray(f["transform_matrix"], dtype=np.float64)
        poses.append(np.vstack([m, [0, 0, 0, 1]]) if m.shape == (3, 4) else m)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise CaptureError(
            f"{path}: {len(missing)} of {len(paths)} images it lists are missing (e.g. {missing[:3]}); "
            "file_path is relative to the transforms.json folder: copy the images there or fix file_path"
        )
    if len(sizes) > 1:
        listing = "; ".join(f"{w}x{h}: {len(v)}" for (w, h), v in sorted(sizes.items()))
        raise CaptureError(f"{path}: frames have mixed image sizes ({listing}); resize the images to one size "
                           "and update w, h and the intrinsics")
    (w, h), = sizes
    cams = Cameras.from_opengl(torch.tensor(Ks, dtype=torch.float64), torch.tensor(np.stack(poses)), w, h)
    return cams, paths, {k: v for k, v in meta.items() if k != "frames"}


def write_sparse_ply(path: Path, points: np.ndarray, colors: np.ndarray) -> None:
    """Binary PLY with x y z (float32) and red green blue (uchar), what nerfstudio reads."""
    from plyfile import PlyData, PlyElement

    v = np.empty(len(points), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"),
                                     ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    for i, k in enumerate("xyz"):
        v[k] = points[:, i]
    for i, k in enumerate(("red", "green", "blue")):
        v[k] = colors[:, i]
    with atomic_write_path(path) as tmp:
        PlyData([PlyElement.describe(v, "vertex")], text=False, byte_order="<").write(str(tmp))


def read_sparse_ply(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(P,3) float64 points and (P,3) uint8 colours (grey when the file has none)."""
    from plyfile import PlyData

    v = PlyData.read(str(path))["vertex"].data
    xyz = np.stack([v["x"], v["y"], v["z"]], axis=1).astype(np.float64)
    if {"red", "green", "blue"} <= set(v.dtype.names):
        rgb = np.stack([v["red"], v["green"], v["blue"]], axis=1).astype(np.uint8)
    else:
        rgb = np.full((len(xyz), 3), 128, np.uint8)
    return xyz, rgb

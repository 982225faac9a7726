"""Load a capture in nerfstudio layout: transforms.json + images + sparse_pc.ply.

transforms.json holds OpenGL camera-to-world matrices; they become OpenCV `Cameras` here.
Frames are sorted by file name (as nerfstudio does) so "every 8th frame held out" means
the same frames for both backends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gwm.cameras import Cameras

_DISTORTION_KEYS = ("k1", "k2", "p1", "p2", "k3")


@dataclass
class CaptureDataset:
    """All frames of a capture, in memory, at the training resolution."""

    root: Path
    image_names: list[str]  # file_path entries of transforms.json, sorted
    images: torch.Tensor  # (N, H, W, 3) float32 in [0, 1]
    cameras: Cameras  # N OpenCV cameras
    points: torch.Tensor  # (P, 3) SfM points, transforms.json frame
    point_colors: torch.Tensor  # (P, 3) float32 in [0, 1]
    normalisation: list[list[float]]  # 4x4, copied from transforms.json
    transforms_meta: dict  # transforms.json without its frames

    def __len__(self) -> int:
        return self.images.shape[0]

    def split(self, holdout_every: int) -> tuple[list[int], list[int]]:
        return holdout_split(len(self), holdout_every)

    def scene_extent(self) -> float:
        """3DGS's radius: 1.1 x the largest camera distance from the cameras' mean centre."""
        centers = self.cameras.centers.double()
        radius = float((centers - centers.mean(0)).norm(dim=1).max())
        return 1.1 * max(radius, 1e-3)


def normalisation_from_transforms(meta: dict) -> list[list[float]]:
    """The 4x4 scene normalisation the capture recorded (identity when it recorded none).

    gwm captures write `normalisation` (4x4, the transform that took the raw SfM frame to
    the metric Z-up frame); nerfstudio's own `applied_transform` (3x4) is the fallback.
    """
    for key in ("normalisation", "normalization"):
        if key in meta:
            m = np.asarray(meta[key], dtype=np.float64)
            break
    else:
        m = np.asarray(meta.get("applied_transform", np.eye(4)[:3]), dtype=np.float64)
    if m.shape == (3, 4):
        m = np.vstack([m, [0.0, 0.0, 0.0, 1.0]])
    if m.shape != (4, 4) or not np.isfinite(m).all():
        raise ValueError(f"transforms.json normalisation has shape {m.shape}; expected a finite 4x4 (or 3x4) matrix")
    return m.tolist()


def _read_image(path: Path, K: np.ndarray, dist: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """RGB float32 (H, W, 3) in [0,1], undistorted, resized to size = (W, H)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"{path}: not a readable image; re-export the frame as PNG or JPEG")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    scale = 65535.0 if img.dtype == np.uint16 else 255.0
    if np.any(dist != 0):
        # OpenCV order k1 k2 p1 p2 k3; the undistorted image keeps the same K.
        img = cv2.undistort(img, K, dist)
    if (img.shape[1], img.shape[0]) != size:
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return img.astype(np.float32) / scale


def read_point_cloud(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(P,3) positions and (P,3) colours in [0,1] from a nerfstudio sparse_pc.ply."""
    from gwm.capture.nerfstudio import read_sparse_ply

    try:
        xyz, rgb = read_sparse_ply(path)
    except Exception as e:  # plyfile raises several types on bad input
        raise ValueError(f"{path}: not a readable point-cloud PLY ({e}); re-run the capture's SfM step") from e
    keep = np.isfinite(xyz).all(1)
    return torch.from_numpy(xyz[keep]).float(), torch.from_numpy(rgb[keep]).float() / 255.0


def read_capture_cameras(dataset_dir: str | Path) -> tuple[Cameras, list[str], dict]:
    """Cameras (OpenCV, float32), file_path names and transforms.json's other fields, with the
    frames sorted by file name; checks the JSON, intrinsics and that every image exists."""
    from gwm.capture.nerfstudio import read_transforms_cameras

    root = Path(dataset_dir)
    if not (root / "transforms.json").is_file():
        raise FileNotFoundError(
            f"{root}: no transforms.json; run `gwm capture run` on the images or video first "
            "(or ns-process-data), which writes transforms.json and sparse_pc.ply"
        )
    cams, paths, meta = read_transforms_cameras(root)
    order = sorted(range(len(paths)), key=lambda i: str(paths[i]))  # nerfstudio sorts by file name
    names = [str(paths[i].relative_to(root)) if paths[i].is_relative_to(root) else str(paths[i]) for i in order]
    index = torch.tensor(order)
    cams = Cameras(cams.Ks[index].float(), cams.world_from_cam[index].float(), cams.width, cams.height)
    return cams, names, meta


def holdout_split(num_frames: int, holdout_every: int) -> tuple[list[int], list[int]]:
    """(train, held-out) indices of frames sorted by name: index % holdout_every == 0 is held out
    (nerfstudio's eval-mode interval); holdout_every <= 0 holds out nothing."""
    idx = list(range(num_frames))
    if holdout_every <= 0:
        return idx, []
    if num_frames < 2:
        raise ValueError("one frame cannot be split into training and held-out views; capture more frames")
    return [i for i in idx if i % holdout_every != 0], [i for i in idx if i % holdout_every == 0]


def load_capture(dataset_dir: str | Path, downscale: int = 1) -> CaptureDataset:
    """Read a nerfstudio-layout capture; raises naming the problem and the fix."""
    root = Path(dataset_dir)
    if downscale < 1:
        raise ValueError(f"downscale must be a positive integer, got {downscale}")
    cams, names, meta = read_capture_cameras(root)
    # transforms.json's global OPENCV distortion (k1 k2 p1 p2 [k3]); images are undistorted on load
    dist = np.array([float(meta.get(k, 0.0)) for k in _DISTORTION_KEYS])
    w, h = cams.width, cams.height
    w_out, h_out = max(1, w // downscale), max(1, h // downscale)
    images = np.stack([_read_image(root / name, K.double().numpy(), dist, (w_out, h_out))
                       for name, K in zip(names, cams.Ks)])
    cameras = cams.resized(w_out, h_out)

    ply_name = meta.get("ply_file_path", "sparse_pc.ply")
    ply_path = root / ply_name
    if not ply_path.is_file():
        raise FileNotFoundError(
            f"{root}: no SfM point cloud {ply_name}; the built-in trainer starts from it. "
            "Re-run `gwm capture run` (it writes sparse_pc.ply) or triangulate points with COLMAP"
        )
    points, colors = read_point_cloud(ply_path)
    if len(points) < 4:
        raise ValueError(f"{ply_path}: only {len(points)} SfM points; re-run SfM with more features or overlap")

    return CaptureDataset(
        root=root,
        image_names=names,
        images=torch.from_numpy(images),
        cameras=cameras,
        points=points,
        point_colors=colors,
        normalisation=normalisation_from_transforms(meta),
        transforms_meta=meta,
    )

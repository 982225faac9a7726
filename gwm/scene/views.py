"""The capture's cameras (and images) in the scene's world frame.

A capture's transforms.json holds OpenGL camera-to-world poses in the splat's input frame
(`gwm capture` and `gwm reconstruct` share one frame). Scene assembly moves the splat by a
similarity world_from_input (up axis, scale, levelling); the cameras move with it. Mask
carving (gwm/scene/carve.py) and the multi-view surface check (gwm/scene/observed.py) both
read their cameras through here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gwm.cameras import Cameras
from gwm.geometry import scale_intrinsics

DISTORTION_KEYS = ("k1", "k2", "p1", "p2", "k3")


class CaptureViewsError(ValueError):
    """A problem with a capture's cameras or images; the message names the file and the fix."""


class _NumpyCameraViews:
    """Ks, world_from_cam, cam_from_world, width, height of a `cameras` (gwm.cameras.Cameras) as numpy, for the
    numpy scene tools: the camera conventions stay those of the one camera type."""

    cameras: Cameras

    @property
    def Ks(self) -> np.ndarray:  # (V, 3, 3)
        return self.cameras.Ks.double().numpy()

    @property
    def world_from_cam(self) -> np.ndarray:  # (V, 4, 4)
        return self.cameras.world_from_cam.double().numpy()

    @property
    def cam_from_world(self) -> np.ndarray:
        return np.linalg.inv(self.world_from_cam)

    @property
    def width(self) -> int:
        return self.cameras.width

    @property
    def height(self) -> int:
        return self.cameras.height


@dataclass
class CaptureCameras(_NumpyCameraViews):
    """Cameras of one capture, OpenCV axes, in the world frame (float64), with what the capture adds."""

    cameras: Cameras
    distortion: np.ndarray  # (5,) OPENCV k1 k2 p1 p2 k3 (zeros: pinhole)
    image_paths: list[Path]
    frames: list[dict]  # the transforms.json frame entries, same order
    transforms: Path  # the transforms.json read

    def __len__(self) -> int:
        return len(self.cameras)


def transforms_path(cameras: str | Path) -> Path:
    p = Path(cameras)
    return p / "transforms.json" if p.is_dir() else p


def load_capture_cameras(cameras: str | Path, world_from_input: np.ndarray | None = None) -> CaptureCameras:
    """Read a nerfstudio transforms.json (or its folder) and move its cameras into the world frame:
    x_w = s R x_i + t (world_from_input, a similarity; identity when None)."""
    from gwm.capture.config import CaptureError
    from gwm.capture.nerfstudio import read_transforms_cameras

    tf = transforms_path(cameras)
    try:
        cams, paths, meta = read_transforms_cameras(tf)
    except CaptureError as e:
        raise CaptureViewsError(str(e)) from e
    frames = json.loads(tf.read_text())["frames"]
    a = np.eye(4) if world_from_input is None else np.asarray(world_from_input, dtype=np.float64)
    s = float(np.cbrt(np.linalg.det(a[:3, :3])))
    rot = a[:3, :3] / s
    wfc = cams.world_from_cam.double().numpy().copy()
    wfc[:, :3, :3] = rot @ wfc[:, :3, :3]  # a camera's axes rotate, its centre moves with the points
    wfc[:, :3, 3] = wfc[:, :3, 3] @ a[:3, :3].T + a[:3, 3]
    dist = np.array([float(meta.get(k, 0.0) or 0.0) for k in DISTORTION_KEYS])
    cameras = Cameras(cams.Ks.double(), torch.from_numpy(wfc), cams.width, cams.height)
    return CaptureCameras(cameras=cameras, distortion=dist, image_paths=paths, frames=frames, transforms=tf)


def project_points(Ks: np.ndarray, cam_from_world: np.ndarray, points: np.ndarray,
                   distortion: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel coordinates u, v (V, N) and camera depth z (V, N) of world points (OPENCV distortion
    applied when given). z <= 0: behind the camera (u, v meaningless there)."""
    r, t = cam_from_world[:, :3, :3], cam_from_world[:, :3, 3]
    pc = np.einsum("vij,nj->vni", r, np.asarray(points, dtype=np.float64)) + t[:, None, :]
    z = pc[..., 2]
    zs = np.where(z > 1e-6, z, 1.0)
    x, y = pc[..., 0] / zs, pc[..., 1] / zs
    if distortion is not None and np.any(distortion != 0):
        k1, k2, p1, p2, k3 = distortion
        r2 = x * x + y * y
        radial = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2 ** 3
        x, y = (x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
                y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y)
    u = Ks[:, 0, 0, None] * x + Ks[:, 0, 2, None]
    v = Ks[:, 1, 1, None] * y + Ks[:, 1, 2, None]
    return u, v, z


def capture_metadata(cameras: str | Path) -> dict:
    """The `gwm` block of a capture's transforms.json ({} for other nerfstudio datasets)."""
    tf = transforms_path(cameras)
    try:
        return json.loads(tf.read_text()).get("gwm", {}) or {}
    except (OSError, json.JSONDecodeError) as e:
        raise CaptureViewsError(f"{tf}: cannot read the capture's transforms.json ({e}); re-run "
                                "`gwm capture run`") from e


def require_metric_capture(cameras: str | Path, scale: float | None) -> None:
    """Stop a non-metric capture before it reaches physics, unless the user gave an explicit scale
    (gwm.capture.require_metric: the one check, its error names the three metric cues)."""
    from gwm.capture.config import CaptureError
    from gwm.capture.metric import require_metric
    from gwm.scene.config import SceneConfigError

    try:
        require_metric(transforms_path(cameras), scale)
    except CaptureError as e:
        raise SceneConfigError(f"{e} (--scale METRES_PER_UNIT, or [scale] factor in the scene file)") from None


@dataclass
class CaptureImages(_NumpyCameraViews):
    """Undistorted (pinhole) RGB images with their cameras, at a working resolution."""

    cameras: Cameras  # at the images' size
    images: np.ndarray  # (V, H, W, 3) float32 in [0, 1]
    names: list[str]

    def __len__(self) -> int:
        return len(self.images)


def load_capture_images(cams: CaptureCameras, max_views: int = 48, max_side: int = 320) -> CaptureImages:
    """Up to max_views views, evenly spread over the capture, undistorted to pinhole and downscaled so the
    longer side is at most max_side pixels (the splat is compared at about its training resolution)."""
    import cv2
    from PIL import Image

    idx = np.unique(np.linspace(0, len(cams) - 1, min(max_views, len(cams))).round().astype(int))
    factor = min(1.0, max_side / max(cams.width, cams.height))
    w, h = max(1, round(cams.width * factor)), max(1, round(cams.height * factor))
    sx, sy = w / cams.width, h / cams.height
    images, Ks = [], []
    for i in idx:
        p = cams.image_paths[i]
        try:
            img = np.asarray(Image.open(p).convert("RGB"))
        except OSError as e:
            raise CaptureViewsError(f"{p}: cannot read this capture image ({e}); re-run `gwm capture run`") from e
        if img.shape[:2] != (cams.height, cams.width):
            raise CaptureViewsError(f"{p}: image is {img.shape[1]}x{img.shape[0]} but {cams.transforms} says "
                                    f"{cams.width}x{cams.height}; use the capture's own images folder")
        K = cams.Ks[i]
        if np.any(cams.distortion != 0):
            img = cv2.undistort(img, K, cams.distortion[[0, 1, 2, 3, 4]])
        if factor < 1.0:
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        Ks.append(scale_intrinsics(K, sx, sy))
        images.append(img.astype(np.float32) / 255.0)
    cameras = Cameras(torch.from_numpy(np.stack(Ks)), torch.from_numpy(cams.world_from_cam[idx]), w, h)
    return CaptureImages(cameras=cameras, images=np.stack(images), names=[cams.image_paths[i].name for i in idx])


__all__ = ["CaptureCameras", "CaptureImages", "CaptureViewsError", "capture_metadata",
           "load_capture_cameras", "load_capture_images", "project_points", "require_metric_capture", "transforms_path"]

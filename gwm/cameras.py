"""Pinhole cameras: OpenCV axes (x right, y down, z forward), intrinsics K, world_from_cam.

`Cameras` is a batch of posed cameras (what the renderer takes); `CameraSpec` describes one camera of
a dataset: its intrinsics and size, and whether it is fixed in the world or mounted on a moving frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from gwm.geometry import opencv_to_opengl, opengl_to_opencv, scale_intrinsics



@dataclass
class Cameras:
    """A batch of B pinhole cameras sharing one image size."""

    Ks: torch.Tensor  # (B, 3, 3)
    world_from_cam: torch.Tensor  # (B, 4, 4)
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.Ks.ndim == 2:
            self.Ks = self.Ks[None]
        if self.world_from_cam.ndim == 2:
            self.world_from_cam = self.world_from_cam[None]
        b = self.Ks.shape[0]
        if tuple(self.Ks.shape) != (b, 3, 3) or tuple(self.world_from_cam.shape) != (b, 4, 4):
            raise ValueError(
                f"Cameras: Ks {tuple(self.Ks.shape)} and world_from_cam {tuple(self.world_from_cam.shape)} "
                "must be (B,3,3) and (B,4,4)"
            )
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"Cameras: image size {self.width}x{self.height} must be positive")

    def __len__(self) -> int:
        return self.Ks.shape[0]

    def __getitem__(self, index) -> "Cameras":
        if isinstance(index, int):
            index = slice(index, index + 1)
        return Cameras(self.Ks[index], self.world_from_cam[index], self.width, self.height)

    @property
    def cam_from_world(self) -> torch.Tensor:
        """View matrices (B,4,4), what gsplat calls viewmats."""
        return torch.linalg.inv(self.world_from_cam)

    @property
    def centers(self) -> torch.Tensor:
        return self.world_from_cam[:, :3, 3]

    def to_dict(self) -> dict:
        """Plain JSON-able lists (OpenCV axes); Cameras.from_dict reads it back."""
        return {"width": self.width, "height": self.height, "Ks": self.Ks.tolist(),
                "world_from_cam": self.world_from_cam.tolist(), "axes": "opencv"}

    @classmethod
    def from_dict(cls, d: dict) -> "Cameras":
        if d.get("axes", "opencv") != "opencv":
            raise ValueError(f"Cameras.from_dict: axes {d['axes']!r}; only OpenCV camera axes are stored")
        return cls(torch.tensor(d["Ks"], dtype=torch.float32), torch.tensor(d["world_from_cam"], dtype=torch.float32),
                   int(d["width"]), int(d["height"]))

    def to(self, device=None, dtype=None) -> "Cameras":
        return Cameras(self.Ks.to(device=device, dtype=dtype), self.world_from_cam.to(device=device, dtype=dtype),
                       self.width, self.height)

    @classmethod
    def cat(cls, parts: list["Cameras"]) -> "Cameras":
        sizes = {(c.width, c.height) for c in parts}
        if len(sizes) != 1:
            raise ValueError(f"Cameras.cat: mixed image sizes {sorted(sizes)}; resize images to one size first")
        w, h = sizes.pop()
        return cls(torch.cat([c.Ks for c in parts]), torch.cat([c.world_from_cam for c in parts]), w, h)

    # conventions ------------------------------------------------------------------
    @classmethod
    def from_opengl(cls, Ks: torch.Tensor, world_from_cam_gl: torch.Tensor, width: int, height: int) -> "Cameras":
        """From camera-to-world matrices in OpenGL axes (nerfstudio transforms.json)."""
        return cls(Ks, opengl_to_opencv(world_from_cam_gl), width, height)

    def to_opengl(self) -> torch.Tensor:
        """Camera-to-world matrices (B,4,4) in OpenGL axes (nerfstudio transforms.json)."""
        return opencv_to_opengl(self.world_from_cam)

    def resized(self, width: int, height: int) -> "Cameras":
        """The same cameras for images resized to width x height (intrinsics scaled per axis)."""
        ks = scale_intrinsics(self.Ks, width / self.width, height / self.height)
        return Cameras(ks, self.world_from_cam, int(width), int(height))

    def project(self, points_world: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(P,3) world points -> pixel coords (B,P,2) and camera depths (B,P)."""
        view = self.cam_from_world.to(points_world)
        pc = points_world @ view[:, :3, :3].transpose(-1, -2) + view[:, None, :3, 3]
        z = pc[..., 2]
        uv = pc @ self.Ks.to(points_world).transpose(-1, -2)
        return uv[..., :2] / z[..., None].clamp_min(1e-9), z


# The frame of a camera mounted on the robot's tool: the pose in the dataset feature observation.ee_pose.
EE_MOUNT = "ee"
WORLD_MOUNT = "world"


@dataclass(frozen=True)
class CameraSpec:
    """One camera of a dataset (OpenCV axes).

    mount "world": a fixed camera, mount_from_cam = world_from_cam. mount "ee": on the robot's tool frame
    (the pose stored as observation.ee_pose), mount_from_cam = ee_from_cam. Any other mount names a body of
    the dataset (body_names), mount_from_cam = body_from_cam. K and mount_from_cam are stored as nested
    tuples so that specs compare and serialise exactly.
    """

    name: str
    K: tuple[tuple[float, ...], ...]  # (3,3) intrinsics, pixels
    width: int
    height: int
    mount: str = WORLD_MOUNT
    mount_from_cam: tuple[tuple[float, ...], ...] = tuple(tuple(float(i == j) for j in range(4)) for i in range(4))

    def __post_init__(self) -> None:
        where = f"camera {self.name!r}"
        if not self.name or not all(c.isalnum() or c in "_-" for c in self.name):
            raise ValueError(f"{where}: a camera name is letters, digits, '_' or '-' (it names image features)")
        k = _matrix(self.K, (3, 3), f"{where}: K")
        if k[0, 0] <= 0 or k[1, 1] <= 0 or not np.allclose(k[2], [0.0, 0.0, 1.0]):
            raise ValueError(f"{where}: K {k.tolist()} is not a pinhole intrinsics matrix (fx, fy > 0, last row 0 0 1)")
        m = _matrix(self.mount_from_cam, (4, 4), f"{where}: mount_from_cam")
        if not np.allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3), atol=1e-4) or not np.allclose(m[3], [0, 0, 0, 1]):
            raise ValueError(f"{where}: mount_from_cam is not a rigid transform (rotation + translation)")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise ValueError(f"{where}: image size {self.width}x{self.height} must be positive")
        if not isinstance(self.mount, str) or not self.mount:
            raise ValueError(f"{where}: mount must be 'world', 'ee' or a body name, got {self.mount!r}")
        object.__setattr__(self, "K", _tuples(k))
        object.__setattr__(self, "mount_from_cam", _tuples(m))
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))

    @property
    def is_fixed(self) -> bool:
        return self.mount == WORLD_MOUNT

    def world_from_cam(self, world_from_mount=None) -> torch.Tensor:
        """(4,4) camera pose; world_from_mount (4,4) is the mount's pose now (not needed when fixed)."""
        m = torch.tensor(self.mount_from_cam, dtype=torch.float32)
        if self.is_fixed:
            return m
        if world_from_mount is None:
            raise ValueError(f"camera {self.name!r} is mounted on {self.mount!r}: give that frame's pose")
        return torch.as_tensor(world_from_mount, dtype=torch.float32) @ m

    def to_dict(self) -> dict:
        return {"name": self.name, "K": [list(r) for r in self.K], "width": self.width, "height": self.height,
                "mount": self.mount, "mount_from_cam": [list(r) for r in self.mount_from_cam], "axes": "opencv"}

    @classmethod
    def from_dict(cls, d: dict) -> "CameraSpec":
        if d.get("axes", "opencv") != "opencv":
            raise ValueError(f"camera {d.get('name')!r}: axes {d['axes']!r}; only OpenCV camera axes are stored")
        return cls(name=d["name"], K=d["K"], width=d["width"], height=d["height"], mount=d.get("mount", WORLD_MOUNT),
                   mount_from_cam=d["mount_from_cam"])


def fixed_cameras(specs) -> Cameras | None:
    """The fixed cameras among specs as one Cameras batch (None when there are none)."""
    fixed = [c for c in specs if c.is_fixed]
    if not fixed:
        return None
    sizes = {(c.width, c.height) for c in fixed}
    if len(sizes) != 1:
        raise ValueError(f"fixed cameras {[c.name for c in fixed]} have different image sizes {sorted(sizes)}; "
                         "one Cameras batch needs one size")
    w, h = sizes.pop()
    return Cameras(torch.tensor([c.K for c in fixed], dtype=torch.float32),
                   torch.stack([c.world_from_cam() for c in fixed]), w, h)


def _matrix(value, shape: tuple[int, int], what: str) -> np.ndarray:
    m = np.asarray(value.tolist() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
    if m.shape != shape or not np.isfinite(m).all():
        raise ValueError(f"{what} must be a finite {shape[0]}x{shape[1]} matrix, got shape {m.shape}")
    return m


def _tuples(m: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(x) for x in row) for row in m)


def intrinsics_from_fov(fov_y_deg: float, width: int, height: int) -> torch.Tensor:
    """(3,3) K for square pixels, principal point at the image centre."""
    f = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2)
    return torch.tensor([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=torch.float32)


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> torch.Tensor:
    """world_from_cam (4,4) for an OpenCV camera at eye looking at target, Z-up world."""
    eye = torch.as_tensor(eye, dtype=torch.float32)
    target = torch.as_tensor(target, dtype=torch.float32)
    up = torch.as_tensor(up, dtype=torch.float32)
    z = target - eye
    z = z / z.norm()
    x = torch.linalg.cross(z, up)
    if x.norm() < 1e-6:  # looking straight along up: any perpendicular x will do
        x = torch.linalg.cross(z, torch.tensor([0.0, 1.0, 0.0]))
    x = x / x.norm()
    y = torch.linalg.cross(z, x)
    m = torch.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, z, eye
    return m

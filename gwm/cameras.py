"""Pinhole cameras: OpenCV axes (x right, y down, z forward), intrinsics K, world_from_cam."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# OpenCV <-> OpenGL camera axes differ by flipping y and z.
_CV_FROM_GL = torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64))


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
        flip = _CV_FROM_GL.to(world_from_cam_gl)
        return cls(Ks, world_from_cam_gl @ flip, width, height)

    def to_opengl(self) -> torch.Tensor:
        """Camera-to-world matrices (B,4,4) in OpenGL axes (nerfstudio transforms.json)."""
        return self.world_from_cam @ _CV_FROM_GL.to(self.world_from_cam)

    def project(self, points_world: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(P,3) world points -> pixel coords (B,P,2) and camera depths (B,P)."""
        view = self.cam_from_world.to(points_world)
        pc = points_world @ view[:, :3, :3].transpose(-1, -2) + view[:, None, :3, 3]
        z = pc[..., 2]
        uv = pc @ self.Ks.to(points_world).transpose(-1, -2)
        return uv[..., :2] / z[..., None].clamp_min(1e-9), z


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

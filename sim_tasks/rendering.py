"""Camera images of the simulated scene, rendered from body-bound Gaussians.

Every body owns canonical Gaussians in its own frame: the background (world frame, identity
pose), each object (from the scene USD) and each robot link (surface samples of the link's
visual meshes in the link colour). A frame's Gaussians are
`gwm.body_gaussians.pose_body_gaussians` (what `gwm.data.world_state.gaussians_from_poses` computes) -- exactly the
world state the datasets store -- rasterised with `gwm.render.rasterize` into a fixed scene
camera and a wrist camera on the hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from gwm.body_gaussians import BodyGaussians, pose_body_gaussians
from gwm.cameras import EE_MOUNT, WORLD_MOUNT, Cameras, CameraSpec, intrinsics_from_fov, look_at
from gwm.geometry import pose7_to_matrix
from gwm.splats import GaussianSplats
from sim_tasks.backend import BACKGROUND_BODY
from sim_tasks.panda_model import LINK_RECORD_NAMES

CAMERA_NAMES = ("scene", "wrist")


@dataclass(frozen=True)
class CameraConfig:
    width: int = 128
    height: int = 128
    # Fixed scene camera, in the robot base frame: to the robot's right, looking across the workspace
    # (motion along the arm's reach crosses the image). A capture is filmed from the robot's side of the
    # counter, so this is where the splat is sharp (a camera facing the robot from the far side saw the
    # unreconstructed back of the scene).
    scene_eye: tuple[float, float, float] = (0.45, -0.85, 0.55)
    scene_target: tuple[float, float, float] = (0.45, 0.0, 0.05)
    scene_fov_deg: float = 50.0
    # Wrist camera, in the tool-site frame (z = approach, y = finger travel): on the side of the
    # hand, looking past the fingertips.
    wrist_eye: tuple[float, float, float] = (-0.09, 0.0, -0.05)
    wrist_target: tuple[float, float, float] = (0.0, 0.0, 0.15)
    wrist_fov_deg: float = 75.0
    depth: bool = True
    background_rgb: tuple[float, float, float] = (0.78, 0.80, 0.84)  # what no Gaussian covers
    robot_gaussians: int = 4000  # surface samples over all links, by area
    sh_degree: int = 0  # 0: view-independent colour (fast path: one batched posing of all bodies)
    render_backend: str = "auto"


def sample_mesh_surface(vertices: np.ndarray, faces: np.ndarray, count: int, rgb, rng: np.random.Generator,
                        ) -> GaussianSplats:
    """count flat Gaussians on a triangle mesh (area-weighted), discs aligned with the faces."""
    tri = vertices[faces]  # (F,3,3)
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = 0.5 * np.linalg.norm(cross, axis=1)
    keep = area > 1e-12
    tri, cross, area = tri[keep], cross[keep], area[keep]
    face = rng.choice(len(tri), size=count, p=area / area.sum())
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    t = tri[face]
    points = t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])
    normal = cross[face] / np.linalg.norm(cross[face], axis=1, keepdims=True)
    # Rotation taking local z to the face normal (shortest arc), as quaternions w,x,y,z.
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(np.broadcast_to(z, normal.shape), normal)
    w = 1.0 + normal @ z
    quats = np.concatenate([w[:, None], axis], 1)
    anti = w < 1e-6  # normal = -z: rotate pi about x
    quats[anti] = [0.0, 1.0, 0.0, 0.0]
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    radius = math.sqrt(area.sum() / count)  # mean spacing between samples
    scales = np.tile([0.5 * radius, 0.5 * radius, 0.1 * radius], (count, 1))
    colour = np.clip(np.asarray(rgb, np.float64) * rng.uniform(0.85, 1.05, (count, 1)), 0, 1)
    f32 = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return GaussianSplats.from_activated(f32(points), f32(quats), f32(scales), torch.full((count,), 0.95), rgb=f32(colour))


def robot_link_gaussians(link_meshes: dict[str, list[tuple[np.ndarray, np.ndarray]]], link_rgb: dict[str, tuple],
                         total: int, seed: int = 0) -> dict[str, GaussianSplats]:
    """Per link (record name -> meshes in the link frame): Gaussians, `total` split by surface area."""
    rng = np.random.default_rng(seed)
    areas = {}
    for name, meshes in link_meshes.items():
        a = 0.0
        for v, f in meshes:
            t = v[f]
            a += 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1).sum()
        areas[name] = a
    total_area = sum(areas.values())
    out = {}
    for name, meshes in link_meshes.items():
        if not meshes or areas[name] <= 0:
            continue
        v = np.concatenate([m[0] for m in meshes])
        offsets = np.cumsum([0] + [len(m[0]) for m in meshes[:-1]])
        f = np.concatenate([m[1] + o for m, o in zip(meshes, offsets)])
        count = max(32, int(round(total * areas[name] / total_area)))
        out[name] = sample_mesh_surface(v, f, count, link_rgb[name], rng)
    return out


class CameraRig:
    """The fixed scene camera (placed relative to the robot base) and the wrist camera mount."""

    def __init__(self, robot_base: np.ndarray, config: CameraConfig = CameraConfig()):
        self.config = config
        self.robot_base = np.asarray(robot_base, np.float64)
        self.K_scene = intrinsics_from_fov(config.scene_fov_deg, config.width, config.height)
        self.K_wrist = intrinsics_from_fov(config.wrist_fov_deg, config.width, config.height)
        base = torch.tensor(self.robot_base, dtype=torch.float32)
        eye = base[:3, :3] @ torch.tensor(config.scene_eye) + base[:3, 3]
        target = base[:3, :3] @ torch.tensor(config.scene_target) + base[:3, 3]
        self.world_from_scene_cam = look_at(eye, target)
        # Camera in the tool frame; "up" is the tool's -x so the fingers appear at the image bottom.
        self.tool_from_wrist_cam = look_at(config.wrist_eye, config.wrist_target, up=(-1.0, 0.0, 0.0))

    def camera_specs(self) -> tuple[CameraSpec, ...]:
        """The rig as dataset camera specs: the scene camera fixed, the wrist camera on the tool frame
        (observation.ee_pose), in CAMERA_NAMES order."""
        c = self.config
        return (CameraSpec("scene", self.K_scene, c.width, c.height, WORLD_MOUNT, self.world_from_scene_cam),
                CameraSpec("wrist", self.K_wrist, c.width, c.height, EE_MOUNT, self.tool_from_wrist_cam))

    def cameras(self, tool_pose: np.ndarray) -> Cameras:
        """Both cameras (scene, wrist) for a tool pose (7,) xyz + quat wxyz."""
        world_from_tool = torch.tensor(pose7_to_matrix(np.asarray(tool_pose, np.float64)), dtype=torch.float32)
        wrist = world_from_tool @ self.tool_from_wrist_cam
        c = self.config
        return Cameras(torch.stack([self.K_scene, self.K_wrist]), torch.stack([self.world_from_scene_cam, wrist]),
                       c.width, c.height)


class GaussianSceneRenderer:
    """Renders the scene and wrist cameras from body poses (B,7) and the tool pose (7,)."""

    def __init__(self, canonical: dict[str, GaussianSplats], body_names: tuple[str, ...], rig: CameraRig,
                 device: str = "cpu"):
        """device: where the Gaussians are posed and rendered ("cuda": gsplat, with the simulator's worlds)."""
        self.rig = rig
        self.config = rig.config
        self.body_names = tuple(body_names)
        missing = [b for b in canonical if b not in self.body_names]
        if missing:
            raise ValueError(f"Gaussians for bodies {missing} that have no pose; body_names are {self.body_names}")
        if not canonical:
            raise ValueError("GaussianSceneRenderer needs Gaussians for at least one body")
        self.canonical = {b: canonical[b] for b in self.body_names if b in canonical}  # body_names order
        self._background = torch.tensor(self.config.background_rgb, dtype=torch.float32, device=device)
        stacked = BodyGaussians.stack(self.body_names, self.canonical)
        self._bodies = BodyGaussians(stacked.splats.to(device), stacked.body_index.to(device))
        # Fast path for sh_degree 0: a DC colour does not change under rotation, so posing the
        # DC-only stack renders exactly what the full world state (which also rotates higher SH
        # bands) renders.
        self._bodies_dc = BodyGaussians(self._bodies.splats.with_sh_degree(0), self._bodies.body_index)

    def cameras(self, tool_pose: np.ndarray) -> Cameras:
        return self.rig.cameras(tool_pose)

    def world_gaussians(self, body_poses: np.ndarray) -> GaussianSplats:
        """All Gaussians in the world frame at these body poses (B,7): the dataset's world state."""
        return pose_body_gaussians(self._bodies, np.asarray(body_poses, np.float32))

    def world_gaussians_dc(self, body_poses: np.ndarray) -> GaussianSplats:
        """world_gaussians truncated to SH degree 0, posed in one batch (same means, rotations, colours)."""
        return pose_body_gaussians(self._bodies_dc, np.asarray(body_poses, np.float32))

    def render(self, body_poses: np.ndarray, tool_pose: np.ndarray) -> dict[str, np.ndarray]:
        """{"scene": uint8 (H,W,3), "wrist": ..., and with depth "depth.scene": float32 (H,W,1), ...}."""
        return self.render_worlds([body_poses], [tool_pose])[0]

    def render_worlds(self, body_poses, tool_poses) -> list[dict[str, np.ndarray]]:
        """render() for several worlds of this scene (a batch of rollouts) in one rasterize call."""
        from gwm.render import rasterize_worlds

        if self.config.sh_degree == 0:
            worlds, degree = [self.world_gaussians_dc(p) for p in body_poses], 0
        else:
            worlds = [self.world_gaussians(p) for p in body_poses]
            degree = min(self.config.sh_degree, worlds[0].sh_degree)
        with torch.no_grad():
            out = rasterize_worlds(worlds, [self.cameras(t) for t in tool_poses], sh_degree=degree,
                                   background=self._background, backend=self.config.render_backend)
        rgb = (out.rgb.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()  # (worlds * 2, H, W, 3)
        depth = out.depth.float().cpu().numpy() if self.config.depth else None
        per_world = []
        for w in range(len(worlds)):
            first = w * len(CAMERA_NAMES)
            images = {name: rgb[first + i] for i, name in enumerate(CAMERA_NAMES)}
            if depth is not None:
                images.update({f"depth.{name}": depth[first + i] for i, name in enumerate(CAMERA_NAMES)})
            per_world.append(images)
        return per_world


def scene_canonical_gaussians(scene, link_gaussians: dict[str, GaussianSplats]) -> dict[str, GaussianSplats]:
    """Canonical Gaussians per body: background (world frame), objects and robot links (body frames)."""
    out = {BACKGROUND_BODY: scene.background.detach().to("cpu", torch.float32)}
    for o in scene.objects:
        out[o.name] = o.splats.detach().to("cpu", torch.float32)
    for name in LINK_RECORD_NAMES:
        if name in link_gaussians:
            out[name] = link_gaussians[name]
    return out


__all__ = ["CAMERA_NAMES", "CameraConfig", "CameraRig", "GaussianSceneRenderer", "robot_link_gaussians",
           "sample_mesh_surface", "scene_canonical_gaussians"]

"""A synthetic pushing world for tests and for the model's validation before simulated data exist.

A spherical pusher (the "robot", driven by planar velocity actions) pushes boxes across a table.
Known, deterministic position-based dynamics (as XPBD): on contact (circle model) the pusher pushes a
box out along the normal and spins it by its tangential velocity, boxes separate from each other and
stop at the workspace walls; afterwards a box keeps sliding with its last displacement damped by
friction. Velocities are last displacements, so two frames determine the state. Every body carries a
fixed set of Gaussians (the table is static), so the world state at a step is the canonical Gaussians
posed by the body poses, exactly like the datasets that gwm.data writes.

`SyntheticPushDataset` implements the read side of the dataset contract (gwm.data.GaussianDataset:
spec with body roles and cameras, num_episodes, episode, episode_info, canonical_gaussians, gaussians_at);
`write_synthetic_dataset` writes it through gwm.data's recorder.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from gwm.cameras import CameraSpec, intrinsics_from_fov, look_at
from gwm.data.world_state import gaussians_from_poses
from gwm.geometry import yaw_quat
from gwm.splats import GaussianSplats


@dataclass(frozen=True)
class SyntheticPushConfig:
    num_episodes: int = 300
    episode_length: int = 40
    num_boxes: int = 3
    fps: int = 10
    seed: int = 0
    workspace: float = 0.28  # half side of the square the box centres stay in (m)
    pusher_radius: float = 0.03
    pusher_speed: float = 0.3  # m/s at |action| = 1
    box_half: tuple[float, float, float] = (0.045, 0.035, 0.03)
    damping: float = 0.55  # velocity kept per step after a push (sliding friction)
    spin_gain: float = 12.0  # rad/s of spin per m/s of tangential pusher velocity
    grid: tuple[int, int, int] = (4, 3, 2)  # Gaussians per box along x, y, z
    table_grid: int = 12
    pusher_gaussians: int = 20
    image_size: int = 64


def _box_splats(half, grid, base_rgb, rng) -> GaussianSplats:
    axes = [np.linspace(-h * (1 - 1 / g), h * (1 - 1 / g), g) for h, g in zip(half, grid)]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    n = len(pts)
    # a colour gradient along x and a stripe so that yaw is visible in renders
    shade = 0.55 + 0.45 * (pts[:, 0] - pts[:, 0].min()) / max(np.ptp(pts[:, 0]), 1e-9)
    rgb = np.clip(np.asarray(base_rgb)[None] * shade[:, None] + 0.05 * rng.standard_normal((n, 3)), 0, 1)
    rgb[pts[:, 1] > 0.5 * half[1], :] = np.clip(rgb[pts[:, 1] > 0.5 * half[1], :] * 0.4 + 0.5, 0, 1)
    scale = np.array([h / g for h, g in zip(half, grid)]) * 1.1
    return GaussianSplats.from_activated(
        means=torch.tensor(pts, dtype=torch.float32),
        quats_wxyz=torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1),
        scales=torch.tensor(scale, dtype=torch.float32).repeat(n, 1),
        opacities=torch.full((n,), 0.95),
        rgb=torch.tensor(rgb, dtype=torch.float32),
    )


def _sphere_splats(radius, count) -> GaussianSplats:
    i = np.arange(count) + 0.5
    phi = np.arccos(1 - 2 * i / count)
    theta = math.pi * (1 + 5**0.5) * i
    pts = 0.7 * radius * np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], -1)
    rgb = np.tile([[0.95, 0.85, 0.2]], (count, 1)) * (0.8 + 0.2 * (pts[:, 2:3] / radius + 0.7))
    return GaussianSplats.from_activated(
        means=torch.tensor(pts, dtype=torch.float32),
        quats_wxyz=torch.tensor([[1.0, 0, 0, 0]]).repeat(count, 1),
        scales=torch.full((count, 3), 0.45 * radius),
        opacities=torch.full((count,), 0.95),
        rgb=torch.tensor(np.clip(rgb, 0, 1), dtype=torch.float32),
    )


def _table_splats(half_side, grid) -> GaussianSplats:
    ax = np.linspace(-half_side, half_side, grid)
    xy = np.stack(np.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    n = len(xy)
    pts = np.concatenate([xy, np.full((n, 1), -0.004)], 1)
    ij = np.stack(np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij"), -1).reshape(-1, 2)
    checker = ((ij[:, 0] // 2 + ij[:, 1] // 2) % 2)[:, None]
    rgb = np.where(checker, [[0.35, 0.35, 0.4]], [[0.55, 0.55, 0.6]])
    cell = 2 * half_side / (grid - 1)
    return GaussianSplats.from_activated(
        means=torch.tensor(pts, dtype=torch.float32),
        quats_wxyz=torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1),
        scales=torch.tensor([0.6 * cell, 0.6 * cell, 0.002]).repeat(n, 1),
        opacities=torch.full((n,), 0.98),
        rgb=torch.tensor(rgb, dtype=torch.float32),
    )


class SyntheticPushDataset:
    """In-memory synthetic dataset with the gwm.data read API (see module docstring)."""

    def __init__(self, cfg: SyntheticPushConfig = SyntheticPushConfig()):
        self.cfg = cfg
        rng = np.random.default_rng(cfg.seed)
        palette = [(0.9, 0.2, 0.2), (0.2, 0.45, 0.95), (0.2, 0.8, 0.3), (0.8, 0.3, 0.85), (0.95, 0.6, 0.1)]
        self.body_names = ("table", "pusher") + tuple(f"box_{k}" for k in range(cfg.num_boxes))
        self._canonical = {
            "table": _table_splats(cfg.workspace + 0.08, cfg.table_grid),
            "pusher": _sphere_splats(cfg.pusher_radius, cfg.pusher_gaussians),
        }
        for k in range(cfg.num_boxes):
            self._canonical[f"box_{k}"] = _box_splats(cfg.box_half, cfg.grid, palette[k % len(palette)], rng)
        self.fps = cfg.fps
        self.spec = self.dataset_spec()
        self._episodes = [self._simulate(np.random.default_rng([cfg.seed, e])) for e in range(cfg.num_episodes)]

    def dataset_spec(self, with_images: bool = False):
        """The DatasetSpec (roles: the table is background, the pusher the tool, the boxes objects)."""
        from gwm.data import DatasetSpec, FeatureSpec

        nb = len(self.body_names)
        features = {
            "observation.state": FeatureSpec("float32", (2,), ["x", "y"]),
            "observation.velocity": FeatureSpec("float32", (2,), ["vx", "vy"]),
            "observation.ee_pose": FeatureSpec("float32", (7,), ["x", "y", "z", "qw", "qx", "qy", "qz"]),
            "action": FeatureSpec("float32", (2,), ["vx", "vy"]),
            "observation.body_poses": FeatureSpec("float32", (nb, 7)),
            "next.reward": FeatureSpec("float32", (1,)),
            "next.done": FeatureSpec("bool", (1,)),
        }
        # Two fixed views of the workspace (OpenCV axes).
        s = self.cfg.image_size
        k = intrinsics_from_fov(45.0, s, s)
        cams = tuple(CameraSpec(f"cam{i}", k, s, s, "world", look_at(eye, (0.0, 0.0, 0.0)))
                     for i, eye in enumerate([(0.0, -0.62, 0.55), (0.55, 0.3, 0.6)]))
        if with_images:
            features.update({f"observation.images.{c.name}": FeatureSpec("image", (s, s, 3)) for c in cams})
        return DatasetSpec(fps=self.cfg.fps, features=features, robot_type="synthetic_pusher",
                           body_names=self.body_names, body_roles=("background", "tool") + ("object",) * (nb - 2),
                           cameras=cams)

    # dataset read API -------------------------------------------------------------------------------
    @property
    def num_episodes(self) -> int:
        return len(self._episodes)

    def episode(self, i: int, keys: list[str] | None = None) -> dict[str, np.ndarray]:
        ep = self._episodes[i]
        return dict(ep) if keys is None else {k: ep[k] for k in keys}

    def episode_info(self, i: int) -> dict:
        return {"success": True, "seed": self.cfg.seed * 100_003 + i, "task": "push boxes",
                "length": self.cfg.episode_length}

    def canonical_gaussians(self) -> dict[str, GaussianSplats]:
        return dict(self._canonical)

    def gaussians_at(self, episode: int, step: int) -> GaussianSplats:
        return gaussians_from_poses(self.body_names, self._canonical, self._episodes[episode]["observation.body_poses"][step])

    @property
    def body_roles(self) -> dict[str, str]:
        return self.spec.roles

    @property
    def cameras(self) -> tuple[CameraSpec, ...]:
        return self.spec.cameras

    @property
    def metadata(self) -> dict:
        return {"generator": "gwm.model.synthetic", "config": asdict(self.cfg), "normalisation": np.eye(4).tolist()}

    # dynamics ---------------------------------------------------------------------------------------
    def _simulate(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        c = self.cfg
        dt, nb, ws = 1.0 / c.fps, c.num_boxes, c.workspace
        r_box = float(np.hypot(c.box_half[0], c.box_half[1])) * 0.9
        boxes = np.zeros((nb, 2))
        for k in range(nb):  # rejection-sample non-overlapping starts
            for _ in range(1000):
                p = rng.uniform(-ws * 0.8, ws * 0.8, 2)
                if all(np.linalg.norm(p - boxes[j]) > 2.2 * r_box for j in range(k)):
                    break
            boxes[k] = p
        yaw = rng.uniform(-np.pi, np.pi, nb)
        vel, omega = np.zeros((nb, 2)), np.zeros(nb)
        pusher = rng.uniform(-ws, ws, 2)
        while np.min(np.linalg.norm(boxes - pusher, axis=1)) < r_box + c.pusher_radius + 0.02:
            pusher = rng.uniform(-ws, ws, 2)
        target, goal_dir, noise = int(rng.integers(nb)), rng.normal(size=2), np.zeros(2)
        goal_dir /= np.linalg.norm(goal_dir)
        out = {k: [] for k in ("observation.state", "observation.velocity", "observation.ee_pose", "action",
                               "observation.body_poses", "next.reward", "next.done")}
        p_vel = np.zeros(2)
        for t in range(c.episode_length):
            # scripted pusher: go behind the target box (w.r.t. a goal direction), then push through it
            if t % 12 == 0 and t > 0:
                target, goal_dir = int(rng.integers(nb)), rng.normal(size=2)
                goal_dir /= np.linalg.norm(goal_dir)
            behind = boxes[target] - goal_dir * (r_box + c.pusher_radius + 0.01)
            to_behind = behind - pusher
            aim = boxes[target] + goal_dir * 0.1 if np.linalg.norm(to_behind) < 0.03 else behind
            noise = 0.7 * noise + 0.3 * rng.normal(size=2) * 0.6
            action = np.clip((aim - pusher) / 0.06 + noise, -1.0, 1.0)
            # record the state at step t and the action taken at t
            poses = np.zeros((2 + nb, 7))
            poses[0] = [0, 0, 0, 1, 0, 0, 0]
            poses[1, :3], poses[1, 3:] = [pusher[0], pusher[1], c.pusher_radius], [1, 0, 0, 0]
            poses[2:, :2], poses[2:, 2], poses[2:, 3:] = boxes, c.box_half[2], yaw_quat(yaw)
            out["observation.state"].append(pusher.copy())
            out["observation.velocity"].append(p_vel.copy())
            out["observation.ee_pose"].append(poses[1].copy())
            out["action"].append(action.copy())
            out["observation.body_poses"].append(poses)
            out["next.reward"].append([0.0])
            out["next.done"].append([t == c.episode_length - 1])
            # step the world, position-based (like XPBD): a body's velocity is its last displacement, so two
            # frames determine the state and the dynamics are Markov in the model's two context frames
            p_vel = action * c.pusher_speed
            pusher = np.clip(pusher + p_vel * dt, -ws - 0.05, ws + 0.05)
            prev_boxes, prev_yaw = boxes.copy(), yaw.copy()
            boxes = boxes + c.damping * vel * dt  # sliding with friction
            yaw = yaw + c.damping * omega * dt
            for k in range(nb):  # pusher contact: push the box out along the normal; tangential push spins it
                d = boxes[k] - pusher
                dist = max(float(np.linalg.norm(d)), 1e-9)
                if dist < r_box + c.pusher_radius:
                    n = d / dist
                    boxes[k] = pusher + n * (r_box + c.pusher_radius)
                    yaw[k] += c.spin_gain * float(n[0] * p_vel[1] - n[1] * p_vel[0]) * 0.5 * dt
            for i in range(nb):  # box-box: separate along the normal
                for j in range(i + 1, nb):
                    d = boxes[j] - boxes[i]
                    dist = max(float(np.linalg.norm(d)), 1e-9)
                    if dist < 2 * r_box:
                        n = d / dist
                        push = 0.5 * (2 * r_box - dist)
                        boxes[i] -= n * push
                        boxes[j] += n * push
            boxes = np.clip(boxes, -ws, ws)  # walls
            vel, omega = (boxes - prev_boxes) / dt, (yaw - prev_yaw) / dt
            yaw = (yaw + np.pi) % (2 * np.pi) - np.pi
        return {k: np.asarray(v, dtype=np.bool_ if k == "next.done" else np.float32) for k, v in out.items()}


def write_synthetic_dataset(root: str | Path, cfg: SyntheticPushConfig = SyntheticPushConfig(),
                            format: str = "lerobot", with_images: bool = True) -> Path:
    """Write the synthetic world as a gwm dataset (needs gwm.data; images need gwm.render)."""
    from gwm.cameras import fixed_cameras
    from gwm.data import create_recorder

    src = SyntheticPushDataset(cfg)
    spec = src.dataset_spec(with_images)
    cams = fixed_cameras(spec.cameras)
    rec = create_recorder(root, spec, format=format, canonical_gaussians=src.canonical_gaussians(),
                          image_format="png", metadata=src.metadata)
    for e in range(src.num_episodes):
        ep = src.episode(e)
        for t in range(cfg.episode_length):
            frame = {k: v[t] for k, v in ep.items()}
            if with_images:
                from gwm.render import rasterize

                rgb = rasterize(src.gaussians_at(e, t), cams).rgb
                for i, cam in enumerate(spec.cameras):
                    frame[f"observation.images.{cam.name}"] = (rgb[i].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
            rec.add_frame(frame, task="push boxes")
        rec.save_episode(success=True, seed=src.episode_info(e)["seed"])
    return rec.finalize()


__all__ = ["SyntheticPushConfig", "SyntheticPushDataset", "write_synthetic_dataset"]

"""Shared set-up for the tracker tests: the demo scene's body-bound Gaussians and two cameras."""

from __future__ import annotations

import numpy as np
import torch

from gwm.track.bodies import BodyGaussians
from sim_tasks.demo_scene import make_demo_scene
from gwm.geometry import matrix_to_pose7
from sim_tasks.real_streams import observing_cameras

BACKGROUND_RGB = torch.tensor([0.5, 0.5, 0.5])


def demo_setup(num_cameras: int = 2, width: int = 128, height: int = 96, robot_link: str | None = None):
    """BodyGaussians of the demo scene (background + objects, optionally one object relabelled as a
    robot link), poses (B,7) at the scene's initial state, and cameras."""
    scene = make_demo_scene()
    names = ("background", *scene.object_names)
    roles = ["background"] + [("robot_link" if o.name == robot_link else o.role) for o in scene.objects]
    canonical = {"background": scene.background, **{o.name: o.splats for o in scene.objects}}
    bodies = BodyGaussians(canonical, names, roles)
    poses = np.stack([[0, 0, 0, 1.0, 0, 0, 0]] + [matrix_to_pose7(o.world_from_body.numpy()) for o in scene.objects])
    cameras, specs = observing_cameras(scene, num_cameras, width, height)
    return scene, bodies, poses, cameras, specs


def render(bodies: BodyGaussians, poses: np.ndarray, cameras) -> torch.Tensor:
    from gwm.render import rasterize

    with torch.no_grad():
        return rasterize(bodies.posed(poses), cameras, background=BACKGROUND_RGB, backend="cpu").rgb


class StillTwin:
    """A twin whose bodies stay where the test puts them (`_poses`; the tracker's inputs only, no physics)."""

    def __init__(self, names, roles, poses):
        self.body_names, self.body_roles, self.control_dt = tuple(names), tuple(roles), 1 / 30
        self._poses = np.asarray(poses, np.float64)

    def body_poses(self):
        return self._poses.copy()

    def body_velocities(self):
        return np.zeros((len(self._poses), 6))

    def mass_properties(self):
        n = len(self._poses)
        return np.ones(n), np.tile(np.eye(3) * 1e-3, (n, 1, 1)), np.zeros((n, 3))

    def support_friction(self):
        return np.ones(len(self._poses))

    def step(self, wrenches):
        pass


def still_tracker(scene, config):
    """A Tracker of the scene's objects on a StillTwin (each upright where the scene puts it), seen by one camera
    at 160x120 (the benchmark's size)."""
    from gwm.track.loop import BACKGROUND, Tracker

    names = tuple(o.name for o in scene.objects)
    poses = np.stack([np.r_[o.world_from_body[:3, 3].numpy(), 1.0, 0.0, 0.0, 0.0] for o in scene.objects])
    twin = StillTwin(names, [o.role for o in scene.objects], poses)
    canonical = {BACKGROUND: scene.background, **{o.name: o.splats for o in scene.objects}}
    cams, _ = observing_cameras(scene, 1, 160, 120)
    return Tracker(twin, canonical, cams, config)

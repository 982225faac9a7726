"""An object moved off its place leaves the support behind, not the stump of its base."""

import math

import numpy as np
import torch

from gwm.cameras import Cameras
from gwm.render import rasterize
from gwm.scene.asset import SceneObject
from gwm.scene.plane import Plane
from gwm.scene.underside import free_the_support
from gwm.splats import GaussianSplats

TABLE, BLUE, NONE = (0.6, 0.4, 0.2), (0.1, 0.2, 0.9), (1.0, 0.0, 1.0)
CLEARANCE, RADIUS, HEIGHT = 0.01, 0.04, 0.1


def _gaussians(means, rgb, size):
    n = len(means)
    return GaussianSplats.from_activated(
        torch.as_tensor(means, dtype=torch.float32), torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1),
        torch.full((n, 3), size), torch.full((n,), 0.99), rgb=torch.tensor([rgb]).repeat(n, 1))


def _capture_like():
    """A table seen everywhere but under a standing cylinder (a hole), and the cylinder's side, whose lowest
    CLEARANCE was cut into the background with the table's noise band, as assembly cuts objects."""
    xs = np.arange(-0.2, 0.2001, 0.004)
    grid = np.stack(np.meshgrid(xs, xs), -1).reshape(-1, 2)
    grid = grid[np.linalg.norm(grid, axis=1) > RADIUS + 0.002]  # never seen under the object
    table = _gaussians(np.c_[grid, np.zeros(len(grid))], TABLE, 0.003)
    a, z = np.meshgrid(np.linspace(0, 2 * math.pi, 60, endpoint=False), np.arange(0.001, HEIGHT, 0.004))
    side = np.stack([RADIUS * np.cos(a.ravel()), RADIUS * np.sin(a.ravel()), z.ravel()], 1)
    stump = side[:, 2] <= CLEARANCE
    world = GaussianSplats.cat([table, _gaussians(side[stump], BLUE, 0.003), _gaussians(side[~stump], BLUE, 0.003)])
    background = np.zeros(len(world), bool)
    background[:len(table) + stump.sum()] = True
    com = np.array([0.0, 0.0, HEIGHT / 2])
    ring = np.stack([RADIUS * np.cos(np.linspace(0, 2 * math.pi, 24, endpoint=False)),
                     RADIUS * np.sin(np.linspace(0, 2 * math.pi, 24, endpoint=False))], 1)
    hull = np.concatenate([np.c_[ring, np.zeros(24)], np.c_[ring, np.full(24, HEIGHT)]]) - com
    import trimesh

    mesh = trimesh.Trimesh(hull).convex_hull
    pose = torch.eye(4, dtype=torch.float64)
    pose[:3, 3] = torch.from_numpy(com)
    body = world[torch.from_numpy(~background)].transform(torch.linalg.inv(pose).float())
    obj = SceneObject("can", body, pose, 0.2, 0.6, np.asarray(mesh.vertices), np.asarray(mesh.faces))
    return world, background, obj, int(stump.sum())


def _top_view(splats):
    """64x64 straight down onto the table's centre; returns the pixels within 3 cm of the centre."""
    f = 64 * 1.0 / 0.3
    K = torch.tensor([[f, 0, 32.0], [0, f, 32.0], [0, 0, 1.0]])
    m = torch.eye(4)
    m[:3, :3] = torch.tensor([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])
    m[:3, 3] = torch.tensor([0.0, 0.0, 1.0])
    with torch.no_grad():
        rgb = rasterize(splats, Cameras(K, m, 64, 64), background=torch.tensor(NONE), backend="cpu").rgb[0]
    yy, xx = np.mgrid[:64, :64]
    return rgb.numpy()[np.hypot(xx - 31.5, yy - 31.5) < 0.03 * f]


def test_the_base_goes_with_the_object_and_the_support_is_filled():
    world, background, obj, stump = _capture_like()
    plane = Plane(normal=np.array([0.0, 0.0, 1.0]), point=np.zeros(3))
    (moved,), rest, stats, fill = free_the_support(world, background, [obj], plane, CLEARANCE)
    base = stats["can"]["base_gaussians"]
    assert len(moved.splats) == len(obj.splats) + base and len(rest) == background.sum() - base + fill
    # All of the stump went with it (and the table's few millimetres at its edge), none of the rest.
    blue = np.abs(rest.rgb_dc.numpy() - BLUE).max(1) < 1e-3
    assert not blue.any() and stump <= base <= stump + 0.5 * stump and fill > 100
    # The fill lies on the plane, in the table's colour.
    np.testing.assert_allclose(rest.means[-fill:, 2].numpy(), -CLEARANCE - 0.001, atol=1e-7)  # behind the band
    np.testing.assert_allclose(rest.rgb_dc[-fill:].numpy(), np.tile(TABLE, (fill, 1)), atol=1e-3)
    # The object taken away: where it stood, the table. Before, the table's hole and the blue stump.
    np.testing.assert_allclose(_top_view(rest).mean(0), TABLE, atol=0.03)
    before = _top_view(world[torch.from_numpy(background)])
    assert np.abs(before.mean(0) - np.array(TABLE)).max() > 0.15

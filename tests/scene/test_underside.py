"""An object moved off its place leaves the support behind, not the stump of its base."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from gwm.cameras import Cameras
from gwm.render import rasterize
from gwm.scene.asset import SceneAsset, SceneObject
from gwm.scene.plane import Plane, convex_outline, inside_distance
from gwm.scene.underside import reveal_support, support_reveal
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


def _shown(background, rule, world_from_body):
    """The background with the rule's visibility applied to its last Gaussians."""
    vis = torch.ones(len(background))
    vis[-rule.count:] = torch.from_numpy(rule.visibility(world_from_body)).float()
    opacity = (background.opacities * vis).clamp(1e-6, 1 - 1e-6)
    return GaussianSplats(background.means, background.quats_wxyz, background.log_scales,
                          torch.log(opacity) - torch.log1p(-opacity), background.sh)


def test_the_stump_hides_and_the_support_shows_where_the_object_moved_away():
    world, background, obj, stump = _capture_like()
    plane = Plane(normal=np.array([0.0, 0.0, 1.0]), point=np.zeros(3))
    seen = world[torch.from_numpy(background)]
    out, objects, rule = support_reveal(seen, [obj], plane, CLEARANCE)
    assert objects == [obj]  # not a container: it keeps its own Gaussians
    fill = int((~rule.stump).sum())
    # All of the stump is marked (and the table's few millimetres at its edge), none of the rest; the fill
    # lies on the plane behind the band, in the table's colour.
    assert len(out) == len(seen) + fill and rule.names == ("can",) and fill > 100
    assert stump <= rule.stump.sum() <= 1.5 * stump
    blue = np.abs(out.rgb_dc.numpy() - BLUE).max(1) < 1e-3
    assert blue[-rule.count:].sum() == stump and not blue[:-rule.count].any()
    np.testing.assert_allclose(out.means[-fill:, 2].numpy(), -CLEARANCE - 0.001, atol=1e-7)
    np.testing.assert_allclose(out.rgb_dc[-fill:].numpy(), np.tile(TABLE, (fill, 1)), atol=1e-3)
    # At rest the render is the capture's: the stump shown, the fill hidden.
    rest = obj.world_from_body.numpy()
    np.testing.assert_allclose(_top_view(_shown(out, rule, [rest])), _top_view(seen), atol=2e-3)
    # The object taken 10 cm away: where it stood, the table. Without the rule, the hole and the blue stump.
    away = rest.copy()
    away[0, 3] += 0.1
    np.testing.assert_allclose(_top_view(_shown(out, rule, [away])).mean(0), TABLE, atol=0.03)
    assert np.abs(_top_view(seen).mean(0) - np.array(TABLE)).max() > 0.15
    # Half-way (3 cm): the part it still covers keeps the stump.
    part = rest.copy()
    part[0, 3] += 0.03
    vis = rule.visibility([part])
    covered = inside_distance(convex_outline(plane.plan(obj.collision_vertices + part[:3, 3])), rule.plan) > 0
    assert np.all(vis[rule.stump & covered] == 1.0) and np.all(vis[~rule.stump & covered] == 0.0)
    assert vis[~rule.stump & ~covered].max() == 1.0


def test_a_container_takes_its_floor_and_contents_along():
    # A bowl's stump is its floor and what it holds: moved 10 cm, they go with it, and the table shows where
    # it stood, as for any object.
    world, background, obj, stump = _capture_like()
    bowl = dataclasses.replace(obj, role="container")
    plane = Plane(normal=np.array([0.0, 0.0, 1.0]), point=np.zeros(3))
    seen = world[torch.from_numpy(background)]
    out, (moved,), rule = support_reveal(seen, [bowl], plane, CLEARANCE)
    taken = len(moved.splats) - len(obj.splats)  # the stump, and the table's few millimetres at its edge
    assert not rule.stump.any() and stump <= taken <= 1.5 * stump
    assert len(out) == len(seen) - taken + rule.count
    rest = bowl.world_from_body.numpy()
    away = rest.copy()
    away[0, 3] += 0.1
    shown = _shown(out, rule, [away])
    np.testing.assert_allclose(_top_view(shown).mean(0), TABLE, atol=0.03)
    # The bowl's own Gaussians carry its stump (all of its blue base) to where it went, on the plane's band.
    carried = moved.splats.transform(torch.as_tensor(away, dtype=torch.float32))[len(obj.splats):]
    xyz = carried.means.numpy()
    assert (np.abs(carried.rgb_dc.numpy() - BLUE).max(1) < 1e-3).sum() == stump
    assert np.all(np.hypot(xyz[:, 0] - 0.1, xyz[:, 1]) < RADIUS + 0.006) and np.all(np.abs(xyz[:, 2]) <= CLEARANCE)


def test_a_scene_without_its_support_plane_is_left_as_it_is():
    world, background, obj, _ = _capture_like()
    scene = SceneAsset(background=world[torch.from_numpy(background)], objects=[obj],
                       support_vertices=np.zeros((0, 3)), support_faces=np.zeros((0, 3), np.int64),
                       robot_base=torch.eye(4, dtype=torch.float64), metadata={})
    out, objects, rule = reveal_support(scene)
    assert rule is None and out is scene.background and objects == [obj]
    scene.metadata.update(plane={"normal": [0, 0, 1.0], "point": [0, 0, 0.0]},
                          config={"assembly": {"support_clearance": CLEARANCE}})
    out, _, rule = reveal_support(scene)
    assert rule is not None and len(out) > len(scene.background)


def test_the_tracker_shows_the_support_where_its_twin_moved_the_object_away():
    from gwm.track.config import TrackerConfig
    from gwm.track.loop import Tracker, TrackInputError, scene_gaussians
    from tests.track.helpers import StillTwin

    world, background, obj, _ = _capture_like()
    scene = SceneAsset(background=world[torch.from_numpy(background)], objects=[obj],
                       support_vertices=np.zeros((0, 3)), support_faces=np.zeros((0, 3), np.int64),
                       robot_base=torch.eye(4, dtype=torch.float64),
                       metadata={"plane": {"normal": [0, 0, 1.0], "point": [0, 0, 0.0]},
                                 "config": {"assembly": {"support_clearance": CLEARANCE}}})
    f = 64 * 1.0 / 0.3
    K = torch.tensor([[f, 0, 32.0], [0, f, 32.0], [0, 0, 1.0]])
    m = torch.eye(4)
    m[:3, :3] = torch.tensor([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])
    m[:3, 3] = torch.tensor([0.0, 0.0, 1.0])
    cams = Cameras(K, m, 64, 64)
    yy, xx = np.mgrid[:64, :64]
    spot = np.hypot(xx - 31.5, yy - 31.5) < 0.03 * f  # where the can stood

    def fixed_rgb(tracker):
        layer = tracker.fixed_layer(tracker.all_poses())  # everything but the can
        return (layer.rgb[0] + (1 - layer.alpha[0]) * torch.tensor(NONE)).numpy()[spot]

    config = TrackerConfig(render_backend="cpu")
    twin = StillTwin(["can"], ["object"], [np.r_[obj.world_from_body[:3, 3].numpy(), 1.0, 0, 0, 0]])
    canonical, reveal = scene_gaussians(scene, config)
    tracker = Tracker(twin, canonical, cams, config, reveal=reveal)
    at_rest = fixed_rgb(tracker)  # the stump and the hole, as the capture has them
    assert np.abs(at_rest.mean(0) - np.array(TABLE)).max() > 0.15
    twin._poses[0, 0] += 0.1
    np.testing.assert_allclose(fixed_rgb(tracker).mean(0), TABLE, atol=0.03)
    twin._poses[0, 0] -= 0.1  # back: as at first
    np.testing.assert_allclose(fixed_rgb(tracker), at_rest, atol=1e-6)
    # Off, the stump stays where the can stood.
    canonical_off, none = scene_gaussians(scene, TrackerConfig(reveal_support=False))
    assert none is None
    off = Tracker(twin, canonical_off, cams, config)
    twin._poses[0, 0] += 0.1
    assert np.abs(fixed_rgb(off).mean(0) - np.array(TABLE)).max() > 0.15
    with pytest.raises(TrackInputError, match="not bodies of the twin"):
        Tracker(twin, canonical, cams, config,
                reveal=dataclasses.replace(reveal, names=("mug",)))

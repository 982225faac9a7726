"""What an object stood on, shown where it moved away: its stump hidden, the support under it filled.

Objects are cut from the splat `support_clearance` above the plane (the plane's own Gaussians scatter up to
there), so each object's lowest millimetres (a mug's foot, a bowl's floor, a tray's bottom) stay in the
background, and no camera ever saw the support under it. Moved in simulation, an object left that stump
behind, on a hole. A render that moves objects (the tracker's) uses `reveal_support`: the band's Gaussians on
an object's footprint (its hull's base on the plane) are its stump, the patch under its outline (the hull
seen from above) gets flat Gaussians in the support's colours (each the mean colour of the nearest support
Gaussians outside every outline), under the band, and `SupportReveal.visibility` shows the fill and hides the
stump wherever no object stands now. At rest nothing changes. A container's stump is its floor and what it
holds (the kitchen's bowl of fruit): that goes with it instead (the container's Gaussians take it).

Measured and not used (the README has the figures): the fill drawn always, at assembly (a capture's object
Gaussians are not opaque at their base, so the fill showed through them at rest: the tracker's matched loss
per object rose 1.4-7x on the kitchen sample); the stump moved with its object instead of hidden (the
samples' pushes were followed better, but with 1 camera the tracker drove tipping objects further off: the
kitchen's model-right run 24.3 -> 28.8 mm against 24.9 open loop): only containers take theirs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from gwm.geometry import rotmat_to_quat
from gwm.scene.plane import Plane, convex_outline, inside_distance
from gwm.splats import GaussianSplats

BASE_MARGIN_M = 0.005  # band Gaussians this close outside the hull's base are its edge
FILL_SPACING_M = 0.005
FILL_MARGIN_M = 0.003  # the fill reaches this far past the outline (the object's Gaussians overhang its hull)
FILL_DEPTH_M = 0.001  # below the band: behind every Gaussian the capture put there
COLOUR_NEIGHBOURS = 8
FILL_OPACITY = 0.98
FILL_THICKNESS_M = 0.0005
REVEAL_RAMP_M = 0.003  # fill fades in, and stumps fade out, over this much past an object's current outline


@dataclass(frozen=True)
class SupportReveal:
    """The last `count` background Gaussians, shown or hidden by where the objects stand now: the objects'
    stumps (`stump`: hidden where no object stands) and, after them, the support fill (shown there)."""

    count: int
    plane: Plane
    plan: np.ndarray  # (count, 2) their centres in the plane's frame
    stump: np.ndarray  # (count,) bool: a stump Gaussian (else fill)
    names: tuple[str, ...]  # the objects, in `hulls` order
    hulls: tuple[np.ndarray, ...]  # each object's collision vertices, body frame

    def visibility(self, world_from_body: list[np.ndarray]) -> np.ndarray:
        """(count,) opacity multipliers 0..1 with the objects at poses (4,4) each (`names` order). A point is
        uncovered REVEAL_RAMP_M past every object's outline seen from above (grown by the fill's margin), and
        covered under it; at the objects' rest poses all is covered: stumps shown, fill hidden."""
        inside = np.full(len(self.plan), -np.inf)
        for hull, pose in zip(self.hulls, world_from_body):
            pose = np.asarray(pose, np.float64)
            ring = convex_outline(self.plane.plan(hull @ pose[:3, :3].T + pose[:3, 3]))
            if ring is not None:
                inside = np.maximum(inside, inside_distance(ring, self.plan))
        uncovered = np.clip((-inside - FILL_MARGIN_M) / REVEAL_RAMP_M, 0.0, 1.0)
        return np.where(self.stump, 1.0 - uncovered, uncovered)


def reveal_support(scene) -> tuple[GaussianSplats, list, SupportReveal | None]:
    """A scene's (gwm.scene.asset.SceneAsset) background reordered with its objects' stumps and the support
    fill last, its objects (a container with its floor and contents), and the rule that shows or hides the
    stumps and fill (SupportReveal). The background and objects unchanged, with no rule, for a scene without
    the support plane and clearance it was assembled with (a synthetic scene has no stumps)."""
    plane_meta = scene.metadata.get("plane")
    clearance = (scene.metadata.get("config") or {}).get("assembly", {}).get("support_clearance")
    if not plane_meta or clearance is None or not scene.objects:
        return scene.background, list(scene.objects), None
    plane = Plane(normal=np.asarray(plane_meta["normal"], np.float64),
                  point=np.asarray(plane_meta["point"], np.float64))
    return support_reveal(scene.background, list(scene.objects), plane, float(clearance))


def support_reveal(background: GaussianSplats, objects: list, plane: Plane, clearance: float):
    """background: the Gaussians not in any object (world frame), objects: gwm.scene.asset.SceneObject at rest.
    Returns the background with the stumps and then the fill last, the objects (a container's stump, its floor
    and contents, moved from the background to its Gaussians in its body frame), and the SupportReveal for the
    stumps and fill (None when there is neither)."""
    means = background.means.double().numpy()
    plan = plane.plan(means)
    hulls = [o.collision_vertices.astype(np.float64) @ o.world_from_body[:3, :3].numpy().T
             + o.world_from_body[:3, 3].numpy() for o in objects]
    rings = [r for r in (convex_outline(plane.plan(v)) for v in hulls) if r is not None]  # seen from above
    band = np.abs(plane.signed_distance(means)) <= clearance  # a container's floor may sit in the support's noise
    stump = np.zeros(len(means), bool)
    objects = list(objects)
    for i, (obj, v) in enumerate(zip(objects, hulls)):  # what stands on a hull's base, or its edge
        foot = convex_outline(plane.plan(v[np.abs(plane.signed_distance(v)) < 1e-6]))
        if foot is None:
            continue
        own = band & ~stump & (inside_distance(foot, plan) >= -BASE_MARGIN_M)  # Gaussians overhang the hull
        if obj.role == "container" and own.any():  # its floor and contents: they go with it
            body_from_world = torch.linalg.inv(obj.world_from_body).to(background.means.dtype)
            objects[i] = dataclasses.replace(obj, splats=GaussianSplats.cat(
                [obj.splats, background[torch.from_numpy(own)].transform(body_from_world)]))
            taken = own
        else:
            taken = np.zeros_like(own)
        stump |= own & ~taken
        background = background[torch.from_numpy(~taken)] if taken.any() else background
        means, plan, band, stump = means[~taken], plan[~taken], band[~taken], stump[~taken]
    fill = _fill(background, ~stump, band, plan, rings, plane, clearance + FILL_DEPTH_M)
    count = int(stump.sum()) + len(fill)
    if count == 0:
        return background, objects, None
    out = GaussianSplats.cat([background[torch.from_numpy(~stump)], background[torch.from_numpy(stump)], fill])
    rule = SupportReveal(count, plane, plane.plan(out.means[-count:].double().numpy()),
                         np.arange(count) < int(stump.sum()), tuple(o.name for o in objects),
                         tuple(np.asarray(o.collision_vertices, np.float64) for o in objects))
    return out, objects, rule


def _fill(world: GaussianSplats, free: np.ndarray, band: np.ndarray, plan: np.ndarray, rings: list, plane: Plane,
          depth: float) -> GaussianSplats:
    """Flat support-coloured Gaussians `depth` below the plane on a grid over every outline (grown by FILL_MARGIN_M)."""
    from scipy.spatial import cKDTree

    sh_bases = world.sh.shape[1]
    if not rings:
        return GaussianSplats.empty(world.sh_degree, world.means.dtype)
    grid = []
    for ring in rings:
        lo, hi = ring.min(0) - FILL_MARGIN_M, ring.max(0) + FILL_MARGIN_M
        xs, ys = np.arange(lo[0], hi[0], FILL_SPACING_M), np.arange(lo[1], hi[1], FILL_SPACING_M)
        pts = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
        grid.append(pts[inside_distance(ring, pts) >= -FILL_MARGIN_M])
    grid = np.concatenate(grid)
    covered = np.zeros(len(plan), bool)
    for ring in rings:
        covered |= inside_distance(ring, plan) >= -FILL_MARGIN_M
    ref = np.flatnonzero(free & band & ~covered & (world.opacities.double().numpy() >= 0.5))
    if len(grid) == 0 or len(ref) == 0:  # nothing to fill, or no support seen to take colours from
        return GaussianSplats.empty(world.sh_degree, world.means.dtype)
    k = min(COLOUR_NEIGHBOURS, len(ref))
    _, nn = cKDTree(plan[ref]).query(grid, k=k)
    dc = world.sh[torch.from_numpy(ref), 0, :].double().numpy()[nn.reshape(len(grid), k)].mean(1)
    frame = plane.frame()
    means = plane.point + grid @ frame[:, :2].T - depth * frame[:, 2]
    n = len(grid)
    sh = torch.zeros(n, sh_bases, 3, dtype=world.sh.dtype)
    sh[:, 0, :] = torch.from_numpy(dc).to(world.sh.dtype)
    quat = torch.as_tensor(rotmat_to_quat(frame), dtype=world.means.dtype)
    scales = torch.tensor([0.6 * FILL_SPACING_M, 0.6 * FILL_SPACING_M, FILL_THICKNESS_M], dtype=world.means.dtype)
    return GaussianSplats.from_activated(
        means=torch.from_numpy(means).to(world.means.dtype), quats_wxyz=quat.expand(n, 4).clone(),
        scales=scales.expand(n, 3).clone(), opacities=torch.full((n,), FILL_OPACITY, dtype=world.means.dtype), sh=sh)

"""What an object stood on: its base goes with it, and the support under it is filled.

Objects are cut from the splat `support_clearance` above the plane (the plane's own Gaussians scatter up to
there), so each object's lowest millimetres (a mug's foot, a bowl's floor, a tray's bottom) stayed in the
background, and no camera ever saw the support under it. Moved in simulation, an object left that stump
behind. Here the band's Gaussians on an object's footprint (its hull's base on the plane) go with the object,
and the patch under its outline (the hull seen from above) is filled with flat Gaussians in the support's
colours (each the mean colour of the nearest support Gaussians outside every outline), under the band.

Off by default (assembly.fill_under_objects): a capture's object Gaussians are not opaque at their base (they
were fitted with nothing behind them), so the fill shows through them at rest; on the kitchen sample it raised
the tracker's matched loss per object 1.4-7x (the bowl's floor turned table-coloured). The README has the
figures, and what else was tried.
"""

from __future__ import annotations

import dataclasses

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


def free_the_support(world: GaussianSplats, background: np.ndarray, objects: list, plane: Plane, clearance: float):
    """world: every Gaussian (world frame); background: (N,) bool, those not in an object. Returns the objects
    with their bases, the background without them and with the fill appended last, and per-object stats."""
    means = world.means.double().numpy()
    height = plane.signed_distance(means)
    plan = plane.plan(means)
    hulls = [o.collision_vertices.astype(np.float64) @ o.world_from_body[:3, :3].numpy().T
             + o.world_from_body[:3, 3].numpy() for o in objects]
    rings = [convex_outline(plane.plan(v)) for v in hulls]  # seen from above
    feet = [convex_outline(plane.plan(v[np.abs(plane.signed_distance(v)) < 1e-6])) for v in hulls]  # on the plane
    band = background & (np.abs(height) <= clearance)  # a container's floor may sit in the support's noise
    free = background.copy()
    out, stats = [], {}
    for obj, foot in zip(objects, feet):
        base = np.zeros(len(means), bool)
        if foot is not None:  # what stands on the hull's base, or its edge: Gaussians overhang the centres' hull
            idx = np.flatnonzero(band & free)
            base[idx[inside_distance(foot, plan[idx]) >= -BASE_MARGIN_M]] = True
        free &= ~base
        splats = obj.splats
        if base.any():  # into the body frame, after the Gaussians it already has
            body_from_world = torch.linalg.inv(obj.world_from_body).to(world.means.dtype)
            splats = GaussianSplats.cat([splats, world[torch.from_numpy(base)].transform(body_from_world)])
        out.append(dataclasses.replace(obj, splats=splats))
        stats[obj.name] = {"base_gaussians": int(base.sum())}
    fill = _fill(world, free, band, plan, [r for r in rings if r is not None], plane, clearance + FILL_DEPTH_M)
    return out, GaussianSplats.cat([world[torch.from_numpy(free)], fill]), stats, len(fill)


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

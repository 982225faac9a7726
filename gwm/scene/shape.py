"""Object roles from shape: is an object a container (something another object of the scene can go in)?

The rule, on the object's opaque Gaussians (centres with opacity >= the hull's min opacity), heights
measured above the support plane:

1. Height map: the centres binned top-down into square cells (cell = the median distance from a centre
   to its 4th nearest neighbour, clipped to 3..10 mm: about one sample per cell); each cell keeps its
   highest centre. Empty cells take the mean of their observed neighbours (sampling gaps).
2. Footprint: the convex hull of the occupied cells (a container's wall seen in patches, with gaps of
   several cells, still bounds its inside). Footprint cells that no cell of the object's own Gaussians
   touches take the support's Gaussians there, when given (`floor`): a tray's floor lies within the support's
   clearance, so assembly leaves it to the background, and without it the tray's inside would be
   unknown rather than low. Rim height: the 90th percentile of the heights on the footprint's outline
   (its outermost ring of cells).
3. Cavity: cells strictly inside the footprint whose top lies at least
   depth = max(min_depth, depth_fraction x rim height) below the rim, plus still-empty inner cells
   touching them (the inside of a deep container is often sparsely reconstructed), in connected parts
   that are enclosed: from the middle of a part, at least 75% of 32 horizontal rays meet a wall before
   they leave the footprint (an L-bracket's low foot is open to the side; a sparse rim with gaps still
   stops most rays). A wall stands above the part's floor (median height) by max(min_depth,
   depth_fraction x (rim - floor)), not necessarily at rim height: one side of a rim seen only from
   across the object may be reconstructed low and still holds the cavity in. A closed top (box, can) has no cavity, nor has a vase that is
   widest below its top.
4. Opening: the diameter of the largest disc that fits in one connected cavity (distance transform);
   about a cell narrower than the truth on straight walls, up to three on round ones (cells that touch
   the wall count as rim), so the rule errs towards "not a container".
5. Container iff the opening is at least the smallest footprint among the scene's other objects (the
   longest horizontal chord of its collision hull: a box's diagonal, a can's diameter, so it fits at any
   yaw) plus fit_margin. A mug is open-top, but its opening (~6.6 cm in the kitchen) takes none of the
   other objects (the can needs 6.6 + 1 cm); the kitchen bowl's (~13 cm) takes the can.

A role written in the scene file (`[[objects]] role = ...`) wins; the measurements are recorded in the
scene's metadata either way (stats.objects.<name>.role, role_from, container_test).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class ContainerRule:
    min_cell: float = 0.003  # m, height-map cell bounds
    max_cell: float = 0.01
    min_depth: float = 0.01  # m: a cavity holds at least this much water ...
    depth_fraction: float = 0.25  # ... and at least this fraction of the rim's height (noise on tall objects)
    fit_margin: float = 0.01  # m: the opening must exceed another object's footprint by this much
    rim_percentile: float = 90.0
    rays: int = 32  # enclosure test: horizontal rays from the middle of a cavity ...
    enclosed: float = 0.75  # ... this fraction of which meet the rim before leaving the footprint


@dataclass(frozen=True)
class Cavity:
    """What the height map of one object says about its top (lengths in metres)."""

    cell: float
    rim_height: float  # above the support
    depth_threshold: float  # cavity cells lie at least this far below the rim
    opening: float  # diameter of the largest disc inside one cavity (0: closed top)
    depth: float  # deepest water in that cavity, filled up to where it spills over its rim (0: none)
    volume: float = 0.0  # m^3 of water that cavity holds up to the rim (the air a convex hull encloses there)

    def to_dict(self) -> dict:
        return {k: round(v, 8 if k == "volume" else 5) for k, v in asdict(self).items()}


def measure_cavity(points: np.ndarray, rule: ContainerRule = ContainerRule(), floor: np.ndarray | None = None
                   ) -> Cavity:
    """points (N,3): x, y in the support plane and z = height above it, of an object's opaque Gaussians;
    floor (M,3), the same for the background's opaque Gaussians (only those over the object's footprint count)."""
    from scipy import ndimage
    from scipy.spatial import cKDTree

    pts = np.asarray(points, np.float64).reshape(-1, 3)
    pts = pts[np.isfinite(pts).all(1)]
    if len(pts) < 8:
        return Cavity(rule.max_cell, float(pts[:, 2].max()) if len(pts) else 0.0, rule.min_depth, 0.0, 0.0)
    dist, _ = cKDTree(pts).query(pts, k=5)
    cell = float(np.clip(np.median(dist[:, 4]), rule.min_cell, rule.max_cell))

    # 1. height map (padded by 2 cells so morphology sees an empty border)
    ij = np.floor((pts[:, :2] - pts[:, :2].min(0)) / cell).astype(int) + 2
    shape = tuple(ij.max(0) + 3)
    height = np.full(shape, -np.inf)
    np.maximum.at(height, (ij[:, 0], ij[:, 1]), pts[:, 2])
    ones = np.ones((3, 3))
    own = np.isfinite(height)
    footprint = _convex_fill(own)
    if floor is not None and len(floor):  # only where no cell of the object's own is near (not a sampling gap)
        far = footprint & (ndimage.convolve(own.astype(float), ones, mode="constant") == 0)
        f = np.asarray(floor, np.float64).reshape(-1, 3)
        fij = np.floor((f[:, :2] - pts[:, :2].min(0)) / cell).astype(int) + 2
        ok = np.all((fij >= 0) & (fij < np.array(shape)), axis=1)
        fij, fz = fij[ok], f[ok, 2]
        use = far[fij[:, 0], fij[:, 1]]
        np.maximum.at(height, (fij[use, 0], fij[use, 1]), fz[use])
    observed = np.isfinite(height)
    filled = np.where(observed, height, 0.0)
    n_obs = ndimage.convolve(observed.astype(float), ones, mode="constant")
    mean_nb = ndimage.convolve(filled, ones, mode="constant") / np.maximum(n_obs, 1)
    known = observed | (n_obs > 0)
    height = np.where(observed, height, np.where(known, mean_nb, np.nan))

    # 2. footprint, outline, rim
    inner = ndimage.binary_erosion(footprint, structure=ones)
    outline = footprint & ~inner & observed
    rim = float(np.percentile(height[outline], rule.rim_percentile)) if outline.any() else float(pts[:, 2].max())
    threshold = max(rule.min_depth, rule.depth_fraction * rim)

    # 3. cavity cells: well below the rim, or unknown beside such cells, strictly inside the footprint
    high = known & footprint & (height >= rim - threshold)
    low = inner & known & ~high
    cavity = low | (inner & ~known & ndimage.binary_dilation(low, structure=ones))
    labels, n = ndimage.label(cavity, structure=ones)

    # 4. opening: the largest inscribed disc of an enclosed cavity. The EDT is the distance from a cavity
    # cell's centre to the nearest rim cell's centre; the wall itself lies inside that rim cell (half a cell on).
    edt = ndimage.distance_transform_edt(cavity)
    opening = depth = volume = 0.0
    for k in range(1, n + 1):
        part = labels == k
        d = np.where(part, edt, 0.0)
        centre = np.unravel_index(int(np.argmax(d)), d.shape)
        # Walls: what stands well above this cavity's floor. Not the rim height itself: one side of a rim
        # may be reconstructed low (seen only from across the object), yet still holds the cavity in.
        floor_level = float(np.median(height[part & observed])) if (part & observed).any() else float(np.nanmin(height[part]))
        wall = known & footprint & (height >= floor_level + max(rule.min_depth, rule.depth_fraction * (rim - floor_level)))
        if 2.0 * float(d.max()) * cell > opening and _enclosed(centre, wall, footprint, rule):
            opening = 2.0 * float(d.max()) * cell
            water = rim - height[part & known]
            depth = float(water.max())
            volume = float(np.median(water)) * part.sum() * cell ** 2  # unknown cells: the part's median depth
    return Cavity(cell, rim, threshold, opening, depth, volume)


def _convex_fill(mask: np.ndarray) -> np.ndarray:
    """The cells whose centres lie in the convex hull of the marked cells' centres (plus the marked ones)."""
    from scipy.spatial import ConvexHull, Delaunay, QhullError

    ij = np.argwhere(mask)
    try:
        hull = Delaunay(ij[ConvexHull(ij).vertices])
    except (QhullError, ValueError):  # fewer than 3 cells, or all in a line
        return mask.copy()
    grid = np.indices(mask.shape).reshape(2, -1).T
    return mask | (hull.find_simplex(grid, tol=1e-9) >= 0).reshape(mask.shape)


def _enclosed(centre, wall: np.ndarray, footprint: np.ndarray, rule: ContainerRule) -> bool:
    """At least rule.enclosed of rule.rays horizontal rays from centre (a cell index) meet a wall cell before
    they leave the footprint."""
    angles = np.linspace(0.0, 2 * np.pi, rule.rays, endpoint=False)
    steps = np.arange(1, 2 * max(wall.shape)) * 0.5  # in cells
    pos = np.asarray(centre, float)[None, None] + steps[None, :, None] * np.stack([np.cos(angles), np.sin(angles)], 1)[:, None]
    ij = np.clip(np.round(pos).astype(int), 0, np.array(wall.shape) - 1)  # the padded border is outside
    hit, out = wall[ij[..., 0], ij[..., 1]], ~footprint[ij[..., 0], ij[..., 1]]
    first_hit = np.where(hit.any(1), hit.argmax(1), len(steps))
    first_out = np.where(out.any(1), out.argmax(1), len(steps))
    return float(np.mean(first_hit < first_out)) >= rule.enclosed


def footprint_diameter(xy: np.ndarray) -> float:
    """Longest horizontal chord of a point set (m): the smallest circle it passes through at any yaw."""
    from scipy.spatial import ConvexHull

    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    if len(xy) >= 3:
        try:
            xy = xy[ConvexHull(xy).vertices]
        except Exception:  # degenerate (collinear) footprint: all points are fine
            pass
    d = xy[:, None, :] - xy[None, :, :]
    return float(np.sqrt((d ** 2).sum(-1)).max()) if len(xy) else 0.0


def object_roles(objects, declared, plane, min_opacity: float, rule: ContainerRule = ContainerRule(),
                 background=None) -> tuple[list[str], dict[str, dict]]:
    """Roles for assembled SceneObjects: declared[i] (the scene file's role, or None) or the container rule.

    plane: the support plane (signed_distance); background: the scene's other Gaussians (GaussianSplats, world
    frame; a container's floor may be among them). Returns the roles and, per object, the measurements
    that decided it (for the scene metadata)."""
    floor = None
    if background is not None and len(background):
        means = background.means.double().numpy()
        means = means[background.opacities.double().numpy() >= min_opacity]
        floor = np.column_stack([means[:, :2], plane.signed_distance(means)])
    cavities, footprints = {}, {}
    for obj in objects:
        world = obj.world_splats()
        means = world.means.double().numpy()
        keep = world.opacities.double().numpy() >= min_opacity
        means = means[keep] if keep.sum() >= 8 else means
        heights = np.column_stack([means[:, :2], plane.signed_distance(means)])
        near = None
        if floor is not None:  # the support's own Gaussians over the object's box (not what lies under the table)
            lo, hi = heights[:, :2].min(0), heights[:, :2].max(0)
            near = floor[np.all((floor[:, :2] >= lo) & (floor[:, :2] <= hi), axis=1)
                         & (floor[:, 2] > -rule.min_depth) & (floor[:, 2] < heights[:, 2].max())]
        cavities[obj.name] = measure_cavity(heights, rule, floor=near)
        m = obj.world_from_body.numpy()
        footprints[obj.name] = footprint_diameter((obj.collision_vertices @ m[:3, :3].T + m[:3, 3])[:, :2])
    stats = decide_roles(cavities, footprints, dict(zip(cavities, declared)), rule)
    return [stats[o.name]["role"] for o in objects], stats


def decide_roles(cavities: dict[str, Cavity], footprints: dict[str, float], declared: dict[str, str | None],
                 rule: ContainerRule = ContainerRule()) -> dict[str, dict]:
    """Per object: its role (declared, else container iff its opening takes another object's footprint +
    fit_margin) and the measurements that decided it."""
    stats = {}
    for name, cav in cavities.items():
        others = [f for other, f in footprints.items() if other != name]
        needed = min(others) + rule.fit_margin if others else None
        holds = needed is not None and cav.opening >= needed
        role = declared.get(name)
        stats[name] = {
            "role": role or ("container" if holds else "object"), "role_from": "scene file" if role else "shape",
            "container_test": {**cav.to_dict(), "footprint": round(footprints[name], 5),
                               "needed_opening": None if needed is None else round(needed, 5),
                               "holds_another_object": bool(holds)},
        }
    return stats


__all__ = ["Cavity", "ContainerRule", "decide_roles", "footprint_diameter", "measure_cavity", "object_roles"]

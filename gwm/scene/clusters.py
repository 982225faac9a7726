"""Geometry of the region above a support plane: its rectangle, the objects on it, their boxes.

Shared by `gwm scene init` (which finds the objects) and scene assembly (which keeps, in each
object's crop box, the one connected piece that is the object): one implementation of
"connected", so assembly reproduces what init saw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gwm.geometry import yaw_rotation

LINK_DISTANCE_M = 0.02  # surface Gaussians closer than this belong to one piece (objects closer than this merge)


@dataclass(frozen=True)
class Rect:
    """An oriented rectangle in the xy plane: centre, full side lengths along its axes, yaw (deg)."""

    center: tuple[float, float]
    size: tuple[float, float]
    yaw_deg: float

    @property
    def rotation(self) -> np.ndarray:
        return yaw_rotation(math.radians(self.yaw_deg))[:2, :2]

    def local(self, xy: np.ndarray) -> np.ndarray:
        """(N,2) world xy -> the rectangle's axes (origin at its centre)."""
        return (np.asarray(xy, dtype=np.float64) - self.center) @ self.rotation

    def contains(self, xy: np.ndarray, margin: float = 0.0) -> np.ndarray:
        return np.all(np.abs(self.local(xy)) <= np.asarray(self.size) / 2 - margin, axis=1)

    def corners(self) -> np.ndarray:
        """(4,2) corners, counter-clockwise."""
        h = np.asarray(self.size) / 2
        return np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * h @ self.rotation.T + self.center

    def edges(self) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Each side as (midpoint, outward unit normal, length)."""
        r, h = self.rotation, np.asarray(self.size) / 2
        out = []
        for axis, sign in ((1, -1.0), (0, 1.0), (1, 1.0), (0, -1.0)):
            n = sign * r[:, axis]
            out.append((np.asarray(self.center) + n * h[axis], n, float(2 * h[1 - axis])))
        return out


def min_area_rect(xy: np.ndarray) -> Rect:
    """Smallest rectangle around points (rotating calipers, OpenCV), yaw in [-45, 45) deg: of its two
    axes, x is the one closer to world x."""
    import cv2

    (cx, cy), (w, h), angle = cv2.minAreaRect(np.asarray(xy, dtype=np.float32))
    yaw = float(angle)
    while yaw >= 45.0:  # same rectangle with its axes swapped: keep x closest to world x
        yaw -= 90.0
        w, h = h, w
    while yaw < -45.0:
        yaw += 90.0
        w, h = h, w
    return Rect((float(cx), float(cy)), (float(w), float(h)), yaw)


def attached(seeds: np.ndarray, points: np.ndarray, link: float) -> np.ndarray:
    """(N,) flag per point (N,3): joined to one of the seeds (M,3) through points closer than `link` to each other."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as cc
    from scipy.spatial import cKDTree

    if len(seeds) == 0 or len(points) == 0:
        return np.zeros(len(points), dtype=bool)
    allp = np.concatenate([seeds, points]).astype(np.float64)
    pairs = cKDTree(allp).query_pairs(link, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(allp), len(allp)))
    _, labels = cc(graph, directed=False)
    return np.isin(labels[len(seeds):], labels[:len(seeds)])


def connected_components(points: np.ndarray, link: float = LINK_DISTANCE_M, min_overlap: float = 0.25) -> np.ndarray:
    """(N,) piece label per point (N,3) above a horizontal support; labels ordered by size, largest first.

    Points closer than `link` (transitively) are one piece; then pieces of at least MIN_MERGE_POINTS that
    overlap in plan and in height are one piece too (at least min_overlap of the smaller one's points lie
    in the other's minimum-area footprint rectangle grown by `link`, within its height range): where the
    capture saw little, an object's sides lose touch (the inside of a bowl behind its rim), and separate
    things on a support do not overlap in plan. Last, pieces closer than 2 x link whose tops are within
    RIM_TOLERANCE_M of each other are one piece: the walls of a low open container (a tray), whose floor
    lies in the support's noise band, come apart where the capture saw them thinly; its rim is one height."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as cc
    from scipy.spatial import cKDTree

    n = len(points)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    pairs = cKDTree(points).query_pairs(link, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = cc(graph, directed=False)
    labels = _merge_overlapping(points, labels, min_overlap, link)
    labels = _merge_rims(points, labels, link)
    counts = np.bincount(labels)
    rank = np.empty_like(counts)
    rank[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
    return rank[labels]


MIN_MERGE_POINTS = 5  # smaller pieces never merge (stray Gaussians stay strays)
RIM_TOLERANCE_M = 0.01


def _join_pieces(labels: np.ndarray, joins) -> np.ndarray:
    """Union of pieces (of at least MIN_MERGE_POINTS) for which joins(members_a, members_b) holds, a the larger."""
    counts = np.bincount(labels)
    big = [k for k in np.argsort(-counts) if counts[k] >= MIN_MERGE_POINTS]
    if len(big) < 2:
        return labels
    members = {k: np.flatnonzero(labels == k) for k in big}
    parent = {k: k for k in big}

    def root(k):
        while parent[k] != k:
            k = parent[k]
        return k

    for i, a in enumerate(big):
        for b in big[i + 1:]:
            if root(a) != root(b) and joins(members[a], members[b]):
                parent[root(b)] = root(a)
    out = labels.copy()
    for k in big:
        out[members[k]] = root(k)
    return np.unique(out, return_inverse=True)[1]


def _merge_overlapping(points: np.ndarray, labels: np.ndarray, min_overlap: float, link: float) -> np.ndarray:
    if min_overlap <= 0:
        return labels

    def overlap(a, b):  # b's points in a's footprint (grown by link) and height range
        pa, pb = points[a], points[b]
        inside = min_area_rect(pa[:, :2]).contains(pb[:, :2], margin=-link)
        inside &= (pb[:, 2] >= pa[:, 2].min()) & (pb[:, 2] <= pa[:, 2].max())
        return inside.mean() >= min_overlap

    return _join_pieces(labels, overlap)


def _merge_rims(points: np.ndarray, labels: np.ndarray, link: float) -> np.ndarray:
    from scipy.spatial import cKDTree

    gap = 2 * link

    def same_rim(a, b):  # tops at one height, closer than the gap
        pa, pb = points[a], points[b]
        if abs(pa[:, 2].max() - pb[:, 2].max()) > RIM_TOLERANCE_M:
            return False
        if np.any(pb.min(0) - pa.max(0) > gap) or np.any(pa.min(0) - pb.max(0) > gap):
            return False
        return cKDTree(pa).query(pb, distance_upper_bound=gap)[0].min() < gap

    return _join_pieces(labels, same_rim)


def main_component(points: np.ndarray, link: float = LINK_DISTANCE_M) -> np.ndarray:
    """Boolean mask of the largest connected piece (what a crop box holds of its object)."""
    labels = connected_components(points, link)
    return labels == 0


def skirt(points: np.ndarray, height: np.ndarray, clearance: float, slab: float = 0.01, tolerance: float = 0.01
          ) -> np.ndarray:
    """Flags the support's noise stuck to an object's base: points in the lowest `slab` above the clearance that
    stand more than `tolerance` outside (in plan) the footprint of the object's points in the slab above.
    A thing resting on a support is not wider at its very bottom than just above it."""
    from matplotlib.path import Path as PolyPath
    from scipy.spatial import ConvexHull, QhullError

    low = height <= clearance + slab
    above = (height > clearance + slab) & (height <= clearance + 3 * slab)
    if low.sum() == 0 or above.sum() < 3:
        return np.zeros(len(points), dtype=bool)
    xy = points[above, :2]
    try:
        ring = xy[ConvexHull(xy).vertices]
    except QhullError:  # all in a line
        return np.zeros(len(points), dtype=bool)
    q = points[low, :2]
    a, b = ring, np.roll(ring, -1, axis=0)  # polygon edges a -> b
    ab = b - a
    t = np.clip(np.einsum("pej,ej->pe", q[:, None, :] - a[None], ab) / np.maximum((ab * ab).sum(1), 1e-18), 0, 1)
    dist = np.linalg.norm(q[:, None, :] - (a[None] + t[..., None] * ab[None]), axis=2).min(1)
    outside = ~PolyPath(ring).contains_points(q) & (dist > tolerance)
    out = np.zeros(len(points), dtype=bool)
    out[low] = outside
    return out


@dataclass(frozen=True)
class SupportRegion:
    rect: Rect
    cells: int  # occupied grid cells of the plane that the rectangle was fitted to
    fill: float  # fraction of the rectangle covered by them


def fit_support_rect(inliers_xy: np.ndarray, near_xy: np.ndarray, cell: float = 0.01,
                     min_edge_fill: float = 0.5) -> SupportRegion:
    """The support region: the connected piece of the plane's inliers (holes under objects filled) that
    holds near_xy, as its minimum-area rectangle, with each side pulled in while less than min_edge_fill
    of the cells along it are occupied (rounded corners, noise at the rim)."""
    from scipy import ndimage

    xy = np.asarray(inliers_xy, dtype=np.float64)
    lo = xy.min(0) - 2 * cell
    ij = np.floor((xy - lo) / cell).astype(np.int64)
    shape = tuple(ij.max(0) + 3)
    grid = np.zeros(shape, dtype=bool)
    grid[ij[:, 0], ij[:, 1]] = True
    grid = ndimage.binary_closing(grid, structure=np.ones((3, 3)), iterations=2)
    grid = ndimage.binary_fill_holes(grid)
    grid = ndimage.binary_opening(grid, structure=np.ones((3, 3)))
    labels, count = ndimage.label(grid)
    if count == 0:
        raise ValueError("the support plane's inliers form no connected region")
    near = np.floor((np.asarray(near_xy, dtype=np.float64).reshape(-1, 2) - lo) / cell).astype(np.int64)
    inside = (near >= 0).all(1) & (near < shape).all(1)
    hits = labels[near[inside, 0], near[inside, 1]]
    hits = hits[hits > 0]
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    keep = int(np.bincount(hits).argmax()) if len(hits) else int(sizes.argmax())
    region = labels == keep
    cells = np.argwhere(region)
    centres = lo + (cells + 0.5) * cell
    rect = min_area_rect(centres)
    # Pull in sides whose rim is mostly empty: measure occupancy along each side in the rect frame.
    local = rect.local(centres)
    lo_r, hi_r = -np.asarray(rect.size) / 2, np.asarray(rect.size) / 2
    for _ in range(200):
        moved = False
        for axis in (0, 1):
            other = 1 - axis
            span = max(hi_r[other] - lo_r[other], cell)
            inband = (local[:, other] >= lo_r[other]) & (local[:, other] <= hi_r[other])
            for side in (0, 1):
                edge = lo_r[axis] if side == 0 else hi_r[axis]
                rim = inband & (np.abs(local[:, axis] - edge) <= cell)
                if rim.sum() * cell < min_edge_fill * span and hi_r[axis] - lo_r[axis] > 4 * cell:
                    if side == 0:
                        lo_r[axis] += cell
                    else:
                        hi_r[axis] -= cell
                    moved = True
        if not moved:
            break
    mid = (lo_r + hi_r) / 2
    center = np.asarray(rect.center) + rect.rotation @ mid
    size = hi_r - lo_r  # between the outermost cell centres: cells on the rim hold the edge half a cell in, on average
    rect = Rect((float(center[0]), float(center[1])), (float(size[0]), float(size[1])), rect.yaw_deg)
    fill = float(rect.contains(centres).sum() * cell * cell / max(size[0] * size[1], 1e-12))
    return SupportRegion(rect, int(region.sum()), fill)


__all__ = ["LINK_DISTANCE_M", "Rect", "SupportRegion", "connected_components", "fit_support_rect", "main_component",
           "min_area_rect", "skirt"]

"""The preview `gwm scene init` saves next to the scene file: what it found, drawn where a person can check it.

Left: top view (the splat's Gaussians, the support rectangle, each object's box and hull with its
name, the robot base, its reach circle and the tasks' workspace). Right: one capture image with
the same boxes, the support rectangle, the robot's base and the tasks' workspace projected
through that view's camera.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gwm.atomic_io import atomic_write_path

BOX_EDGES = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)]
COLOURS = ["#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#17becf"]



def _label(result, name: str) -> str:
    """The object's name, with its role when it is not a plain object (a container)."""
    role = result.scene.object(name).role if result.scene is not None else "object"
    return name if role == "object" else f"{name} ({role})"

def box_corners(o) -> np.ndarray:
    """(8,3) corners of an object's box (bottom face first, counter-clockwise)."""
    xy = o.box.corners()
    return np.concatenate([np.c_[xy, np.full(4, o.bottom)], np.c_[xy, np.full(4, o.top)]])


def _reach_ring(result, radius: float, n: int = 96) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n)
    return np.c_[result.robot_position[0] + radius * np.cos(a), result.robot_position[1] + radius * np.sin(a),
                 np.full(n, result.robot_position[2])]


def _task_sector(result, n: int = 48) -> np.ndarray:
    from gwm.scene.autoscene import TASK_BEARING_DEG, TASK_REACH_M

    yaw = math.radians(result.robot_yaw_deg)
    b = np.radians(np.linspace(-TASK_BEARING_DEG, TASK_BEARING_DEG, n)) + yaw
    inner = np.c_[TASK_REACH_M[0] * np.cos(b), TASK_REACH_M[0] * np.sin(b)]
    outer = np.c_[TASK_REACH_M[1] * np.cos(b), TASK_REACH_M[1] * np.sin(b)][::-1]
    ring = np.concatenate([inner, outer, inner[:1]]) + result.robot_position[:2]
    return np.c_[ring, np.full(len(ring), result.robot_position[2])]


def pick_view(result, cams) -> int:
    """The capture view that shows every box whole (and the robot, if one does) and looks most like the robot's
    direction."""
    from gwm.scene.views import project_points

    corners = np.concatenate([box_corners(o) for o in result.objects])
    u, v, z = project_points(cams.Ks, cams.cam_from_world, corners, cams.distortion)
    inside = ((z > 0.05) & (u >= 0) & (u < cams.width) & (v >= 0) & (v < cams.height)).mean(1)
    u, v, z = project_points(cams.Ks, cams.cam_from_world, result.robot_position[None], cams.distortion)
    robot = (z[:, 0] > 0.05) & (u[:, 0] >= 0) & (u[:, 0] < cams.width) & (v[:, 0] >= 0) & (v[:, 0] < cams.height)
    inside = inside + 0.5 * robot
    yaw = math.radians(result.robot_yaw_deg)
    forward = cams.world_from_cam[:, :2, 2]
    forward = forward / np.maximum(np.linalg.norm(forward, axis=1, keepdims=True), 1e-9)
    along = forward @ np.array([math.cos(yaw), math.sin(yaw)])
    return int(np.argmax(inside * 10 + along))


def write_preview(result, world_splats, cams, path: Path) -> Path:
    """Save the two-panel preview PNG (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from gwm.scene.autoscene import PANDA_REACH_M
    from gwm.scene.views import project_points

    fig, (top, cam) = plt.subplots(1, 2, figsize=(15, 6.2), dpi=110, gridspec_kw={"width_ratios": [1, 1.15]})
    # top view ---------------------------------------------------------------------------------
    means = world_splats.means.double().numpy()
    opac = world_splats.opacities.double().numpy()
    rgb = world_splats.rgb_dc.double().numpy()
    z0 = result.robot_position[2]
    span = np.concatenate([result.support.corners(), _reach_ring(result, PANDA_REACH_M)[:, :2]])
    lo, hi = span.min(0) - 0.1, span.max(0) + 0.1
    sel = (opac > 0.3) & np.all((means[:, :2] > lo) & (means[:, :2] < hi), axis=1) & (means[:, 2] > z0 - 0.05) \
        & (means[:, 2] < z0 + 0.6)
    order = np.flatnonzero(sel)[np.argsort(means[sel, 2])]  # higher Gaussians drawn last (on top)
    order = order[:: max(1, len(order) // 60000)]
    top.scatter(means[order, 0], means[order, 1], s=1.5, c=rgb[order], linewidths=0)
    ring = np.append(result.support.corners(), result.support.corners()[:1], axis=0)
    top.plot(ring[:, 0], ring[:, 1], "-", color="#333333", lw=1.5, label="support")
    top_labels = []
    for k, o in enumerate(result.objects):
        c = COLOURS[k % len(COLOURS)]
        xy = np.append(o.box.corners(), o.box.corners()[:1], axis=0)
        top.plot(xy[:, 0], xy[:, 1], "-", color=c, lw=2)
        if result.scene is not None:
            _draw_hull_top(top, result.scene.object(o.name), c)
        top_labels.append(top.annotate(
            _label(result, o.name), (o.box.center[0], o.box.center[1] + o.box.size[1] / 2 + 0.01), color=c, fontsize=9,
            ha="center", va="bottom", weight="bold", bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75)))
    reach = _reach_ring(result, PANDA_REACH_M)
    top.plot(reach[:, 0], reach[:, 1], "--", color="#555555", lw=1, label=f"Panda reach {PANDA_REACH_M} m")
    sector = _task_sector(result)
    top.fill(sector[:, 0], sector[:, 1], color="#ffbf00", alpha=0.18, label="tasks' workspace")
    rx, ry = result.robot_position[:2]
    yaw = math.radians(result.robot_yaw_deg)
    top.add_patch(plt.Circle((rx, ry), 0.08, color="#222222", zorder=5))
    top.arrow(rx, ry, 0.15 * math.cos(yaw), 0.15 * math.sin(yaw), width=0.012, color="#222222", zorder=6)
    top.annotate("robot", (rx, ry - 0.1), ha="center", va="top", fontsize=9, weight="bold")
    top.set_xlim(lo[0], hi[0])
    top.set_ylim(lo[1], hi[1])
    top.set_aspect("equal")
    top.set_xlabel("x (m)")
    top.set_ylabel("y (m)")
    top.legend(loc="lower left", fontsize=8, framealpha=0.85)
    top.set_title(f"top view: {len(result.objects)} objects, support {result.support.size[0]:.2f} x "
                  f"{result.support.size[1]:.2f} m")
    # capture view -------------------------------------------------------------------------------
    k = pick_view(result, cams)
    image = np.asarray(Image.open(cams.image_paths[k]).convert("RGB"))
    cam.imshow(image)
    one = lambda pts: project_points(cams.Ks[k:k + 1], cams.cam_from_world[k:k + 1], pts, cams.distortion)  # noqa: E731

    def polyline(pts, **kw):
        dense = np.concatenate([np.linspace(a, b, 12) for a, b in zip(pts[:-1], pts[1:])])
        u, v, z = one(dense)
        ok = z[0] > 0.02
        cam.plot(np.where(ok, u[0], np.nan), np.where(ok, v[0], np.nan), **kw)

    sup = result.support.corners()
    polyline(np.c_[np.append(sup, sup[:1], 0), np.full(5, z0)], color="white", lw=1.5, ls="--")
    cam_labels = []
    for i, o in enumerate(result.objects):
        c = COLOURS[i % len(COLOURS)]
        corners = box_corners(o)
        for a, b in BOX_EDGES:
            polyline(corners[[a, b]], color=c, lw=2)
        u, v, z = one(corners[4:].mean(0, keepdims=True))
        if z[0, 0] > 0:
            cam_labels.append(cam.annotate(
                _label(result, o.name), (u[0, 0], v[0, 0] - 6), color="white", fontsize=9, ha="center", va="bottom",
                weight="bold", bbox=dict(boxstyle="round,pad=0.15", fc=c, ec="none", alpha=0.85)))
    polyline(_task_sector(result), color="#ffbf00", lw=1.5)
    disc = _reach_ring(result, 0.08, 32)  # the robot's base footprint, and an arrow the way it faces
    u, v, z = one(disc)
    if (z > 0.02).all():
        cam.fill(u[0], v[0], color="black", alpha=0.75)
    yaw = math.radians(result.robot_yaw_deg)
    ahead = result.robot_position + 0.2 * np.array([math.cos(yaw), math.sin(yaw), 0.0])
    polyline(np.array([result.robot_position, ahead]), color="black", lw=2.5)
    u, v, z = one(result.robot_position[None])
    if z[0, 0] > 0:  # label above the base: it often stands near the image's lower edge
        cam.annotate("robot", (u[0, 0], min(v[0, 0], cams.height) - 14), color="white", ha="center", va="bottom",
                     fontsize=9, weight="bold", bbox=dict(boxstyle="round,pad=0.15", fc="black", ec="none", alpha=0.8))
    cam.set_xlim(0, cams.width)
    cam.set_ylim(cams.height, 0)
    cam.set_axis_off()
    cam.set_title(f"capture view {cams.image_paths[k].name}: boxes, support (dashed), robot, tasks' workspace")
    fig.tight_layout()
    separate_labels(fig, top, top_labels)
    separate_labels(fig, cam, cam_labels)
    path = Path(path)
    with atomic_write_path(path, keep_suffix=True) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return path


def separate_labels(fig, ax, labels, gap_px: float = 2.0) -> None:
    """Move each label up on the screen, in order, until it covers none placed before it (objects side by side
    had their names drawn over each other)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    placed = []
    for ann in labels:
        for _ in range(len(labels) + 1):
            box = ann.get_window_extent(renderer)
            hit = [b for b in placed if box.overlaps(b)]
            if not hit:
                break
            rise = max(b.y1 for b in hit) - box.y0 + gap_px  # display pixels, y up
            x, y = ax.transData.transform(ann.xyann)
            ann.xyann = tuple(ax.transData.inverted().transform((x, y + rise)))
        placed.append(ann.get_window_extent(renderer))


def _draw_hull_top(ax, obj, colour) -> None:
    from scipy.spatial import ConvexHull

    m = obj.world_from_body.numpy()
    pts = obj.collision_vertices.astype(np.float64) @ m[:3, :3].T + m[:3, 3]
    h = ConvexHull(pts[:, :2])
    ring = np.append(h.vertices, h.vertices[0])
    ax.fill(pts[ring, 0], pts[ring, 1], color=colour, alpha=0.25, lw=0)


__all__ = ["write_preview", "pick_view", "box_corners"]

"""What a generated sample is: a scene definition, and the per-object ground truth built from it.

A SceneDef holds everything that differs between samples (support and room boxes, lights,
objects, marker, still cameras, video path, image degradation, phone AR export); the code
that draws, renders and writes ground truth is shared (render.py, truth.py, write.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .meshes import PART_BUILDERS, object_solid, trimesh_watertight
from .poses import intrinsics, rigid, rotmat_to_quat_wxyz, yaw_matrix

# The Panda opens 0.08 m (~0.078 between the finger pads); sim_tasks uses the same limit.
MAX_GRASP_WIDTH = 0.075
# An open top: an enclosed cavity (seen from above) at least this deep and wide.
MIN_CAVITY_DEPTH = 0.015
MIN_CAVITY_WIDTH = 0.03
# A container takes another object of the scene: its opening is at least that object's footprint
# diameter (so it fits at any yaw) plus this margin (gwm/scene/shape.py uses the same rule).
CONTAINER_FIT_MARGIN = 0.01
NEARLY_CONVEX_SOLIDITY = 0.9  # volume / convex hull volume


@dataclass(frozen=True)
class StaticBox:
    """An axis-aligned world box (support slab, leg, wall, floor). uv_rects: 6 (u0, v0, u1, v1)
    for faces +x, -x, +y, -y, +z, -z; texture: a key of the scene's textures."""
    name: str
    centre: tuple
    size: tuple
    uv_rects: tuple
    texture: str
    mask_id: int = 0  # 0 room, 1 the support


@dataclass(frozen=True)
class ObjectDef:
    """A movable object: part builder `kind` with `params`, base centre `xy` on the support,
    yaw about +z. Textures: key "<name>_<part>", else "<name>" for every part."""
    name: str
    kind: str
    xy: tuple
    yaw_deg: float
    mass: float
    friction: float
    params: dict
    specular: float = 0.0


@dataclass(frozen=True)
class MarkerDef:
    """A printed ArUco marker lying flat on the support (paper `thickness` thick, a white
    `border` around the black square of side `side`); yaw turns its top edge from +y."""
    marker_id: int
    side: float
    border: float
    xy: tuple
    yaw_deg: float
    dictionary: str = "DICT_4X4_50"
    thickness: float = 0.0003


@dataclass(frozen=True)
class ArExportDef:
    """A phone AR export (nerfstudio layout, ARKit-like world) of some video frames."""
    folder: str
    frame_indices: tuple
    jpeg_quality: int
    drift_m: float  # largest slow translation drift over the recording
    drift_deg: float  # largest slow rotation drift
    jitter_m: float  # per-frame white noise (std per axis)
    jitter_deg: float


@dataclass(frozen=True)
class SceneDef:
    name: str
    origin: str  # where the world origin is, in words
    support: str  # the StaticBox the objects stand on
    support_size: tuple  # x, y, thickness
    top_z: float  # support top in world z
    floor_z: float
    statics: tuple
    objects: tuple
    marker: MarkerDef | None
    textures: Callable  # (rng_for: int -> Generator) -> {key: uint8 RGB image}
    lights: tuple  # MJCF <light .../> elements
    ambient: tuple  # headlight ambient RGB (the headlight adds no diffuse: view-independent shading)
    sky: tuple  # skybox gradient (rgb1, rgb2)
    zfar: float
    shadowclip: float
    width: int
    height: int
    fovy_deg: float
    still_cameras: Callable  # (object records) -> [{group, world_from_cam, file_path}]
    still_exposure: Callable  # (index, world_from_cam) -> sub-exposure poses (one: sharp)
    blurred_stills: tuple  # indices of stills with a shaken exposure
    video_frames: int
    video_fps: int
    video_pose: Callable  # (t in frames) -> world_from_cam
    video_exposure: Callable  # (index) -> sub-exposure poses (one: sharp)
    video_blurred: tuple
    video_crf: int
    video_notes: dict  # how the video path and blur were made, in words, for ground_truth.json
    robot_base: np.ndarray  # suggested Franka base pose (4,4)
    sensor_read_noise: float = 0.0  # std of sensor read noise on video frames, 8-bit levels
    sensor_shot_noise: float = 0.0  # photon noise: std = sqrt(this * level)
    video_jpeg_quality: int | None = None  # each video frame goes through JPEG before H.264
    ar_export: ArExportDef | None = None

    def intrinsics(self) -> np.ndarray:
        return intrinsics(self.width, self.height, self.fovy_deg)


def object_records(scene: SceneDef) -> list[dict]:
    """Ground truth per object: pose of the body frame (origin = centre of mass, axes turned by
    the yaw), size, mesh, mass, friction, and shape facts for scoring (graspable, container)."""
    records = []
    for k, o in enumerate(scene.objects):
        parts = PART_BUILDERS[o.kind](o.params)
        solid = object_solid(parts)
        # Centre of mass of a uniform solid; the mug handle overlaps the wall by a few mm^3 (negligible).
        com_local = np.asarray(solid.center_mass if all(trimesh_watertight(v, f) for v, _, f in parts.values())
                               else solid.bounds.mean(axis=0))
        rot = yaw_matrix(o.yaw_deg)
        base = np.array([*o.xy, scene.top_z])
        world_from_body = rigid(rot, base + rot @ com_local)
        verts_body = np.asarray(solid.vertices) - com_local
        shape = {key: (list(v) if isinstance(v, tuple) else v) for key, v in o.params.items()}
        records.append({
            "name": o.name,
            "mask_id": 2 + k,
            "world_from_body": world_from_body.tolist(),
            "position": world_from_body[:3, 3].tolist(),
            "quat_wxyz": rotmat_to_quat_wxyz(rot),
            "size": (verts_body.max(0) - verts_body.min(0)).tolist(),
            "bbox_body": {"min": verts_body.min(0).tolist(), "max": verts_body.max(0).tolist()},
            "base_centre_in_body": (-com_local).tolist(),
            "shape": {"type": o.kind, **shape},
            "mass_kg": o.mass,
            "friction": o.friction,
            "mesh": f"meshes/{o.name}.obj",
            **shape_facts(np.asarray(solid.vertices), np.asarray(solid.faces), float(solid.volume),
                          float(solid.convex_hull.volume)),
            "_parts": parts,
            "_base": base,
            "_rot": rot,
            "_mesh_body": (verts_body, np.asarray(solid.faces)),
        })
    for r in records:  # a container takes one of the other objects
        others = [o["footprint_diameter"] for o in records if o is not r]
        r["is_container"] = bool(r["cavity"] is not None and others
                                 and r["cavity"]["inscribed_width_m"] >= min(others) + CONTAINER_FIT_MARGIN)
        r["role"] = "container" if r["is_container"] else "object"
    return records


def shape_facts(verts: np.ndarray, faces: np.ndarray, volume: float, hull_volume: float) -> dict:
    """Facts a geometry-based task chooser should find, computed from the mesh (base on z = 0)."""
    width, diameter = horizontal_widths(verts[:, :2])
    cavity = top_cavity(verts, faces)
    solidity = volume / hull_volume
    return {
        "role": None,  # set once every object is known (object_records)
        "is_container": None,
        "open_top": cavity is not None,
        "cavity": cavity,
        "graspable": bool(width <= MAX_GRASP_WIDTH),
        "min_horizontal_width": width,
        "footprint_diameter": diameter,
        "volume_m3": volume,
        "convex_hull_volume_m3": hull_volume,
        "solidity": solidity,
        "convex": bool(solidity >= NEARLY_CONVEX_SOLIDITY),
    }


def horizontal_widths(xy: np.ndarray) -> tuple[float, float]:
    """(narrowest width, longest chord) of the footprint over all horizontal directions. The
    narrowest width lies across one of the convex hull's edges (rotating calipers)."""
    from scipy.spatial import ConvexHull
    from scipy.spatial.distance import pdist

    hull = xy[ConvexHull(xy).vertices]
    best = math.inf
    for a, b in zip(hull, np.roll(hull, -1, axis=0)):
        edge = b - a
        n = np.array([-edge[1], edge[0]]) / np.linalg.norm(edge)
        proj = hull @ n
        best = min(best, float(proj.max() - proj.min()))
    return best, float(pdist(hull).max())


def top_heightmap(verts: np.ndarray, faces: np.ndarray, cell: float, margin: int = 3):
    """Highest surface z seen from straight above on a grid over the footprint (0 where there is
    nothing), rasterised triangle by triangle. Returns (heights (H, W), cell)."""
    lo = verts[:, :2].min(0) - margin * cell
    shape = np.ceil((verts[:, :2].max(0) + margin * cell - lo) / cell).astype(int)
    heights = np.zeros((shape[1], shape[0]))
    cx = lo[0] + (np.arange(shape[0]) + 0.5) * cell
    cy = lo[1] + (np.arange(shape[1]) + 0.5) * cell
    for tri in verts[faces]:
        (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = tri
        det = (y1 - y2) * (x0 - x2) + (x2 - x1) * (y0 - y2)
        if abs(det) < 1e-14:
            continue  # vertical triangle: its top edge is drawn by its neighbours
        i0, i1 = np.searchsorted(cx, [tri[:, 0].min(), tri[:, 0].max()])
        j0, j1 = np.searchsorted(cy, [tri[:, 1].min(), tri[:, 1].max()])
        if i0 >= i1 or j0 >= j1:
            continue
        px, py = np.meshgrid(cx[i0:i1], cy[j0:j1])
        a = ((y1 - y2) * (px - x2) + (x2 - x1) * (py - y2)) / det
        b = ((y2 - y0) * (px - x2) + (x0 - x2) * (py - y2)) / det
        c = 1 - a - b
        inside = (a >= -1e-9) & (b >= -1e-9) & (c >= -1e-9)
        z = np.where(inside, a * z0 + b * z1 + c * z2, 0.0)
        heights[j0:j1, i0:i1] = np.maximum(heights[j0:j1, i0:i1], z)
    return heights, cell


def top_cavity(verts: np.ndarray, faces: np.ndarray, cell: float = 0.002) -> dict | None:
    """An open-top cavity: a region seen from above that lies MIN_CAVITY_DEPTH below the object's
    top and that the object encloses on every side (it does not reach the footprint's outside).
    None when there is none at least MIN_CAVITY_WIDTH across. inscribed_width_m: the widest disc
    (seen from above) inside it."""
    from scipy import ndimage

    heights, cell = top_heightmap(verts, faces, cell)
    top = heights.max()
    low = heights < top - MIN_CAVITY_DEPTH
    labels, n = ndimage.label(low)
    border = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])))
    best = None
    for k in range(1, n + 1):
        if k in border:
            continue
        region = labels == k
        inner = ndimage.distance_transform_edt(region).max() * 2 * cell  # widest inscribed disc
        if inner >= MIN_CAVITY_WIDTH and (best is None or region.sum() > best["area_m2"] / cell**2):
            best = {"area_m2": float(region.sum() * cell**2), "depth_m": float(top - heights[region].mean()),
                    "inscribed_width_m": float(inner)}
    return best


def marker_record(scene: SceneDef) -> dict | None:
    m = scene.marker
    if m is None:
        return None
    rot = yaw_matrix(m.yaw_deg)
    centre = np.array([*m.xy, scene.top_z + m.thickness])
    h = m.side / 2
    corners = [centre + rot @ np.array(c) for c in ((-h, h, 0.0), (h, h, 0.0), (h, -h, 0.0), (-h, -h, 0.0))]
    paper = m.side + 2 * m.border
    return {
        "dictionary": m.dictionary, "id": m.marker_id, "side_m": m.side, "quiet_border_m": m.border,
        "paper_size_m": [paper, paper], "paper_thickness_m": m.thickness,
        "world_from_marker": rigid(rot, centre).tolist(),
        "corners_world": [c.tolist() for c in corners],
        "corner_order": "top-left, top-right, bottom-right, bottom-left of the printed marker (cv2.aruco order)",
        "frame": "origin at the marker centre on the paper surface, x towards the marker's right edge, y towards "
                 "its top edge, z up out of the paper: corners are (-s/2, s/2, 0), (s/2, s/2, 0), (s/2, -s/2, 0), "
                 "(-s/2, -s/2, 0) as in cv2.aruco / solvePnP",
    }

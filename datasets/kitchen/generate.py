"""Regenerate the bundled kitchen capture: `python datasets/kitchen/generate.py`.

A kitchen counter (wood top, cabinet below, tiled backsplash, plaster walls, plank floor)
with four graspable objects (mug, bowl, box, can), rendered offscreen by MuJoCo (an
independent OpenGL mesh renderer; EGL headless, osmesa as a fallback). Every surface is a
mesh with explicit UVs and its own procedurally generated, non-repeating texture, so SIFT
finds features everywhere. Materials are matte (no specular), lights are fixed in the world
(no headlight diffuse), so appearance does not change with the viewpoint.

World frame (the ground truth every stage uses): metres, Z up, origin at the centre of the
counter-top surface (so the table plane is z = 0), +y towards the back wall, +x to the
right seen from the front. Cameras are OpenCV (x right, y down, z forward); K uses the
COLMAP / gsplat pixel convention (pixel i covers [i, i+1], so the image centre is W/2, H/2).

Writes, next to this script: images/*.png (sharp stills), masks/*.png (per-pixel id, see
ground_truth.json "mask_ids"), depth/*.png (uint16 millimetres of z-depth, 0 = nothing),
orbit.mp4 (H.264 orbit video, a few frames motion-blurred on purpose), meshes/<object>.obj
(object meshes in their body frames), preview.jpg, ground_truth.json, and transforms.json +
sparse_pc.ply (the stills with ground-truth poses in nerfstudio layout, points from depth).
Deterministic for a given --seed (textures, geometry, poses; pixels are identical on the
same renderer build).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
SEED = 0
WIDTH, HEIGHT = 400, 300
FOVY_DEG = 55.0
VIDEO_FPS = 30
VIDEO_FRAMES = 150
VIDEO_BLURRED = (44, 45, 46, 104, 105)  # frames rendered with strong motion blur (a camera shake)

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------------
# Scene layout (metres). Counter top surface at z = 0.
# ---------------------------------------------------------------------------------------------
COUNTER_SIZE = (1.0, 0.7, 0.04)  # x, y, thickness; spans x in [-0.5, 0.5], y in [-0.35, 0.35]
FLOOR_Z = -0.9
WALL_Y = 0.35  # back wall plane, flush with the counter's back edge
SIDE_WALL_X = 1.3
ROOM_FRONT_Y = -1.6
WALL_TOP_Z = 1.1

# Graspable objects: position of the body origin (centre of mass) is computed from the mesh;
# these are the base-centre xy and yaw about +z. Sizes fit a Franka gripper (opening 8 cm).
OBJECTS = {
    "mug": dict(xy=(-0.24, -0.04), yaw_deg=35.0, mass=0.30, friction=0.8,
                radius=0.038, height=0.095, wall=0.005, base=0.008,
                handle_radius=0.028, handle_tube=0.0065),
    "bowl": dict(xy=(0.06, 0.11), yaw_deg=0.0, mass=0.25, friction=0.7,
                 radius=0.075, height=0.055, wall=0.006, foot_radius=0.040),
    "box": dict(xy=(0.26, -0.10), yaw_deg=20.0, mass=0.15, friction=0.6,
                size=(0.12, 0.06, 0.085)),
    "can": dict(xy=(-0.04, -0.17), yaw_deg=0.0, mass=0.35, friction=0.6,
                radius=0.033, height=0.12),
}


def suggested_robot_base() -> np.ndarray:
    """A Franka base pose that reaches every object: on the front edge, facing +y (a suggestion)."""
    m = np.eye(4)
    m[:3, :3] = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # base +x -> world +y
    m[:3, 3] = (0.0, -0.45, 0.0)
    return m


# ---------------------------------------------------------------------------------------------
# Procedural textures (seeded numpy; uint8 RGB, row 0 = top of the image)
# ---------------------------------------------------------------------------------------------
def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    import cv2

    return cv2.resize(img.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)


def fractal_noise(rng: np.random.Generator, h: int, w: int, base_cells: int = 4, octaves: int = 6,
                  persistence: float = 0.55) -> np.ndarray:
    """(h, w) float noise in about [-1, 1]: a sum of upsampled random grids (value noise)."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = base_cells * 2**o
        gh, gw = max(2, int(cells * h / max(h, w)) + 2), max(2, int(cells * w / max(h, w)) + 2)
        out += amp * _resize(rng.uniform(-1, 1, (gh, gw)), h, w)
        total += amp
        amp *= persistence
    return out / total


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _scribble(img: np.ndarray, rng: np.random.Generator, n: int, scale: float, alpha: float = 0.6,
              palette: np.ndarray | None = None, text: bool = True) -> None:
    """Draw n random shapes (and letters) into a float RGB image in place: unique SIFT blobs."""
    import cv2

    h, w = img.shape[:2]
    layer = img.copy()
    for _ in range(n):
        colour = tuple(float(c) for c in (palette[rng.integers(len(palette))] if palette is not None
                                          else rng.uniform(0, 1, 3)))
        kind = rng.integers(5 if text else 4)
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        s = max(2, int(scale * rng.uniform(0.3, 1.0)))
        thick = int(rng.integers(1, max(2, s // 4)))
        if kind == 0:
            cv2.circle(layer, (x, y), s, colour, -1 if rng.random() < 0.5 else thick, cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(layer, (x, y), (x + s, y + int(s * rng.uniform(0.3, 1.5))), colour,
                          -1 if rng.random() < 0.5 else thick, cv2.LINE_AA)
        elif kind == 2:
            x2, y2 = x + int(rng.normal(0, 2 * s)), y + int(rng.normal(0, 2 * s))
            cv2.line(layer, (x, y), (x2, y2), colour, thick, cv2.LINE_AA)
        elif kind == 3:
            axes = (s, max(1, int(s * rng.uniform(0.2, 1.0))))
            cv2.ellipse(layer, (x, y), axes, float(rng.uniform(0, 180)), 0, float(rng.uniform(90, 360)),
                        colour, thick, cv2.LINE_AA)
        else:
            word = "".join(chr(int(c)) for c in rng.integers(65, 91, int(rng.integers(2, 7))))
            _put_text(layer, word, (x, y), int(rng.integers(0, 8)), s / 22.0, colour, thick)
    img[:] = (1 - alpha) * img + alpha * layer


def _put_text(img: np.ndarray, text: str, org, font: int, scale: float, colour, thick: int) -> None:
    """cv2.putText for float images (OpenCV 5 draws text on uint8 only): draw a uint8 coverage
    patch around the text and blend the colour through it."""
    import cv2

    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    pad = thick + 2
    patch = np.zeros((th + base + 2 * pad, tw + 2 * pad), np.uint8)
    cv2.putText(patch, text, (pad, pad + th), font, scale, 255, thick, cv2.LINE_AA)
    x0, y0 = org[0] - pad, org[1] - th - pad  # org is the text's bottom-left corner, as in cv2
    h, w = img.shape[:2]
    ax0, ay0, ax1, ay1 = max(0, x0), max(0, y0), min(w, x0 + patch.shape[1]), min(h, y0 + patch.shape[0])
    if ax0 >= ax1 or ay0 >= ay1:
        return
    a = patch[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0, None].astype(np.float32) / 255.0
    img[ay0:ay1, ax0:ax1] = img[ay0:ay1, ax0:ax1] * (1 - a) + np.asarray(colour, np.float32) * a


def texture_wood(rng: np.random.Generator, h: int, w: int, planks: int = 5) -> np.ndarray:
    """Planks running along the image width: warped growth rings, per-plank tint, knots."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((h, w, 3), np.float32)
    warp = fractal_noise(rng, h, w, base_cells=3, octaves=5)
    fine = fractal_noise(rng, h, w, base_cells=40, octaves=3)
    edges = np.linspace(0, h, planks + 1).astype(int)
    for p in range(planks):
        y0, y1 = edges[p], edges[p + 1]
        tint = np.array([0.55, 0.36, 0.20]) * rng.uniform(0.8, 1.15) + rng.uniform(-0.04, 0.04, 3)
        cy = rng.uniform(-2 * h, 3 * h)
        dist = np.abs(yy[y0:y1] - cy) * rng.uniform(0.8, 1.3) + 60 * warp[y0:y1] + 0.02 * xx[y0:y1]
        rings = 0.5 + 0.5 * np.sin(dist / rng.uniform(4.0, 9.0))
        grain = 0.78 + 0.16 * rings[..., None] + 0.10 * fine[y0:y1, :, None]
        out[y0:y1] = tint * grain
        out[y0:min(y1, y0 + 3)] *= 0.45  # seam between planks
    # Knots, stains and scratches at the 1-3 cm scale a camera a metre away resolves.
    _scribble(out, rng, n=int(w * h / 3000), scale=min(h, w) / 40, alpha=0.45,
              palette=np.array([[0.22, 0.13, 0.07], [0.35, 0.22, 0.12], [0.70, 0.52, 0.34], [0.12, 0.08, 0.05]]),
              text=False)
    return _to_u8(out)


def texture_tiles(rng: np.random.Generator, h: int, w: int, tiles_x: int, tiles_y: int) -> np.ndarray:
    """Glazed tiles, each with its own hand-painted motif, grout lines and crazing noise."""
    out = np.zeros((h, w, 3), np.float32)
    th, tw = h / tiles_y, w / tiles_x
    palette = rng.uniform(0.05, 0.85, (8, 3))
    for j in range(tiles_y):
        for i in range(tiles_x):
            y0, y1, x0, x1 = int(j * th), int((j + 1) * th), int(i * tw), int((i + 1) * tw)
            tile = np.ones((y1 - y0, x1 - x0, 3), np.float32) * (np.array([0.88, 0.86, 0.80]) + rng.uniform(-0.06, 0.04, 3))
            _scribble(tile, rng, n=int(rng.integers(4, 9)), scale=tw / 4, alpha=0.85, palette=palette, text=False)
            out[y0:y1, x0:x1] = tile
    noise = fractal_noise(rng, h, w, base_cells=30, octaves=4)
    out *= (0.93 + 0.07 * noise)[..., None]
    grout = np.array([0.45, 0.43, 0.40])
    g = max(2, int(tw / 30))
    for j in range(tiles_y + 1):
        out[max(0, int(j * th) - g):int(j * th) + g] = grout
    for i in range(tiles_x + 1):
        out[:, max(0, int(i * tw) - g):int(i * tw) + g] = grout
    return _to_u8(out)


def texture_plaster(rng: np.random.Generator, h: int, w: int, colour, marks: int) -> np.ndarray:
    """Painted plaster: blotchy fractal noise plus pinned notes, pictures and scuffs."""
    base = np.array(colour, np.float32)
    n = fractal_noise(rng, h, w, base_cells=8, octaves=7)
    out = base * (0.82 + 0.25 * n)[..., None]
    _scribble(out, rng, n=marks, scale=min(h, w) / 25, alpha=0.75)
    _scribble(out, rng, n=marks * 6, scale=min(h, w) / 60, alpha=0.6)  # smaller notes and scuffs
    return _to_u8(out)


def texture_printed(rng: np.random.Generator, h: int, w: int, base, n: int, text: bool = True) -> np.ndarray:
    """Printed packaging / glaze: a coloured ground covered in random shapes, stripes and letters."""
    out = np.ones((h, w, 3), np.float32) * np.array(base, np.float32)
    stripes = rng.integers(3, 7)
    for _ in range(stripes):
        y0 = int(rng.integers(0, h))
        out[y0:y0 + int(rng.integers(h // 40, h // 8))] = rng.uniform(0, 1, 3)
    _scribble(out, rng, n=n, scale=min(h, w) / 10, alpha=0.9, text=text)
    out *= (0.9 + 0.1 * fractal_noise(rng, h, w, base_cells=20, octaves=3))[..., None]
    return _to_u8(out)


def texture_ceramic(rng: np.random.Generator, h: int, w: int, glaze) -> np.ndarray:
    """Speckled glaze with painted bands and brush marks (u around, v along the profile)."""
    out = np.ones((h, w, 3), np.float32) * np.array(glaze, np.float32)
    out *= (0.85 + 0.15 * fractal_noise(rng, h, w, base_cells=12, octaves=5))[..., None]
    speck = rng.random((h, w)) < 0.01
    out[speck] *= 0.35
    for _ in range(int(rng.integers(2, 5))):
        y0 = int(rng.integers(0, h))
        out[y0:y0 + int(rng.integers(4, h // 12))] = rng.uniform(0.05, 0.9, 3)
    _scribble(out, rng, n=int(w * h / 2500), scale=min(h, w) / 12, alpha=0.8, text=False)
    return _to_u8(out)


# ---------------------------------------------------------------------------------------------
# Meshes with UVs: (vertices (V,3), uvs (V,2), faces (F,3)); u right, v up (OpenGL texture space)
# ---------------------------------------------------------------------------------------------
def box_mesh(size, uv_rects=None):
    """Axis-aligned box centred at 0; each face has its own 4 vertices and UV rectangle.

    uv_rects: 6 rects (u0, v0, u1, v1) for faces +x, -x, +y, -y, +z, -z (default: 3x2 atlas).
    """
    hx, hy, hz = (s / 2 for s in size)
    # Each face: origin corner, u edge, v edge (outward normal = u x v).
    faces_def = [
        ((hx, -hy, -hz), (0, 2 * hy, 0), (0, 0, 2 * hz)),    # +x
        ((-hx, hy, -hz), (0, -2 * hy, 0), (0, 0, 2 * hz)),   # -x
        ((hx, hy, -hz), (-2 * hx, 0, 0), (0, 0, 2 * hz)),    # +y
        ((-hx, -hy, -hz), (2 * hx, 0, 0), (0, 0, 2 * hz)),   # -y
        ((-hx, -hy, hz), (2 * hx, 0, 0), (0, 2 * hy, 0)),    # +z
        ((-hx, hy, -hz), (2 * hx, 0, 0), (0, -2 * hy, 0)),   # -z
    ]
    if uv_rects is None:
        uv_rects = [((k % 3) / 3, (k // 3) / 2, (k % 3 + 1) / 3, (k // 3 + 1) / 2) for k in range(6)]
    verts, uvs, faces = [], [], []
    for (o, eu, ev), (u0, v0, u1, v1) in zip(faces_def, uv_rects):
        o, eu, ev = np.array(o, float), np.array(eu, float), np.array(ev, float)
        b = len(verts)
        for a, c in ((0, 0), (1, 0), (1, 1), (0, 1)):
            verts.append(o + a * eu + c * ev)
            uvs.append((u0 + a * (u1 - u0), v0 + c * (v1 - v0)))
        faces += [(b, b + 1, b + 2), (b, b + 2, b + 3)]
    return np.array(verts), np.array(uvs), np.array(faces, dtype=np.int64)


def lathe_mesh(profile, segments: int = 64):
    """Revolve a closed (r, z) profile about +z. The profile runs from the axis back to the
    axis; walking it with the outside on the right gives outward faces. u: angle, v: arc length.
    """
    profile = np.asarray(profile, float)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(profile, axis=0), axis=1))])
    v = arc / arc[-1]
    verts, uvs = [], []
    for j in range(segments + 1):
        th = 2 * math.pi * j / segments
        for (r, z), vv in zip(profile, v):
            verts.append((r * math.cos(th), r * math.sin(th), z))
            uvs.append((j / segments, vv))
    p = len(profile)
    faces = []
    for j in range(segments):
        for i in range(p - 1):
            a, b = j * p + i, j * p + i + 1
            c, d = (j + 1) * p + i + 1, (j + 1) * p + i
            for tri in ((a, d, c), (a, c, b)):  # outward for a profile walked bottom -> top on the outside
                pa, pb, pc = (np.array(verts[k]) for k in tri)
                if np.linalg.norm(np.cross(pb - pa, pc - pa)) > 1e-12:  # skip degenerate pole triangles
                    faces.append(tri)
    return np.array(verts), np.array(uvs), np.array(faces, dtype=np.int64)


def tube_mesh(centre_fn, t0: float, t1: float, radius_uv, steps: int = 24, ring: int = 16):
    """Sweep an ellipse (ry across, rz along the local normal) along a planar xz curve, capped."""
    ra, rb = radius_uv
    ts = np.linspace(t0, t1, steps + 1)
    cs = np.array([centre_fn(t) for t in ts])
    verts, uvs, faces = [], [], []
    for k, t in enumerate(ts):
        tangent = cs[min(k + 1, steps)] - cs[max(k - 1, 0)]
        tangent /= np.linalg.norm(tangent)
        normal = np.cross(tangent, (0.0, 1.0, 0.0))
        normal /= np.linalg.norm(normal)
        for q in range(ring + 1):
            a = 2 * math.pi * q / ring
            verts.append(cs[k] + ra * math.cos(a) * np.array([0.0, 1.0, 0.0]) + rb * math.sin(a) * normal)
            uvs.append((k / steps, q / ring))
    n = ring + 1
    for k in range(steps):
        for q in range(ring):
            a, b, c, d = k * n + q, k * n + q + 1, (k + 1) * n + q + 1, (k + 1) * n + q
            faces += [(a, b, c), (a, c, d)]
    for k in (0, steps):  # fan caps keep the tube closed (watertight)
        centre = len(verts)
        verts.append(cs[k])
        uvs.append((k / steps, 0.5))
        for q in range(ring):
            faces.append((centre, k * n + q, k * n + q + 1))
    v, f = np.array(verts), np.array(faces, dtype=np.int64)
    # Orient every triangle outward: away from the curve for the sides, along -/+ tangent for the caps.
    centres = v[f].mean(axis=1)
    normals = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n_side = steps * ring * 2
    k_of = np.concatenate([np.repeat(np.arange(steps), ring * 2), np.zeros(ring, int), np.full(ring, steps)])
    outward = centres - cs[np.clip(k_of, 0, steps)]
    tan0, tan1 = cs[1] - cs[0], cs[-1] - cs[-2]
    outward[n_side:n_side + ring] = -tan0
    outward[n_side + ring:] = tan1
    flip = (normals * outward).sum(axis=1) < 0
    f[flip] = f[flip][:, ::-1]
    return v, np.array(uvs), f


def mug_parts(p):
    r, h, t, b = p["radius"], p["height"], p["wall"], p["base"]
    body = lathe_mesh([(0, 0), (r - 0.004, 0), (r, 0.004), (r, h), (r - t, h), (r - t, b), (0, b)])
    rh = p["handle_radius"]
    cx, cz = r - 0.004 + 0.0, h * 0.52

    def arc(t):
        return np.array([cx + rh * math.cos(t) * 0.85, 0.0, cz + rh * math.sin(t)])

    handle = tube_mesh(arc, -math.pi / 2 - 0.15, math.pi / 2 + 0.15, (p["handle_tube"], p["handle_tube"] * 0.7))
    return {"body": body, "handle": handle}


def bowl_parts(p):
    r, h, t, rf = p["radius"], p["height"], p["wall"], p["foot_radius"]
    outer = [(0, 0), (rf, 0), (rf, 0.006)]
    inner = []
    for k in range(1, 9):  # outer wall: a quarter ellipse from the foot to the rim
        a = k / 8 * math.pi / 2
        outer.append((rf + (r - rf) * math.sin(a), 0.006 + (h - 0.006) * (1 - math.cos(a))))
    for k in range(8, -1, -1):
        a = k / 8 * math.pi / 2
        inner.append((max(0.0, rf - t + (r - t - rf + t) * math.sin(a)), t + 0.006 + (h - t - 0.006) * (1 - math.cos(a))))
    prof = outer + [(r - t * 0.5, h + 0.002)] + inner + [(0, t + 0.006)]
    # Remove the duplicate axis point if inner already ends at r = 0.
    clean = [prof[0]]
    for q in prof[1:]:
        if np.hypot(q[0] - clean[-1][0], q[1] - clean[-1][1]) > 1e-9:
            clean.append(q)
    return {"body": lathe_mesh(clean)}


def can_parts(p):
    r, h = p["radius"], p["height"]
    prof = [(0, 0.003), (r - 0.006, 0.0), (r - 0.002, 0.004), (r, 0.01), (r, h - 0.012),
            (r - 0.004, h - 0.004), (r - 0.003, h), (r - 0.006, h - 0.002), (0, h - 0.003)]
    return {"body": lathe_mesh(prof)}


def box_parts(p):
    sx, sy, sz = p["size"]
    v, uv, f = box_mesh((sx, sy, sz))
    v = v + np.array([0, 0, sz / 2])  # base on z = 0 like the lathe objects
    return {"body": (v, uv, f)}


PART_BUILDERS = {"mug": mug_parts, "bowl": bowl_parts, "box": box_parts, "can": can_parts}


def object_solid(parts) -> "trimesh.Trimesh":
    """All parts of one object as one mesh with duplicate (UV-seam) vertices merged."""
    import trimesh

    meshes = []
    for v, _, f in parts.values():
        m = trimesh.Trimesh(v, f, process=True)
        m.merge_vertices()
        meshes.append(m)
    return trimesh.util.concatenate(meshes)


def yaw_matrix(yaw_deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotmat_to_quat_wxyz(r: np.ndarray) -> list[float]:
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(r).as_quat()
    q = np.array([w, x, y, z])
    return (q if q[0] >= 0 else -q).tolist()


def object_records() -> list[dict]:
    """Ground truth per object: pose of the body frame (origin = centre of mass), size, mesh."""
    records = []
    for k, (name, p) in enumerate(OBJECTS.items()):
        parts = PART_BUILDERS[name](p)
        solid = object_solid(parts)
        # Centre of mass of a uniform solid; the mug handle overlaps the wall by a few mm^3 (negligible).
        com_local = np.asarray(solid.center_mass if all(trimesh_watertight(v, f) for v, _, f in parts.values())
                               else solid.bounds.mean(axis=0))
        rot = yaw_matrix(p["yaw_deg"])
        world_from_body = np.eye(4)
        world_from_body[:3, :3] = rot
        world_from_body[:3, 3] = np.array([*p["xy"], 0.0]) + rot @ com_local
        verts_body = np.asarray(solid.vertices) - com_local
        shape = {key: (list(v) if isinstance(v, tuple) else v) for key, v in p.items()
                 if key not in ("xy", "yaw_deg", "mass", "friction")}
        records.append({
            "name": name,
            "mask_id": 2 + k,
            "world_from_body": world_from_body.tolist(),
            "position": world_from_body[:3, 3].tolist(),
            "quat_wxyz": rotmat_to_quat_wxyz(rot),
            "size": (verts_body.max(0) - verts_body.min(0)).tolist(),
            "bbox_body": {"min": verts_body.min(0).tolist(), "max": verts_body.max(0).tolist()},
            "base_centre_in_body": (-com_local).tolist(),
            "shape": {"type": name, **shape},
            "mass_kg": p["mass"],
            "friction": p["friction"],
            "mesh": f"meshes/{name}.obj",
            "_parts": parts,
            "_com_local": com_local,
            "_mesh_body": (verts_body, np.asarray(solid.faces)),
        })
    return records


def trimesh_watertight(v, f) -> bool:
    import trimesh

    m = trimesh.Trimesh(v, f, process=True)
    m.merge_vertices()
    return bool(m.is_watertight)


def static_records() -> list[dict]:
    """Counter, cabinet, walls and floor: world-frame boxes (centre, size), axis aligned."""
    cx, cy, ct = COUNTER_SIZE
    room_depth = WALL_Y - ROOM_FRONT_Y
    return [
        {"name": "counter_top", "mask_id": 1, "centre": [0.0, 0.0, -ct / 2], "size": [cx, cy, ct]},
        {"name": "cabinet", "mask_id": 0, "centre": [0.0, 0.015, (FLOOR_Z - ct) / 2],
         "size": [cx - 0.04, cy - 0.03, -FLOOR_Z - ct]},
        {"name": "back_wall", "mask_id": 0, "centre": [0.0, WALL_Y + 0.025, (FLOOR_Z + WALL_TOP_Z) / 2],
         "size": [2 * SIDE_WALL_X, 0.05, WALL_TOP_Z - FLOOR_Z]},
        {"name": "left_wall", "mask_id": 0, "centre": [-SIDE_WALL_X - 0.025, (WALL_Y + ROOM_FRONT_Y) / 2, (FLOOR_Z + WALL_TOP_Z) / 2],
         "size": [0.05, room_depth, WALL_TOP_Z - FLOOR_Z]},
        {"name": "right_wall", "mask_id": 0, "centre": [SIDE_WALL_X + 0.025, (WALL_Y + ROOM_FRONT_Y) / 2, (FLOOR_Z + WALL_TOP_Z) / 2],
         "size": [0.05, room_depth, WALL_TOP_Z - FLOOR_Z]},
        {"name": "floor", "mask_id": 0, "centre": [0.0, (WALL_Y + ROOM_FRONT_Y) / 2, FLOOR_Z - 0.025],
         "size": [2 * SIDE_WALL_X, room_depth, 0.05]},
    ]


# Which face of each static box carries the full texture (the one cameras see).
_STATIC_FACE = {"counter_top": 4, "cabinet": 3, "back_wall": 3, "left_wall": 0, "right_wall": 1, "floor": 4}


def static_uv_rects(name: str):
    """The visible face gets the whole texture; the rest share a thin strip at the bottom."""
    rects = [(0.0, 0.0, 1.0, 0.06)] * 6
    if name == "counter_top":  # the front and side edges of the slab are visible too
        rects = [(0.0, 0.0, 1.0, 0.05)] * 6
        rects[4] = (0.0, 0.05, 1.0, 1.0)
    else:
        rects[_STATIC_FACE[name]] = (0.0, 0.0, 1.0, 1.0)
    return rects


# ---------------------------------------------------------------------------------------------
# Cameras
# ---------------------------------------------------------------------------------------------
def look_at_cv(eye, target) -> np.ndarray:
    """world_from_cam (4,4), OpenCV axes, Z-up world (same maths as gwm.cameras.look_at)."""
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, (0.0, 0.0, 1.0))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, z, eye
    return m


def orbit_eye(target, azimuth_deg, elevation_deg, distance):
    """Azimuth 0 looks from the front (-y) towards +y; positive azimuth moves the camera to +x."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    return np.asarray(target, float) + distance * np.array(
        [math.sin(az) * math.cos(el), -math.cos(az) * math.cos(el), math.sin(el)])


def intrinsics() -> np.ndarray:
    f = 0.5 * HEIGHT / math.tan(math.radians(FOVY_DEG) / 2)
    return np.array([[f, 0.0, WIDTH / 2], [0.0, f, HEIGHT / 2], [0.0, 0.0, 1.0]])


def still_cameras(objects) -> list[dict]:
    """Two orbit rings (front half: the counter stands against a wall) and close views."""
    target = (0.0, 0.02, 0.03)
    cams = []
    for k, az in enumerate(np.linspace(-75, 75, 20)):
        cams.append({"group": "orbit_low", "world_from_cam": look_at_cv(orbit_eye(target, az, 28, 1.0), target)})
    for k, az in enumerate(np.linspace(-70, 70, 20)):
        cams.append({"group": "orbit_high", "world_from_cam": look_at_cv(orbit_eye(target, az, 52, 0.9), target)})
    for obj, (az, el) in zip(objects, [(-35, 35), (15, 55), (50, 30), (-10, 40)]):
        centre = np.array(obj["position"])
        for d_az in (-18, 18):
            eye = orbit_eye(centre, az + d_az, el, 0.45)
            cams.append({"group": f"close_{obj['name']}", "world_from_cam": look_at_cv(eye, centre)})
    for i, c in enumerate(cams):
        c["file_path"] = f"images/frame_{i:03d}.png"
    return cams


def video_pose(t: float) -> np.ndarray:
    """Continuous orbit for the video, t in frames; a slow height bob like a hand-held phone."""
    s = t / (VIDEO_FRAMES - 1)
    target = (0.0, 0.02, 0.03)
    az = -72 + 144 * s
    el = 36 + 6 * math.sin(2 * math.pi * s)
    return look_at_cv(orbit_eye(target, az, el, 0.95 + 0.03 * math.cos(3 * math.pi * s)), target)


# ---------------------------------------------------------------------------------------------
# MuJoCo scene
# ---------------------------------------------------------------------------------------------
def _fmt(a) -> str:
    return " ".join(f"{x:.6g}" for x in np.asarray(a).ravel())


def build_mjcf(tex_dir: Path, objects, statics, seed: int) -> str:
    import cv2

    def save(name, img):
        path = tex_dir / f"{name}.png"
        cv2.imwrite(str(path), img[..., ::-1])
        return path

    rng = lambda k: np.random.default_rng([seed, k])  # noqa: E731 - one stream per texture
    tex = {
        "counter_top": texture_wood(rng(1), 1400, 2000, planks=6),
        "cabinet": texture_wood(rng(2), 1024, 1200, planks=4),
        "back_wall": None,
        "left_wall": texture_plaster(rng(3), 1024, 1400, (0.78, 0.74, 0.66), marks=90),
        "right_wall": texture_plaster(rng(4), 1024, 1400, (0.70, 0.76, 0.78), marks=90),
        "floor": texture_tiles(rng(5), 1400, 2000, tiles_x=10, tiles_y=7),
    }
    # Back wall: tiled backsplash from the counter up to 0.6 m, plaster above and below.
    wh, ww = 1400, 2000
    wall = texture_plaster(rng(6), wh, ww, (0.82, 0.80, 0.74), marks=120)
    z_to_row = lambda z: int(round((WALL_TOP_Z - z) / (WALL_TOP_Z - FLOOR_Z) * wh))  # noqa: E731
    x_to_col = lambda x: int(round((x + SIDE_WALL_X) / (2 * SIDE_WALL_X) * ww))  # noqa: E731
    r0, r1, c0, c1 = z_to_row(0.6), z_to_row(0.0), x_to_col(-0.9), x_to_col(0.9)
    wall[r0:r1, c0:c1] = texture_tiles(rng(7), r1 - r0, c1 - c0, tiles_x=18, tiles_y=6)
    tex["back_wall"] = wall

    assets, geoms = [], []
    for i, s in enumerate(statics):
        name = s["name"]
        v, uv, f = box_mesh(s["size"], static_uv_rects(name))
        v = v + np.array(s["centre"])  # back wall's -y face: u runs +x, v runs +z (rows map to height)
        path = save(name, tex[name])
        assets.append(_mesh_xml(name, v, uv, f))
        assets.append(f'<texture name="t_{name}" type="2d" file="{path}"/>')
        assets.append(f'<material name="m_{name}" texture="t_{name}" specular="0" shininess="0" reflectance="0"/>')
        geoms.append(f'<geom name="{name}" type="mesh" mesh="{name}" material="m_{name}" contype="0" conaffinity="0"/>')

    obj_tex = {
        "mug": {"body": texture_ceramic(rng(10), 512, 1024, (0.20, 0.42, 0.70)),
                "handle": texture_ceramic(rng(11), 256, 256, (0.22, 0.40, 0.66))},
        "bowl": {"body": texture_ceramic(rng(12), 512, 1024, (0.86, 0.80, 0.62))},
        "box": {"body": texture_printed(rng(13), 768, 1024, (0.85, 0.25, 0.15), n=160)},
        "can": {"body": texture_printed(rng(14), 512, 1024, (0.15, 0.55, 0.30), n=140)},
    }
    for obj in objects:
        name = obj["name"]
        rot = yaw_matrix(OBJECTS[name]["yaw_deg"])
        base = np.array([*OBJECTS[name]["xy"], 0.0])
        for part, (v, uv, f) in obj["_parts"].items():
            mesh = f"{name}_{part}"
            path = save(mesh, obj_tex[name][part])
            vw = v @ rot.T + base
            assets.append(_mesh_xml(mesh, vw, uv, f))
            assets.append(f'<texture name="t_{mesh}" type="2d" file="{path}"/>')
            spec = "0.15" if name in ("mug", "bowl") else "0"
            assets.append(f'<material name="m_{mesh}" texture="t_{mesh}" specular="{spec}" shininess="0.3" reflectance="0"/>')
            geoms.append(f'<geom name="{mesh}" type="mesh" mesh="{mesh}" material="m_{mesh}" contype="0" conaffinity="0"/>')

    return f"""<mujoco model="kitchen_capture">
  <compiler autolimits="true"/>
  <statistic extent="3" center="0 -0.5 0"/>
  <visual>
    <global offwidth="{WIDTH}" offheight="{HEIGHT}" fovy="{FOVY_DEG}"/>
    <headlight ambient="0.33 0.33 0.33" diffuse="0 0 0" specular="0 0 0"/>
    <quality shadowsize="8192" offsamples="8"/>
    <map znear="0.005" zfar="5" shadowclip="2.5"/>
  </visual>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="0.6 0.6 0.62" rgb2="0.3 0.3 0.32" width="64" height="64"/>
    {chr(10).join('    ' + a for a in assets)}
  </asset>
  <worldbody>
    <light name="sun" directional="true" pos="-0.6 -1.0 2.0" dir="0.3 0.5 -1" diffuse="0.55 0.55 0.52" specular="0.2 0.2 0.2" castshadow="true"/>
    <light name="fill" directional="true" pos="1.0 -1.0 1.5" dir="-0.5 0.6 -0.8" diffuse="0.22 0.22 0.25" specular="0 0 0" castshadow="false"/>
    {chr(10).join('    ' + g for g in geoms)}
    <camera name="cam" pos="0 -1 0.5" quat="1 0 0 0" fovy="{FOVY_DEG}"/>
  </worldbody>
</mujoco>
"""


def _mesh_xml(name, v, uv, f) -> str:
    return (f'<mesh name="{name}" inertia="shell" vertex="{_fmt(v)}" texcoord="{_fmt(uv)}" '
            f'face="{_fmt(f)}"/>')


class SceneRenderer:
    """MuJoCo offscreen renderer posed with OpenCV world_from_cam matrices."""

    def __init__(self, xml: str):
        os.environ.setdefault("MUJOCO_GL", "egl")
        import mujoco

        self.mj = mujoco
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.data = mujoco.MjData(self.model)
        self.renderer = mujoco.Renderer(self.model, HEIGHT, WIDTH)
        self.cam_id = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, "cam")

    def _pose(self, world_from_cam: np.ndarray) -> None:
        # MuJoCo cameras look along -z with +y up: flip OpenCV's y and z axes.
        r = world_from_cam[:3, :3] @ np.diag([1.0, -1.0, -1.0])
        quat = np.zeros(4)
        self.mj.mju_mat2Quat(quat, r.ravel())
        self.model.cam_pos[self.cam_id] = world_from_cam[:3, 3]
        self.model.cam_quat[self.cam_id] = quat
        self.mj.mj_forward(self.model, self.data)

    def rgb(self, world_from_cam) -> np.ndarray:
        self._pose(world_from_cam)
        self.renderer.update_scene(self.data, camera=self.cam_id)
        return self.renderer.render().copy()

    def depth_and_segmentation(self, world_from_cam) -> tuple[np.ndarray, np.ndarray]:
        self._pose(world_from_cam)
        self.renderer.enable_depth_rendering()
        self.renderer.update_scene(self.data, camera=self.cam_id)
        depth = self.renderer.render().copy()
        self.renderer.disable_depth_rendering()
        self.renderer.enable_segmentation_rendering()
        self.renderer.update_scene(self.data, camera=self.cam_id)
        seg = self.renderer.render()[..., 0].copy()  # geom id, -1 for nothing
        self.renderer.disable_segmentation_rendering()
        return depth, seg

    def ray_depth(self, world_from_cam, u: float, v: float) -> float:
        """z-depth of the first surface through pixel coordinate (u, v) by MuJoCo's ray caster."""
        K = intrinsics()
        d_cam = np.array([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], 1.0])
        d_world = world_from_cam[:3, :3] @ d_cam
        geomid = np.zeros(1, np.int32)
        dist = self.mj.mj_ray(self.model, self.data, world_from_cam[:3, 3], d_world / np.linalg.norm(d_world),
                              None, 1, -1, geomid)
        return float(dist / np.linalg.norm(d_world)) if dist >= 0 else float("nan")

    def close(self) -> None:
        self.renderer.close()


def check_camera_convention(r: SceneRenderer, world_from_cam: np.ndarray) -> float:
    """Max relative gap between rendered depth and ray-cast depth at a few pixels: proves
    that K, the pixel-centre convention and the OpenCV pose map onto what MuJoCo draws."""
    depth, _ = r.depth_and_segmentation(world_from_cam)
    worst = 0.0
    for row, col in [(30, 40), (150, 200), (270, 360), (80, 320), (220, 60)]:
        ray = r.ray_depth(world_from_cam, col + 0.5, row + 0.5)  # pixel (row, col) centre
        worst = max(worst, abs(ray - depth[row, col]) / ray)
    return worst


def write_obj(path: Path, verts: np.ndarray, faces: np.ndarray) -> None:
    lines = [f"# {path.stem}: body frame (origin = centre of mass), metres, Z up"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in verts]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n")


def ground_truth(objects, statics, stills, seed: int, renderer_name: str) -> dict:
    K = intrinsics()
    return {
        "format": "gwm.kitchen_capture.ground_truth",
        "format_version": FORMAT_VERSION,
        "generator": {"script": "datasets/kitchen/generate.py", "seed": seed, "renderer": renderer_name},
        "world": {"units": "metres", "up": "+z", "origin": "centre of the counter-top surface",
                  "camera_axes": "OpenCV: x right, y down, z forward",
                  "pixel_convention": "pixel i covers [i, i+1] (COLMAP, gsplat); principal point W/2, H/2"},
        "camera": {"model": "PINHOLE", "width": WIDTH, "height": HEIGHT, "fovy_deg": FOVY_DEG,
                   "fx": K[0, 0], "fy": K[1, 1], "cx": K[0, 2], "cy": K[1, 2], "K": K.tolist()},
        "frames": [{"file_path": c["file_path"], "mask_path": c["file_path"].replace("images/", "masks/"),
                    "depth_path": c["file_path"].replace("images/", "depth/"), "group": c["group"],
                    "world_from_cam": np.round(c["world_from_cam"], 9).tolist()} for c in stills],
        "video": {"file_path": "orbit.mp4", "codec": "h264", "fps": VIDEO_FPS, "num_frames": VIDEO_FRAMES,
                  "motion_blurred_frames": list(VIDEO_BLURRED),
                  "frames": [{"index": i, "world_from_cam": np.round(video_pose(i), 9).tolist()}
                             for i in range(VIDEO_FRAMES)]},
        "table": {"name": "counter_top", "plane": {"normal": [0.0, 0.0, 1.0], "offset": 0.0},
                  "top_z": 0.0, "size": list(COUNTER_SIZE),
                  "extent_xy": {"min": [-COUNTER_SIZE[0] / 2, -COUNTER_SIZE[1] / 2],
                                "max": [COUNTER_SIZE[0] / 2, COUNTER_SIZE[1] / 2]}},
        "objects": [{k: v for k, v in o.items() if not k.startswith("_")} for o in objects],
        "static": [{**s, "type": "box", "world_from_body": _translation(s["centre"])} for s in statics],
        "mask_ids": {"0": "room (walls, floor, cabinet) or nothing", "1": "counter_top",
                     **{str(o["mask_id"]): o["name"] for o in objects}},
        "depth_encoding": "uint16 PNG, millimetres of z-depth along the optical axis, 0 = no surface",
        "robot_base_suggestion": {"world_from_base": suggested_robot_base().tolist(),
                                  "note": "front edge of the counter, base +x facing the wall; a suggestion only"},
    }


def _translation(t) -> list:
    m = np.eye(4)
    m[:3, 3] = t
    return m.tolist()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args(argv)
    os.environ.setdefault("MUJOCO_GL", "egl")
    import cv2
    import imageio.v2 as imageio
    import mujoco
    from tqdm import tqdm

    out: Path = args.out
    objects = object_records()
    statics = static_records()
    stills = still_cameras(objects)

    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "stage"
        for d in ("images", "masks", "depth", "meshes"):
            (stage / d).mkdir(parents=True)
        tex_dir = Path(tmp) / "textures"
        tex_dir.mkdir()
        xml = build_mjcf(tex_dir, objects, statics, args.seed)
        r = SceneRenderer(xml)
        try:
            gap = check_camera_convention(r, stills[0]["world_from_cam"])
            if gap > 2e-3:
                raise RuntimeError(f"rendered depth disagrees with ray casting by {gap:.2%}: camera convention bug")
            geom_to_mask = np.zeros(r.model.ngeom + 1, np.uint8)  # index -1 (nothing) -> last entry
            ids = {s["name"]: s["mask_id"] for s in statics} | {o["name"]: o["mask_id"] for o in objects}
            for g in range(r.model.ngeom):
                gname = mujoco.mj_id2name(r.model, mujoco.mjtObj.mjOBJ_GEOM, g) or ""
                geom_to_mask[g] = ids.get(gname, ids.get(gname.split("_")[0], 0))
            for c in tqdm(stills, desc="stills"):
                rgb = r.rgb(c["world_from_cam"])
                depth, seg = r.depth_and_segmentation(c["world_from_cam"])
                name = Path(c["file_path"]).name
                cv2.imwrite(str(stage / "images" / name), rgb[..., ::-1])
                cv2.imwrite(str(stage / "masks" / name), geom_to_mask[seg])
                depth_mm = np.where(seg >= 0, np.clip(depth * 1000 + 0.5, 0, 65535), 0).astype(np.uint16)
                cv2.imwrite(str(stage / "depth" / name), depth_mm)
            writer = imageio.get_writer(stage / "orbit.mp4", fps=VIDEO_FPS, codec="libx264", quality=None,
                                        pixelformat="yuv420p", ffmpeg_params=["-crf", "20", "-preset", "slow"],
                                        macro_block_size=4)
            for i in tqdm(range(VIDEO_FRAMES), desc="video"):
                if i in VIDEO_BLURRED:  # a quick camera shake during the exposure: average sub-frames
                    subs = [r.rgb(video_pose(i + 4.0 * (k / 8 - 0.5))) for k in range(9)]
                    frame = np.mean(np.stack(subs).astype(np.float32), axis=0).round().astype(np.uint8)
                else:
                    frame = r.rgb(video_pose(i))
                writer.append_data(frame)
            writer.close()
        finally:
            r.close()
        renderer_name = f"mujoco {mujoco.__version__} offscreen ({os.environ.get('MUJOCO_GL')})"
        for o in objects:
            write_obj(stage / "meshes" / f"{o['name']}.obj", *o["_mesh_body"])
        gt = ground_truth(objects, statics, stills, args.seed, renderer_name)
        (stage / "ground_truth.json").write_text(json.dumps(gt, indent=1) + "\n")
        _preview(stage)
        # Replace the generated parts of out/ (README and this script stay).
        out.mkdir(parents=True, exist_ok=True)
        for d in ("images", "masks", "depth", "meshes"):
            if (out / d).exists():
                shutil.rmtree(out / d)
            shutil.move(str(stage / d), str(out / d))
        for f in ("orbit.mp4", "preview.jpg", "ground_truth.json"):
            shutil.move(str(stage / f), str(out / f))
        write_nerfstudio_ground_truth(out, gt, args.seed)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {len(stills)} stills, {VIDEO_FRAMES}-frame video to {out} ({total / 1e6:.1f} MB)")


def write_nerfstudio_ground_truth(root: Path, gt: dict, seed: int, points_per_view: int = 250) -> None:
    """transforms.json (ground-truth poses, nerfstudio layout) and sparse_pc.ply (points
    back-projected from the ground-truth depth maps), so the sample is also a ready,
    exactly posed dataset for reconstruction without running SfM."""
    import cv2
    from plyfile import PlyData, PlyElement

    K = np.asarray(gt["camera"]["K"])
    rng = np.random.default_rng([seed, 99])
    pts, cols, frames = [], [], []
    for i, f in enumerate(gt["frames"]):
        w2c = np.asarray(f["world_from_cam"])
        frames.append({"file_path": f["file_path"], "transform_matrix": (w2c @ np.diag([1.0, -1.0, -1.0, 1.0])).tolist(),
                       "colmap_im_id": i + 1})
        depth = cv2.imread(str(root / f["depth_path"]), cv2.IMREAD_UNCHANGED).astype(np.float64) / 1000.0
        rgb = cv2.imread(str(root / f["file_path"]))[..., ::-1]
        rows, colz = np.nonzero(depth > 0)
        pick = rng.choice(len(rows), min(points_per_view, len(rows)), replace=False)
        r, c = rows[pick], colz[pick]
        z = depth[r, c]
        cam = np.stack([(c + 0.5 - K[0, 2]) / K[0, 0] * z, (r + 0.5 - K[1, 2]) / K[1, 1] * z, z], axis=1)
        pts.append(cam @ w2c[:3, :3].T + w2c[:3, 3])
        cols.append(rgb[r, c])
    pts, cols = np.concatenate(pts), np.concatenate(cols)
    v = np.empty(len(pts), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    for k, name in enumerate("xyz"):
        v[name] = pts[:, k]
    for k, name in enumerate(("red", "green", "blue")):
        v[name] = cols[:, k]
    PlyData([PlyElement.describe(v, "vertex")], text=False, byte_order="<").write(str(root / "sparse_pc.ply"))
    cam = gt["camera"]
    transforms = {
        "w": cam["width"], "h": cam["height"], "fl_x": cam["fx"], "fl_y": cam["fy"], "cx": cam["cx"], "cy": cam["cy"],
        "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0, "camera_model": "OPENCV",
        "frames": frames,
        "applied_transform": np.eye(4)[:3].tolist(),
        "ply_file_path": "sparse_pc.ply",
        "normalisation": np.eye(4).tolist(),
        "gwm": {"format": "gwm.capture", "format_version": 1,
                "config": {"ground_truth": True, "seed": seed, "points_per_view": points_per_view},
                "source": {"kind": "ground_truth", "path": "datasets/kitchen/generate.py"},
                "alignment": {"method": "ground_truth", "metric": True, "up": "+z"},
                "scale_is_metric": True, "units": "metres", "up_axis": "+z",
                "note": "exact poses from the generator; sparse_pc.ply is sampled from ground-truth depth, "
                        "not SfM. Run `gwm capture run datasets/kitchen/images OUT` for the SfM path."},
    }
    (root / "transforms.json").write_text(json.dumps(transforms, indent=1) + "\n")


def _preview(stage: Path) -> None:
    """A contact sheet of every 4th still, for people browsing the data."""
    import cv2

    names = sorted((stage / "images").glob("*.png"))[::4]
    thumbs = [cv2.resize(cv2.imread(str(p)), (WIDTH // 2, HEIGHT // 2), interpolation=cv2.INTER_AREA) for p in names]
    cols = 4
    while len(thumbs) % cols:
        thumbs.append(np.zeros_like(thumbs[0]))
    rows = [np.concatenate(thumbs[i:i + cols], axis=1) for i in range(0, len(thumbs), cols)]
    cv2.imwrite(str(stage / "preview.jpg"), np.concatenate(rows, axis=0), [cv2.IMWRITE_JPEG_QUALITY, 85])


if __name__ == "__main__":
    sys.exit(main())

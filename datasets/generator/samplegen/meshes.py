"""Meshes with UVs, object part builders and OBJ output.

A mesh is (vertices (V,3), uvs (V,2), faces (F,3)); u right, v up (OpenGL texture space, so
image row 0 is v = 1). Object parts are built in a local frame with the base on z = 0 and the
base centre at the origin; each part is a closed surface, so volume and centre of mass are exact.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


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


def bottle_parts(p):
    """A plastic bottle: lathe body with shoulder and neck, and a screw cap as its own part."""
    r, h, rn, rc, hc = p["radius"], p["height"], p["neck_radius"], p["cap_radius"], p["cap_height"]
    top = h - hc
    prof = [(0, 0.002), (r - 0.005, 0.0), (r, 0.005), (r, 0.60 * h)]
    for k in range(1, 7):  # shoulder: a quarter ellipse from the wall to the neck
        a = k / 6 * math.pi / 2
        prof.append((rn + (r - rn) * math.cos(a), 0.60 * h + (top - 0.012 - 0.60 * h) * math.sin(a)))
    prof += [(rn, top), (0, top)]
    cap = [(0, top), (rc, top), (rc, h - 0.002), (rc - 0.002, h), (0, h)]
    return {"body": lathe_mesh(prof), "cap": lathe_mesh(cap, segments=32)}


def quads_mesh(quads):
    """A closed polyhedron from planar quads (each 4 corners, counter-clockwise seen from outside).
    Each quad gets its own 4 vertices and its own cell of a near-square UV grid, so no two faces
    repeat the same patch of texture; merged by position it is watertight."""
    n = len(quads)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    verts, uvs, faces = [], [], []
    for k, quad in enumerate(quads):
        u0, v0 = (k % cols) / cols, (k // cols) / rows
        u1, v1 = u0 + 1 / cols, v0 + 1 / rows
        b = len(verts)
        verts += [np.asarray(p, float) for p in quad]
        uvs += [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
        faces += [(b, b + 1, b + 2), (b, b + 2, b + 3)]
    return np.array(verts), np.array(uvs), np.array(faces, dtype=np.int64)


def tray_parts(p):
    """An open-top tray: outer box, rim, inner walls and floor as one closed surface."""
    lx, ly, h = p["size"]
    t, b = p["wall"], p["floor"]
    ring = lambda hx, hy, z: [(-hx, -hy, z), (hx, -hy, z), (hx, hy, z), (-hx, hy, z)]  # noqa: E731 - ccw from above
    o0, oh = ring(lx / 2, ly / 2, 0.0), ring(lx / 2, ly / 2, h)
    ih, ib = ring(lx / 2 - t, ly / 2 - t, h), ring(lx / 2 - t, ly / 2 - t, b)
    quads = [[o0[0], o0[3], o0[2], o0[1]]]  # bottom, facing down
    for k in range(4):
        j = (k + 1) % 4
        quads += [[o0[k], o0[j], oh[j], oh[k]],  # outer wall
                  [oh[k], oh[j], ih[j], ih[k]],  # rim
                  [ih[k], ih[j], ib[j], ib[k]]]  # inner wall, facing the cavity
    quads.append(ib)  # floor of the cavity, facing up
    return {"body": quads_mesh(quads)}


def bracket_parts(p):
    """An L-shaped block (a corner bracket): a foot along x and an upright at its +x end, the L
    profile (in x, z) extruded along y."""
    lx, ly, h = p["size"]
    foot, upright = p["foot_height"], p["upright_thickness"]
    profile = [(-lx / 2, 0.0), (lx / 2, 0.0), (lx / 2, h), (lx / 2 - upright, h), (lx / 2 - upright, foot), (-lx / 2, foot)]
    front = [(x, -ly / 2, z) for x, z in profile]  # counter-clockwise seen from -y
    back = [(x, ly / 2, z) for x, z in profile]
    a, b_, c, d, e, f = range(6)
    quads = [[front[i] for i in (a, b_, e, f)], [front[i] for i in (b_, c, d, e)],  # the L cap, as two quads
             [back[i] for i in (f, e, b_, a)], [back[i] for i in (e, d, c, b_)]]
    for i in range(6):
        j = (i + 1) % 6
        quads.append([back[i], back[j], front[j], front[i]])  # side faces, outward
    return {"body": quads_mesh(quads)}


PART_BUILDERS = {"mug": mug_parts, "bowl": bowl_parts, "box": box_parts, "can": can_parts,
                 "bottle": bottle_parts, "tray": tray_parts, "bracket": bracket_parts}


def object_solid(parts) -> "trimesh.Trimesh":
    """All parts of one object as one mesh with duplicate (UV-seam) vertices merged."""
    import trimesh

    meshes = []
    for v, _, f in parts.values():
        m = trimesh.Trimesh(v, f, process=True)
        m.merge_vertices()
        meshes.append(m)
    return trimesh.util.concatenate(meshes)


def trimesh_watertight(v, f) -> bool:
    import trimesh

    m = trimesh.Trimesh(v, f, process=True)
    m.merge_vertices()
    return bool(m.is_watertight)


def write_obj(path: Path, verts: np.ndarray, faces: np.ndarray) -> None:
    lines = [f"# {path.stem}: body frame (origin = centre of mass), metres, Z up"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in verts]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n")


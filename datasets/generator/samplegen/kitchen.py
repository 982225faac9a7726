"""The kitchen counter sample (datasets/kitchen): a wood counter against a tiled wall, with a mug,
a bowl, a box and a can, and a printed ArUco marker (id 0, 10 cm) on the counter.

World frame: metres, Z up, origin at the centre of the counter-top surface (the counter top is
z = 0), +y towards the back wall, +x to the right seen from the front.
"""

from __future__ import annotations

import math

import numpy as np

from .poses import look_at_cv, orbit_eye
from .scene import MarkerDef, ObjectDef, SceneDef, StaticBox
from .textures import texture_ceramic, texture_plaster, texture_printed, texture_tiles, texture_wood

COUNTER_SIZE = (1.0, 0.7, 0.04)  # x, y, thickness; spans x in [-0.5, 0.5], y in [-0.35, 0.35]
FLOOR_Z = -0.9
WALL_Y = 0.35  # back wall plane, flush with the counter's back edge
SIDE_WALL_X = 1.3
ROOM_FRONT_Y = -1.6
WALL_TOP_Z = 1.1
VIDEO_FRAMES = 150
VIDEO_BLURRED = (44, 45, 46, 104, 105)  # frames rendered with strong motion blur (a camera shake)
TARGET = (0.0, 0.02, 0.03)

# Base-centre xy and yaw about +z; the body origin (centre of mass) comes from the mesh.
OBJECTS = (
    ObjectDef("mug", "mug", (-0.24, -0.04), 35.0, 0.30, 0.8, specular=0.15,
              params=dict(radius=0.038, height=0.095, wall=0.005, base=0.008, handle_radius=0.028, handle_tube=0.0065)),
    ObjectDef("bowl", "bowl", (0.06, 0.11), 0.0, 0.25, 0.7, specular=0.15,
              params=dict(radius=0.075, height=0.055, wall=0.006, foot_radius=0.040)),
    ObjectDef("box", "box", (0.26, -0.10), 20.0, 0.15, 0.6, params=dict(size=(0.12, 0.06, 0.085))),
    ObjectDef("can", "can", (-0.04, -0.17), 0.0, 0.35, 0.6, params=dict(radius=0.033, height=0.12)),
)

# Front right of the counter, clear of every object's footprint, turned a little as a person
# would drop it; the orbits see it from the front half.
MARKER = MarkerDef(marker_id=0, side=0.10, border=0.02, xy=(0.14, -0.255), yaw_deg=-12.0)


def suggested_robot_base() -> np.ndarray:
    """A Franka base pose that reaches every object: on the front edge, facing +y (a suggestion)."""
    m = np.eye(4)
    m[:3, :3] = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # base +x -> world +y
    m[:3, 3] = (0.0, -0.45, 0.0)
    return m


def _visible_face_rects(face: int):
    """The visible face gets the whole texture; the rest share a thin strip at the bottom."""
    rects = [(0.0, 0.0, 1.0, 0.06)] * 6
    rects[face] = (0.0, 0.0, 1.0, 1.0)
    return tuple(rects)


def statics() -> tuple:
    """Counter, cabinet, walls and floor: world-frame boxes (centre, size), axis aligned."""
    cx, cy, ct = COUNTER_SIZE
    room_depth = WALL_Y - ROOM_FRONT_Y
    top_rects = [(0.0, 0.0, 1.0, 0.05)] * 6  # the front and side edges of the slab are visible too
    top_rects[4] = (0.0, 0.05, 1.0, 1.0)
    box = lambda name, centre, size, face, mask=0: StaticBox(  # noqa: E731
        name, tuple(centre), tuple(size), _visible_face_rects(face) if face is not None else tuple(top_rects), name, mask)
    return (
        box("counter_top", (0.0, 0.0, -ct / 2), (cx, cy, ct), None, 1),
        box("cabinet", (0.0, 0.015, (FLOOR_Z - ct) / 2), (cx - 0.04, cy - 0.03, -FLOOR_Z - ct), 3),
        box("back_wall", (0.0, WALL_Y + 0.025, (FLOOR_Z + WALL_TOP_Z) / 2), (2 * SIDE_WALL_X, 0.05, WALL_TOP_Z - FLOOR_Z), 3),
        box("left_wall", (-SIDE_WALL_X - 0.025, (WALL_Y + ROOM_FRONT_Y) / 2, (FLOOR_Z + WALL_TOP_Z) / 2),
            (0.05, room_depth, WALL_TOP_Z - FLOOR_Z), 0),
        box("right_wall", (SIDE_WALL_X + 0.025, (WALL_Y + ROOM_FRONT_Y) / 2, (FLOOR_Z + WALL_TOP_Z) / 2),
            (0.05, room_depth, WALL_TOP_Z - FLOOR_Z), 1),
        box("floor", (0.0, (WALL_Y + ROOM_FRONT_Y) / 2, FLOOR_Z - 0.025), (2 * SIDE_WALL_X, room_depth, 0.05), 4),
    )


def textures(rng) -> dict:
    """rng(k): the texture stream k (fixed per surface, so a texture never depends on another)."""
    tex = {
        "counter_top": texture_wood(rng(1), 1400, 2000, planks=6),
        "cabinet": texture_wood(rng(2), 1024, 1200, planks=4),
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
    tex |= {
        "mug_body": texture_ceramic(rng(10), 512, 1024, (0.20, 0.42, 0.70)),
        "mug_handle": texture_ceramic(rng(11), 256, 256, (0.22, 0.40, 0.66)),
        "bowl_body": texture_ceramic(rng(12), 512, 1024, (0.86, 0.80, 0.62)),
        "box_body": texture_printed(rng(13), 768, 1024, (0.85, 0.25, 0.15), n=160),
        "can_body": texture_printed(rng(14), 512, 1024, (0.15, 0.55, 0.30), n=140),
    }
    # The kitchen was first rendered with every texture upside down (MuJoCo puts a file's first
    # row at v = 0, so the backsplash reaches 0.2 m, not 0.6 m, and letters read upside down);
    # flipped back here so its images stay the same as before.
    return {k: v[::-1] for k, v in tex.items()}


def still_cameras(objects) -> list[dict]:
    """Two orbit rings (front half: the counter stands against a wall) and close views."""
    cams = []
    for az in np.linspace(-75, 75, 20):
        cams.append({"group": "orbit_low", "world_from_cam": look_at_cv(orbit_eye(TARGET, az, 28, 1.0), TARGET)})
    for az in np.linspace(-70, 70, 20):
        cams.append({"group": "orbit_high", "world_from_cam": look_at_cv(orbit_eye(TARGET, az, 52, 0.9), TARGET)})
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
    az = -72 + 144 * s
    el = 36 + 6 * math.sin(2 * math.pi * s)
    return look_at_cv(orbit_eye(TARGET, az, el, 0.95 + 0.03 * math.cos(3 * math.pi * s)), TARGET)


def video_exposure(i: int) -> list[np.ndarray]:
    """A quick camera shake during the exposure of the blurred frames: +-2 frames of the orbit."""
    if i in VIDEO_BLURRED:
        return [video_pose(i + 4.0 * (k / 8 - 0.5)) for k in range(9)]
    return [video_pose(i)]


def scene(seed: int = 0) -> SceneDef:
    return SceneDef(
        name="kitchen",
        origin="centre of the counter-top surface",
        support="counter_top",
        support_size=COUNTER_SIZE,
        top_z=0.0,
        floor_z=FLOOR_Z,
        statics=statics(),
        objects=OBJECTS,
        marker=MARKER,
        textures=textures,
        lights=(
            '<light name="sun" directional="true" pos="-0.6 -1.0 2.0" dir="0.3 0.5 -1" diffuse="0.55 0.55 0.52" '
            'specular="0.2 0.2 0.2" castshadow="true"/>',
            '<light name="fill" directional="true" pos="1.0 -1.0 1.5" dir="-0.5 0.6 -0.8" diffuse="0.22 0.22 0.25" '
            'specular="0 0 0" castshadow="false"/>',
        ),
        ambient=(0.33, 0.33, 0.33),
        sky=("0.6 0.6 0.62", "0.3 0.3 0.32"),
        zfar=5.0,
        shadowclip=2.5,
        width=400,
        height=300,
        fovy_deg=55.0,
        still_cameras=still_cameras,
        still_exposure=lambda i, pose: [pose],
        blurred_stills=(),
        video_frames=VIDEO_FRAMES,
        video_fps=30,
        video_pose=video_pose,
        video_exposure=video_exposure,
        video_blurred=VIDEO_BLURRED,
        video_crf=20,
        video_notes={"path": "orbit, azimuth -72..72 deg, elevation 36 +- 6 deg, distance 0.95 +- 0.03 m",
                     "motion_blur": "blurred frames average 9 renders over +-2 frames of the orbit"},
        robot_base=suggested_robot_base(),
    )

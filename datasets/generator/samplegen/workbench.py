"""The workbench sample (datasets/workbench): a freestanding plywood workbench in a workshop, lit
by a warm lamp and a cool window, with a wooden block, a plastic bottle, an open tray and an
L-shaped bracket, and a printed ArUco marker (id 7, 8 cm). Hand-held capture: a few stills are
motion-blurred, the video shakes and goes through sensor noise and JPEG before H.264, and a phone
AR export carries ARKit-like metric poses.

World frame: metres, Z up, origin on the floor straight below the centre of the bench top (the
bench top is z = 0.75), +y towards the pegboard wall, +x to the right seen from the front.
"""

from __future__ import annotations

import math

import numpy as np

from .poses import HandShake, exposure, look_at_cv, orbit_eye, rigid
from .scene import ArExportDef, MarkerDef, ObjectDef, SceneDef, StaticBox
from .textures import (texture_blockwall, texture_ceramic, texture_concrete, texture_metal, texture_pegboard,
                       texture_printed, texture_wood, workshop_marks)

TOP_Z = 0.75
BENCH_SIZE = (1.2, 0.6, 0.035)  # x, y, thickness of the top
LEG = 0.05  # square steel legs
ROOM_X = 1.7  # side walls at x = +-ROOM_X
BACK_Y = 0.95  # the pegboard wall, 0.65 m behind the bench
FRONT_Y = -2.0
WALL_TOP_Z = 2.2
TARGET = (0.0, 0.02, TOP_Z + 0.05)
VIDEO_FRAMES = 150
VIDEO_FPS = 30
VIDEO_BLURRED = (37, 38, 83, 121)
# Two shaken stills on each ring (their ring neighbours are sharp): shake angle in degrees, from
# slight to strong.
STILL_SHAKE_DEG = {4: 1.2, 12: 2.5, 23: 1.8, 30: 1.5}

# Base-centre xy on the bench top and yaw about +z. Three fit a Panda gripper (block 4.5 cm,
# bracket 4.5 cm, bottle 6 cm across); the tray holds the block; the bracket is an L (non-convex).
OBJECTS = (
    ObjectDef("tray", "tray", (0.04, 0.10), -8.0, 0.25, 0.6, specular=0.1,
              params=dict(size=(0.22, 0.16, 0.045), wall=0.006, floor=0.006)),
    ObjectDef("block", "box", (-0.27, -0.04), 25.0, 0.09, 0.7, params=dict(size=(0.045, 0.045, 0.07))),
    ObjectDef("bottle", "bottle", (-0.16, 0.15), 0.0, 0.30, 0.5, specular=0.2,
              params=dict(radius=0.03, height=0.17, neck_radius=0.013, cap_radius=0.015, cap_height=0.02)),
    ObjectDef("bracket", "bracket", (0.28, -0.07), 115.0, 0.15, 0.7,
              params=dict(size=(0.12, 0.045, 0.08), foot_height=0.03, upright_thickness=0.03)),
)

MARKER = MarkerDef(marker_id=7, side=0.08, border=0.02, xy=(-0.02, -0.17), yaw_deg=8.0)

LIGHTS = (
    # A warm desk lamp (about 3000 K) up and to the left: a spot, so the bench is brighter
    # under it and falls off towards the walls.
    '<light name="lamp" pos="-0.45 -0.35 1.95" dir="0.45 0.4 -1.2" diffuse="1.0 0.80 0.58" specular="0.15 0.13 0.1" '
    'cutoff="60" exponent="2" attenuation="1 0 0" castshadow="true"/>',
    # Cool daylight from a window on the right (about 6500 K), no shadows.
    '<light name="window" directional="true" pos="1.5 0 2" dir="-0.8 0.25 -0.5" diffuse="0.30 0.36 0.46" '
    'specular="0 0 0" castshadow="false"/>',
)


def suggested_robot_base() -> np.ndarray:
    """A Franka base 10 cm in front of the bench's front edge at bench height, facing +y."""
    return rigid(np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), (0.0, -0.40, TOP_Z))


def _rects(visible: dict) -> tuple:
    """UV rects per face (+x, -x, +y, -y, +z, -z): the given faces get their rects, the rest a
    thin strip at the bottom of the texture."""
    return tuple(visible.get(f, (0.0, 0.0, 1.0, 0.04)) for f in range(6))


def statics() -> tuple:
    bx, by, bt = BENCH_SIZE
    leg_h = TOP_Z - bt
    room_cy, room_dy = (BACK_Y + FRONT_Y) / 2, BACK_Y - FRONT_Y
    wall_cz = WALL_TOP_Z / 2
    sides = {0: (0.0, 0.0, 0.25, 1.0), 1: (0.25, 0.0, 0.5, 1.0), 2: (0.5, 0.0, 0.75, 1.0), 3: (0.75, 0.0, 1.0, 1.0)}
    top = StaticBox("bench_top", (0.0, 0.0, TOP_Z - bt / 2), (bx, by, bt),
                    _rects({4: (0.0, 0.06, 1.0, 1.0), 3: (0.0, 0.0, 1.0, 0.03), 0: (0.0, 0.03, 0.5, 0.06),
                            1: (0.5, 0.03, 1.0, 0.06)}), "bench_top", mask_id=1)
    legs = tuple(StaticBox(f"leg_{n}", (sx * (bx / 2 - 0.05), sy * (by / 2 - 0.05), leg_h / 2), (LEG, LEG, leg_h),
                           _rects(sides), f"leg_{n}")
                 for n, sx, sy in (("fl", -1, -1), ("fr", 1, -1), ("bl", -1, 1), ("br", 1, 1)))
    shelf = StaticBox("shelf", (0.0, 0.0, 0.16), (bx - 0.15, by - 0.15, 0.018),
                      _rects({4: (0.0, 0.06, 1.0, 1.0), 3: (0.0, 0.0, 1.0, 0.06)}), "shelf")
    room = (
        StaticBox("floor", (0.0, room_cy, -0.025), (2 * ROOM_X, room_dy, 0.05), _rects({4: (0, 0, 1, 1)}), "floor"),
        StaticBox("back_wall", (0.0, BACK_Y + 0.025, wall_cz), (2 * ROOM_X, 0.05, WALL_TOP_Z), _rects({3: (0, 0, 1, 1)}),
                  "back_wall"),
        StaticBox("front_wall", (0.0, FRONT_Y - 0.025, wall_cz), (2 * ROOM_X, 0.05, WALL_TOP_Z), _rects({2: (0, 0, 1, 1)}),
                  "front_wall"),
        StaticBox("left_wall", (-ROOM_X - 0.025, room_cy, wall_cz), (0.05, room_dy, WALL_TOP_Z), _rects({0: (0, 0, 1, 1)}),
                  "left_wall"),
        StaticBox("right_wall", (ROOM_X + 0.025, room_cy, wall_cz), (0.05, room_dy, WALL_TOP_Z), _rects({1: (0, 0, 1, 1)}),
                  "right_wall"),
    )
    return (top, *legs, shelf, *room)


def textures(rng) -> dict:
    """rng(k): the texture stream k (fixed per surface)."""
    # Back wall: painted blocks, with a pegboard panel from just above the bench to 1.75 m, x -0.9..0.9 m.
    wh, ww = 1600, 2400
    back = texture_blockwall(rng(23), wh, ww, (0.80, 0.80, 0.76), rows=11, cols=9, marks=60)
    z_to_row = lambda z: int(round((WALL_TOP_Z - z) / WALL_TOP_Z * wh))  # noqa: E731
    x_to_col = lambda x: int(round((x + ROOM_X) / (2 * ROOM_X) * ww))  # noqa: E731
    r0, r1, c0, c1 = z_to_row(1.75), z_to_row(TOP_Z + 0.05), x_to_col(-0.9), x_to_col(0.9)
    back[r0:r1, c0:c1] = texture_pegboard(rng(24), r1 - r0, c1 - c0, pitch_px=18, tools=70)
    bench = texture_wood(rng(20), 1200, 2400, planks=3, tint=(0.80, 0.64, 0.44),
                         knot_palette=((0.45, 0.32, 0.2), (0.62, 0.48, 0.32), (0.9, 0.8, 0.62), (0.3, 0.22, 0.14)))
    tex = {
        "bench_top": workshop_marks(bench, rng(21), n=350, scale=30),
        "shelf": workshop_marks(texture_wood(rng(22), 700, 1400, planks=2, tint=(0.6, 0.46, 0.3)), rng(29), 250, 20),
        "back_wall": back,
        "front_wall": texture_blockwall(rng(25), 1200, 2000, (0.86, 0.83, 0.70), rows=11, cols=9, marks=50),
        "left_wall": texture_blockwall(rng(26), 1400, 2200, (0.66, 0.76, 0.68), rows=11, cols=14, marks=70),
        "right_wall": texture_blockwall(rng(27), 1400, 2200, (0.74, 0.74, 0.78), rows=11, cols=14, marks=70),
        "floor": texture_concrete(rng(28), 2200, 2400, marks=260),
        "tray": texture_metal(rng(40), 1024, 768, (0.16, 0.36, 0.26), marks=90),
        "block_body": texture_printed(rng(41), 768, 768, (0.95, 0.78, 0.30), n=110),
        "bottle_body": texture_printed(rng(42), 512, 1024, (0.82, 0.88, 0.92), n=120),
        "bottle_cap": texture_ceramic(rng(43), 128, 256, (0.80, 0.12, 0.10)),
        "bracket": texture_wood(rng(44), 768, 768, planks=2, tint=(0.72, 0.40, 0.22)),
    }
    for k, n in enumerate(("fl", "fr", "bl", "br")):
        tex[f"leg_{n}"] = texture_metal(rng(30 + k), 1024, 256, (0.22, 0.27, 0.36), marks=25)
    return tex


def still_cameras(objects) -> list[dict]:
    """A low and a high ring around the free-standing bench (front and sides) and close views."""
    cams = []
    for az in np.linspace(-100, 100, 18):
        cams.append({"group": "orbit_low", "world_from_cam": look_at_cv(orbit_eye(TARGET, az, 35, 1.05), TARGET)})
    for az in np.linspace(-90, 90, 16):
        cams.append({"group": "orbit_high", "world_from_cam": look_at_cv(orbit_eye(TARGET, az, 56, 1.0), TARGET)})
    views = {"tray": (5, 50), "block": (-40, 35), "bottle": (-20, 32), "bracket": (40, 35)}
    for obj in objects:
        az, el = views[obj["name"]]
        centre = np.array(obj["position"])
        for d_az in (-18, 18):
            cams.append({"group": f"close_{obj['name']}",
                         "world_from_cam": look_at_cv(orbit_eye(centre, az + d_az, el, 0.42), centre)})
    for i, c in enumerate(cams):
        c["file_path"] = f"images/frame_{i:03d}.png"
    return cams


def scene(seed: int = 0) -> SceneDef:
    shake = HandShake(np.random.default_rng([seed, 700]), VIDEO_FPS, rot_deg=0.7, shift_m=0.006)

    def orbit(t: float) -> np.ndarray:
        s = t / (VIDEO_FRAMES - 1)
        az = -95 + 190 * (s + 0.04 * math.sin(3 * math.pi * s))  # an uneven walking pace
        el = 36 + 7 * math.sin(2 * math.pi * s + 0.7)
        return look_at_cv(orbit_eye(TARGET, az, el, 1.02 + 0.05 * math.cos(2.5 * math.pi * s)), TARGET)

    def video_pose(t: float) -> np.ndarray:
        return shake.apply(orbit(t), t)

    def video_exposure(i: int) -> list[np.ndarray]:  # the blurred frames: a jolt of the hand
        return exposure(video_pose(i), i, dict.fromkeys(VIDEO_BLURRED, 3.0), 0.008, seed, 800)

    def still_exposure(i: int, pose: np.ndarray) -> list[np.ndarray]:
        return exposure(pose, i, STILL_SHAKE_DEG, 0.005, seed, 600)

    return SceneDef(
        name="workbench",
        origin="floor, straight below the centre of the bench top",
        support="bench_top",
        support_size=BENCH_SIZE,
        top_z=TOP_Z,
        floor_z=0.0,
        statics=statics(),
        objects=OBJECTS,
        marker=MARKER,
        textures=textures,
        lights=LIGHTS,
        ambient=(0.30, 0.29, 0.27),
        sky=("0.5 0.5 0.5", "0.3 0.3 0.3"),
        zfar=6.0,
        shadowclip=3.0,
        width=400,
        height=300,
        fovy_deg=50.0,
        still_cameras=still_cameras,
        still_exposure=still_exposure,
        blurred_stills=tuple(STILL_SHAKE_DEG),
        video_frames=VIDEO_FRAMES,
        video_fps=VIDEO_FPS,
        video_pose=video_pose,
        video_exposure=video_exposure,
        video_blurred=VIDEO_BLURRED,
        video_crf=23,
        video_notes={"path": "hand-held orbit, azimuth -95..95 deg at an uneven pace, elevation 36 +- 7 deg, "
                             "distance 1.02 +- 0.05 m",
                     "shake": "smooth tremor on every frame (sums of 0.3-4 Hz sinusoids): 0.7 deg RMS rotation and "
                              "6 mm RMS shift per axis, in ground-truth poses",
                     "motion_blur": "blurred frames average 11 renders over a 3 deg / 8 mm jolt centred on the pose"},
        sensor_read_noise=2.0,
        sensor_shot_noise=0.08,
        video_jpeg_quality=60,
        robot_base=suggested_robot_base(),
        ar_export=ArExportDef(folder="phone_ar", frame_indices=tuple(range(0, VIDEO_FRAMES, 5)), jpeg_quality=90,
                              drift_m=0.008, drift_deg=0.3, jitter_m=0.001, jitter_deg=0.05),
    )

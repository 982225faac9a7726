"""The desk sample (not bundled; `python datasets/generator/generate.py desk --out DIR`): a scene no
pipeline default was tuned on, to run the product the way a new user would. A dark laminate office desk
(0.9 x 0.6 m, top at 0.72 m) in a room lit by cool overhead panels and a warm window from the left, with
five objects (a cup with a handle, a wide dish, a tin, a tall carton, a small cube) and a smaller printed
ArUco marker (id 3, 6 cm). Hand-held capture: two shaken stills, a shaky video through sensor noise and
JPEG.

World frame: metres, Z up, origin on the floor below the centre of the desk top (top z = 0.72), +y away
from the person capturing, +x to their right.
"""

from __future__ import annotations

import math

import numpy as np

from .poses import HandShake, exposure, look_at_cv, orbit_eye, rigid
from .scene import MarkerDef, ObjectDef, SceneDef, StaticBox
from .textures import texture_ceramic, texture_concrete, texture_metal, texture_plaster, texture_printed, texture_wood

TOP_Z = 0.72
DESK_SIZE = (0.9, 0.6, 0.03)
LEG = 0.04
ROOM_X = 1.5
BACK_Y = 1.2
FRONT_Y = -1.8
WALL_TOP_Z = 2.4
TARGET = (0.0, 0.03, TOP_Z + 0.05)
VIDEO_FRAMES = 150
VIDEO_FPS = 30
VIDEO_BLURRED = (52, 53, 110)
STILL_SHAKE_DEG = {7: 2.0, 25: 1.4}

# Base-centre xy on the desk top and yaw about +z. Graspable: the tin (6 cm), the cube (5 cm), the carton
# (5 cm thin side); the dish holds the cube and the tin; the cup (handle) is non-convex.
OBJECTS = (
    ObjectDef("cup", "mug", (-0.22, 0.05), 120.0, 0.28, 0.7, specular=0.2,
              params=dict(radius=0.035, height=0.085, wall=0.005, base=0.008, handle_radius=0.025, handle_tube=0.006)),
    ObjectDef("dish", "bowl", (0.10, 0.12), 0.0, 0.30, 0.6, specular=0.2,
              params=dict(radius=0.085, height=0.05, wall=0.006, foot_radius=0.05)),
    ObjectDef("tin", "can", (-0.06, -0.04), 0.0, 0.32, 0.6, params=dict(radius=0.03, height=0.10)),
    ObjectDef("carton", "box", (0.25, -0.06), -30.0, 0.2, 0.6, params=dict(size=(0.07, 0.05, 0.14))),
    ObjectDef("cube", "box", (-0.10, 0.17), 10.0, 0.08, 0.7, params=dict(size=(0.05, 0.05, 0.05))),
)

MARKER = MarkerDef(marker_id=3, side=0.06, border=0.015, xy=(0.08, -0.19), yaw_deg=20.0)

LIGHTS = (
    # Cool overhead panels (about 5000 K): two spots from the ceiling, soft shadows straight down.
    '<light name="panel_a" pos="-0.3 0.2 2.3" dir="0.1 -0.05 -1" diffuse="0.55 0.58 0.62" specular="0.1 0.1 0.1" '
    'cutoff="70" exponent="1" attenuation="1 0 0" castshadow="true"/>',
    '<light name="panel_b" pos="0.4 -0.2 2.3" dir="-0.1 0.05 -1" diffuse="0.30 0.32 0.35" specular="0 0 0" '
    'cutoff="70" exponent="1" attenuation="1 0 0" castshadow="false"/>',
    # Warm late-afternoon window light from the left, low and raking.
    '<light name="window" directional="true" pos="-1.5 0 1.5" dir="0.9 0.15 -0.45" diffuse="0.42 0.32 0.20" '
    'specular="0.05 0.04 0.03" castshadow="true"/>',
)


def suggested_robot_base() -> np.ndarray:
    """A Franka base 12 cm in front of the desk's front edge at desk height, facing +y."""
    return rigid(np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), (0.0, -0.42, TOP_Z))


def _rects(visible: dict) -> tuple:
    return tuple(visible.get(f, (0.0, 0.0, 1.0, 0.04)) for f in range(6))


def statics() -> tuple:
    dx, dy, dt = DESK_SIZE
    leg_h = TOP_Z - dt
    room_cy, room_dy = (BACK_Y + FRONT_Y) / 2, BACK_Y - FRONT_Y
    wall_cz = WALL_TOP_Z / 2
    top = StaticBox("desk_top", (0.0, 0.0, TOP_Z - dt / 2), (dx, dy, dt),
                    _rects({4: (0.0, 0.05, 1.0, 1.0), 3: (0.0, 0.0, 1.0, 0.03), 0: (0.0, 0.03, 0.5, 0.05),
                            1: (0.5, 0.03, 1.0, 0.05)}), "desk_top", mask_id=1)
    legs = tuple(StaticBox(f"leg_{n}", (sx * (dx / 2 - 0.04), sy * (dy / 2 - 0.04), leg_h / 2), (LEG, LEG, leg_h),
                           _rects({f: (0.25 * f, 0.0, 0.25 * f + 0.25, 1.0) for f in range(4)}), "legs")
                 for n, sx, sy in (("fl", -1, -1), ("fr", 1, -1), ("bl", -1, 1), ("br", 1, 1)))
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
    return (top, *legs, *room)


def textures(rng) -> dict:
    """rng(k): the texture stream k (fixed per surface)."""
    return {
        # dark grey-brown laminate: low contrast, the hard case for matching
        "desk_top": texture_wood(rng(60), 1200, 1800, planks=2, tint=(0.34, 0.29, 0.25)),
        "legs": texture_metal(rng(61), 1024, 256, (0.12, 0.12, 0.13), marks=20),
        "floor": texture_concrete(rng(62), 2200, 2400, tone=(0.42, 0.40, 0.37), marks=200),
        "back_wall": texture_plaster(rng(63), 1400, 2200, (0.70, 0.72, 0.66), marks=110),
        "front_wall": texture_plaster(rng(64), 1400, 2200, (0.80, 0.78, 0.72), marks=90),
        "left_wall": texture_plaster(rng(65), 1400, 2200, (0.86, 0.76, 0.62), marks=90),
        "right_wall": texture_plaster(rng(66), 1400, 2200, (0.64, 0.70, 0.78), marks=90),
        "cup_body": texture_ceramic(rng(70), 512, 1024, (0.82, 0.30, 0.26)),
        "cup_handle": texture_ceramic(rng(71), 256, 256, (0.80, 0.30, 0.26)),
        "dish_body": texture_ceramic(rng(72), 512, 1024, (0.36, 0.55, 0.62)),
        "tin_body": texture_printed(rng(73), 512, 1024, (0.78, 0.74, 0.30), n=120),
        "carton_body": texture_printed(rng(74), 768, 1024, (0.30, 0.40, 0.75), n=150),
        "cube_body": texture_printed(rng(75), 512, 512, (0.92, 0.55, 0.20), n=60),
    }


def still_cameras(objects) -> list[dict]:
    """A low and a high arc over the front and sides (the desk stands free) and close views."""
    cams = []
    for az in np.linspace(-95, 95, 16):
        cams.append({"group": "orbit_low", "world_from_cam": look_at_cv(orbit_eye(TARGET, az, 32, 0.95), TARGET)})
    for az in np.linspace(-85, 85, 14):
        cams.append({"group": "orbit_high", "world_from_cam": look_at_cv(orbit_eye(TARGET, az, 55, 0.9), TARGET)})
    views = {"cup": (-45, 40), "dish": (10, 55), "tin": (-10, 35), "carton": (40, 35), "cube": (-25, 45)}
    for obj in objects:
        az, el = views[obj["name"]]
        centre = np.array(obj["position"])
        for d_az in (-18, 18):
            cams.append({"group": f"close_{obj['name']}",
                         "world_from_cam": look_at_cv(orbit_eye(centre, az + d_az, el, 0.4), centre)})
    for i, c in enumerate(cams):
        c["file_path"] = f"images/frame_{i:03d}.png"
    return cams


def scene(seed: int = 0) -> SceneDef:
    shake = HandShake(np.random.default_rng([seed, 900]), VIDEO_FPS, rot_deg=0.6, shift_m=0.005)

    def orbit(t: float) -> np.ndarray:
        s = t / (VIDEO_FRAMES - 1)
        az = 90 - 180 * (s + 0.03 * math.sin(2 * math.pi * s))  # right to left, uneven pace
        el = 40 + 8 * math.sin(2 * math.pi * s + 1.3)
        return look_at_cv(orbit_eye(TARGET, az, el, 0.92 + 0.05 * math.sin(1.5 * math.pi * s)), TARGET)

    def video_pose(t: float) -> np.ndarray:
        return shake.apply(orbit(t), t)

    def video_exposure(i: int) -> list[np.ndarray]:
        return exposure(video_pose(i), i, dict.fromkeys(VIDEO_BLURRED, 2.5), 0.007, seed, 1000)

    def still_exposure(i: int, pose: np.ndarray) -> list[np.ndarray]:
        return exposure(pose, i, STILL_SHAKE_DEG, 0.005, seed, 1100)

    return SceneDef(
        name="desk",
        origin="floor, straight below the centre of the desk top",
        support="desk_top",
        support_size=DESK_SIZE,
        top_z=TOP_Z,
        floor_z=0.0,
        statics=statics(),
        objects=OBJECTS,
        marker=MARKER,
        textures=textures,
        lights=LIGHTS,
        ambient=(0.26, 0.27, 0.29),
        sky=("0.55 0.55 0.58", "0.3 0.3 0.32"),
        zfar=6.0,
        shadowclip=3.0,
        width=400,
        height=300,
        fovy_deg=52.0,
        still_cameras=still_cameras,
        still_exposure=still_exposure,
        blurred_stills=tuple(STILL_SHAKE_DEG),
        video_frames=VIDEO_FRAMES,
        video_fps=VIDEO_FPS,
        video_pose=video_pose,
        video_exposure=video_exposure,
        video_blurred=VIDEO_BLURRED,
        video_crf=23,
        video_notes={"path": "hand-held orbit, azimuth 90..-90 deg at an uneven pace, elevation 40 +- 8 deg, "
                             "distance 0.92 +- 0.05 m",
                     "shake": "smooth tremor on every frame: 0.6 deg RMS rotation and 5 mm RMS shift per axis, in "
                              "ground-truth poses",
                     "motion_blur": "blurred frames average 11 renders over a 2.5 deg / 7 mm jolt centred on the pose"},
        sensor_read_noise=2.5,
        sensor_shot_noise=0.1,
        video_jpeg_quality=55,
        robot_base=suggested_robot_base(),
    )

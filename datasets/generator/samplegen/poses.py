"""Poses and cameras: rotations, OpenCV look-at, orbits, pinhole intrinsics, hand shake.

Cameras are OpenCV (x right, y down, z forward) `world_from_cam` 4x4 in a Z-up world; K uses
the COLMAP / gsplat pixel convention (pixel i covers [i, i+1], image centre W/2, H/2).
"""

from __future__ import annotations

import math

import numpy as np


def yaw_matrix(yaw_deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotvec_matrix(rotvec) -> np.ndarray:
    """Rotation matrix of an axis-angle vector (radians)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(np.asarray(rotvec, float)).as_matrix()


def rotmat_to_quat_wxyz(r: np.ndarray) -> list[float]:
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(r).as_quat()
    q = np.array([w, x, y, z])
    return (q if q[0] >= 0 else -q).tolist()


def rigid(rotation: np.ndarray, translation) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = rotation, translation
    return m


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


def intrinsics(width: int, height: int, fovy_deg: float) -> np.ndarray:
    f = 0.5 * height / math.tan(math.radians(fovy_deg) / 2)
    return np.array([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])


def camera_jolt(world_from_cam: np.ndarray, rotvec_cam, shift_cam, s: float) -> np.ndarray:
    """The camera moved by a fraction s of a jolt (a rotation about its own centre and a shift,
    both in camera axes): the pose at one instant of a shaken exposure."""
    out = world_from_cam.copy()
    out[:3, :3] = world_from_cam[:3, :3] @ rotvec_matrix(s * np.asarray(rotvec_cam, float))
    out[:3, 3] = world_from_cam[:3, 3] + world_from_cam[:3, :3] @ (s * np.asarray(shift_cam, float))
    return out


def exposure(pose: np.ndarray, i: int, jolts: dict[int, float], shift_m: float, seed: int, stream: int
             ) -> list[np.ndarray]:
    """Sub-exposure poses of capture i: a hand jolt of jolts[i] degrees and shift_m during the exposure
    (11 renders, random stream [seed, stream + i]) when i is in jolts, else the sharp pose alone."""
    if i in jolts:
        return shaken_exposure(pose, np.random.default_rng([seed, stream + i]), jolts[i], shift_m, 11)
    return [pose]


def shaken_exposure(world_from_cam: np.ndarray, rng: np.random.Generator, angle_deg: float, shift_m: float,
                    samples: int) -> list[np.ndarray]:
    """Sub-exposure poses of a hand shake during one exposure, centred on world_from_cam (the
    ground-truth pose): a rotation of angle_deg about a random axis mostly across the view, and
    a shift of shift_m, swept linearly through the exposure."""
    axis = np.array([rng.normal(), rng.normal(), 0.3 * rng.normal()])
    axis /= np.linalg.norm(axis)
    shift = rng.normal(size=3)
    shift *= shift_m / np.linalg.norm(shift)
    rotvec = math.radians(angle_deg) * axis
    return [camera_jolt(world_from_cam, rotvec, shift, k / (samples - 1) - 0.5) for k in range(samples)]


class HandShake:
    """Smooth, irregular hand tremor: per axis a sum of sinusoids with random frequencies,
    phases and 1/f-like amplitudes. Gives a small rotation (camera axes) and shift at time t."""

    def __init__(self, rng: np.random.Generator, fps: float, rot_deg: float, shift_m: float, terms: int = 5):
        self.fps = fps
        freqs = rng.uniform(0.3, 4.0, (6, terms))  # Hz; rows: rx, ry, rz, tx, ty, tz
        self.freqs = freqs
        self.phases = rng.uniform(0, 2 * math.pi, (6, terms))
        amps = 1.0 / freqs
        amps /= np.sqrt((amps**2).sum(axis=1, keepdims=True) / 2)  # unit RMS per axis
        self.amps = amps * np.array([[math.radians(rot_deg)] * 3 + [shift_m] * 3]).T

    def offsets(self, t_frames: float) -> tuple[np.ndarray, np.ndarray]:
        """(rotvec (3,) radians, shift (3,) metres) in camera axes at time t (in frames)."""
        s = t_frames / self.fps
        v = (self.amps * np.sin(2 * math.pi * self.freqs * s + self.phases)).sum(axis=1)
        return v[:3], v[3:]

    def apply(self, world_from_cam: np.ndarray, t_frames: float) -> np.ndarray:
        rot, shift = self.offsets(t_frames)
        return camera_jolt(world_from_cam, rot, shift, 1.0)

"""A synthetic tabletop with a printed ArUco marker, seen by known cameras, for the scale cues' tests.

The table is a textured plane z = 0 (metres, Z up); the marker lies on it at a known centre and
yaw. Views are exact perspective warps of the table texture (no SfM involved), and the model
handed to the cue code is the true one seen through a known similarity, so every recovered
number has an exact answer.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from gwm.cameras import look_at
from gwm.capture.sfm import SfmModel
from gwm.metrics import Similarity

MM_PER_PX = 1.0  # texture resolution
TABLE = (1.0, 0.7)  # metres
W, H, F = 400, 300, 300.0
K = np.array([[F, 0.0, W / 2], [0.0, F, H / 2], [0.0, 0.0, 1.0]])


def table_texture(seed: int, marker_side: float, marker_centre, marker_yaw_deg: float, marker_id: int = 7,
                  dictionary: str = "DICT_4X4_50") -> np.ndarray:
    rng = np.random.default_rng(seed)
    tw, th = int(TABLE[0] * 1000 / MM_PER_PX), int(TABLE[1] * 1000 / MM_PER_PX)
    noise = rng.random((th // 8, tw // 8)).astype(np.float32)
    tex = cv2.resize(noise, (tw, th), interpolation=cv2.INTER_CUBIC)
    tex = (60 + 150 * (tex - tex.min()) / (tex.max() - tex.min())).astype(np.uint8)
    # the printed sheet: white paper with a margin, marker in the middle
    px = int(round(marker_side * 1000 / MM_PER_PX))
    # drawn 6x larger and area-averaged down, so cell edges that fall inside a pixel are grey, as printed
    big = cv2.aruco.generateImageMarker(cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, dictionary)), marker_id, 6 * px)
    marker = cv2.resize(big, (px, px), interpolation=cv2.INTER_AREA)
    margin = px // 4
    sheet = np.full((px + 2 * margin, px + 2 * margin), 255, np.uint8)
    sheet[margin:margin + px, margin:margin + px] = marker
    # place the sheet: its pixel (column right, row down) = marker (+x, -y), rotated by yaw about +z
    c, s = np.cos(np.radians(marker_yaw_deg)), np.sin(np.radians(marker_yaw_deg))
    cx = (marker_centre[0] + TABLE[0] / 2) * 1000 / MM_PER_PX - 0.5  # pixel centres are at +0.5
    cy = (TABLE[1] / 2 - marker_centre[1]) * 1000 / MM_PER_PX - 0.5
    sc = (sheet.shape[1] - 1) / 2.0
    # texture (u, v) = centre + R_img @ (sheet - sc), with image-axis rotation by -yaw (v points down)
    A = np.array([[c, s, cx - c * sc - s * sc], [-s, c, cy + s * sc - c * sc]])
    mask = cv2.warpAffine(np.full_like(sheet, 255), A, (tw, th), flags=cv2.INTER_NEAREST)
    placed = cv2.warpAffine(sheet, A, (tw, th), flags=cv2.INTER_LINEAR)
    tex = np.where(mask > 0, placed, tex)
    return cv2.GaussianBlur(tex, (0, 0), 0.8)


def _texture_to_table() -> np.ndarray:
    """3x3 map from texture pixel (OpenCV centres) to table (X, Y, 1) in metres."""
    s = MM_PER_PX / 1000.0
    return np.array([[s, 0.0, -TABLE[0] / 2 + 0.5 * s], [0.0, -s, TABLE[1] / 2 - 0.5 * s], [0.0, 0.0, 1.0]])


def render_view(texture: np.ndarray, world_from_cam: np.ndarray) -> np.ndarray:
    """Grey image of the table plane seen by one camera (background mid-grey)."""
    cam_from_world = np.linalg.inv(world_from_cam)
    plane_to_cam = cam_from_world[:3][:, [0, 1, 3]]  # [r1 r2 t]
    shift = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])  # COLMAP pixel centres -> OpenCV
    Hm = shift @ K @ plane_to_cam @ _texture_to_table()
    return cv2.warpPerspective(texture, Hm, (W, H), flags=cv2.INTER_LINEAR, borderValue=128)


def cameras(seed: int, n: int, target=(0.0, 0.0, 0.0)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        az = np.radians(-70 + 140 * k / max(n - 1, 1) + rng.uniform(-5, 5))
        el = np.radians(rng.uniform(40, 65))
        r = rng.uniform(0.55, 0.8)
        eye = np.array([r * np.cos(el) * np.sin(az), -r * np.cos(el) * np.cos(az), r * np.sin(el)])
        aim = np.asarray(target) + rng.uniform(-0.05, 0.05, 3) * [1, 1, 0]
        out.append(look_at(eye, aim).double().numpy())
    return np.stack(out)


def make_scene(folder: Path, seed: int = 0, n_views: int = 10, marker_side: float = 0.10, marker_centre=(0.08, -0.04),
               marker_yaw_deg: float = 25.0, marker_id: int = 7, sfm_from_world: Similarity | None = None):
    """Write the views to folder; return (SfmModel in the SfM frame, true world_from_cam, sfm_from_world)."""
    folder.mkdir(parents=True, exist_ok=True)
    tex = table_texture(seed, marker_side, marker_centre, marker_yaw_deg, marker_id)
    poses = cameras(seed, n_views)
    names = []
    for k, pose in enumerate(poses):
        name = f"view_{k:02d}.png"
        cv2.imwrite(str(folder / name), render_view(tex, pose))
        names.append(name)
    if sfm_from_world is None:
        q, _ = np.linalg.qr(np.random.default_rng(seed + 1).normal(size=(3, 3)))
        q = q if np.linalg.det(q) > 0 else -q
        sfm_from_world = Similarity(2.7, q, np.array([0.3, -1.2, 0.5]))
    rng = np.random.default_rng(seed + 2)
    pts = np.column_stack([rng.uniform(-TABLE[0] / 2, TABLE[0] / 2, 3000), rng.uniform(-TABLE[1] / 2, TABLE[1] / 2, 3000),
                           np.zeros(3000)])
    boxes = np.column_stack([rng.uniform(-0.3, -0.2, 300), rng.uniform(0.1, 0.2, 300), rng.uniform(0.0, 0.1, 300)])
    pts = np.vstack([pts, boxes])
    model = SfmModel(image_names=names, world_from_cam=sfm_from_world.apply_poses(poses), K=K.copy(), distortion={},
                     width=W, height=H, points=sfm_from_world.apply_points(pts), colors=np.full((len(pts), 3), 128, np.uint8),
                     num_input_images=n_views, mean_reprojection_error=0.0, colmap_image_ids=list(range(1, n_views + 1)))
    return model, poses, sfm_from_world


def project(world_from_cam: np.ndarray, X: np.ndarray) -> np.ndarray:
    """OpenCV pixel positions of world points X (P, 3) in one camera."""
    cfw = np.linalg.inv(world_from_cam)
    pc = X @ cfw[:3, :3].T + cfw[:3, 3]
    return pc[:, :2] / pc[:, 2:] * F + np.array([W / 2, H / 2]) - 0.5


def marker_corners_world(side: float, centre, yaw_deg: float) -> np.ndarray:
    """(4, 3) true corners in OpenCV's order (marker +x, +y rotated by yaw about +z)."""
    c, s = np.cos(np.radians(yaw_deg)), np.sin(np.radians(yaw_deg))
    R = np.array([[c, -s], [s, c]])
    h = side / 2
    local = np.array([[-h, h], [h, h], [h, -h], [-h, -h]])
    xy = local @ R.T + np.asarray(centre)
    return np.column_stack([xy, np.zeros(4)])

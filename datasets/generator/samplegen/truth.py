"""Ground truth of a generated sample: ground_truth.json, the exactly posed nerfstudio copy of
the stills (transforms.json + sparse_pc.ply from ground-truth depth) and the preview sheet.
Ground truth is for benchmarks and tests; no pipeline stage reads it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .scene import (CONTAINER_FIT_MARGIN, MAX_GRASP_WIDTH, MIN_CAVITY_DEPTH, MIN_CAVITY_WIDTH, NEARLY_CONVEX_SOLIDITY,
                    SceneDef, marker_record)
from .poses import rigid

# The schema name is the kitchen's, the first sample's; every generated sample shares the schema.
FORMAT = "gwm.kitchen_capture.ground_truth"
# 2 added: marker, table.height_above_floor / floor_z / plane.point, frames[].blurred, blurred_stills,
# video.degradation, per-object shape facts, ar_export. Nothing of version 1 was removed or changed.
FORMAT_VERSION = 2
GENERATOR_SCRIPT = "datasets/generator/generate.py"


def ground_truth(scene: SceneDef, objects: list[dict], stills: list[dict], seed: int, renderer_name: str,
                 ar_export: dict | None = None) -> dict:
    K = scene.intrinsics()
    sx, sy, thickness = scene.support_size
    support_id = next(s.mask_id for s in scene.statics if s.name == scene.support)
    blurred = {stills[i]["file_path"] for i in scene.blurred_stills}
    gt = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generator": {"script": GENERATOR_SCRIPT, "scene": scene.name, "seed": seed, "renderer": renderer_name},
        "world": {"units": "metres", "up": "+z", "origin": scene.origin,
                  "camera_axes": "OpenCV: x right, y down, z forward",
                  "pixel_convention": "pixel i covers [i, i+1] (COLMAP, gsplat); principal point W/2, H/2"},
        "camera": {"model": "PINHOLE", "width": scene.width, "height": scene.height, "fovy_deg": scene.fovy_deg,
                   "fx": K[0, 0], "fy": K[1, 1], "cx": K[0, 2], "cy": K[1, 2], "K": K.tolist()},
        "frames": [{"file_path": c["file_path"], "mask_path": c["file_path"].replace("images/", "masks/"),
                    "depth_path": c["file_path"].replace("images/", "depth/"), "group": c["group"],
                    "world_from_cam": np.round(c["world_from_cam"], 9).tolist(),
                    "blurred": c["file_path"] in blurred} for c in stills],
        "blurred_stills": sorted(blurred),
        "video": {"file_path": "orbit.mp4", "codec": "h264", "fps": scene.video_fps, "num_frames": scene.video_frames,
                  "motion_blurred_frames": list(scene.video_blurred),
                  "degradation": {**scene.video_notes,
                                  "sensor_noise": {"read_std": scene.sensor_read_noise, "shot_gain": scene.sensor_shot_noise}
                                  if scene.sensor_read_noise or scene.sensor_shot_noise else None,
                                  "jpeg_quality": scene.video_jpeg_quality, "h264_crf": scene.video_crf},
                  "frames": [{"index": i, "world_from_cam": np.round(scene.video_pose(i), 9).tolist()}
                             for i in range(scene.video_frames)]},
        "table": {"name": scene.support,
                  "plane": {"normal": [0.0, 0.0, 1.0], "offset": scene.top_z, "point": [0.0, 0.0, scene.top_z],
                            "equation": "normal . x = offset"},
                  "top_z": scene.top_z, "height_above_floor": scene.top_z - scene.floor_z, "floor_z": scene.floor_z,
                  "size": [sx, sy, thickness],
                  "extent_xy": {"min": [-sx / 2, -sy / 2], "max": [sx / 2, sy / 2]}},
        "marker": marker_record(scene),
        "objects": [{k: v for k, v in o.items() if not k.startswith("_")} for o in objects],
        "shape_fact_rules": {
            "graspable": f"narrowest horizontal width of the mesh <= {MAX_GRASP_WIDTH} m (the Panda opens 0.08 m)",
            "open_top": f"seen from straight above, the mesh encloses a region (the cavity) at least {MIN_CAVITY_DEPTH} m "
                        f"below its top and {MIN_CAVITY_WIDTH} m across",
            "is_container": f"open top, and the cavity's widest inscribed disc is at least the smallest footprint_diameter "
                            f"(longest horizontal chord) among the sample's other objects + {CONTAINER_FIT_MARGIN} m: "
                            "another object fits in at any yaw",
            "convex": f"volume / convex hull volume >= {NEARLY_CONVEX_SOLIDITY}",
            "role": "container if is_container else object"},
        "static": [{"name": s.name, "mask_id": s.mask_id, "centre": list(s.centre), "size": list(s.size), "type": "box",
                    "world_from_body": rigid(np.eye(3), s.centre).tolist()} for s in scene.statics],
        "mask_ids": {"0": "room (walls, floor, furniture) or nothing",
                     str(support_id): scene.support + (" (and the printed marker lying on it)" if scene.marker else ""),
                     **{str(o["mask_id"]): o["name"] for o in objects}},
        "depth_encoding": "uint16 PNG, millimetres of z-depth along the optical axis, 0 = no surface",
        "robot_base_suggestion": {"world_from_base": scene.robot_base.tolist(),
                                  "note": "front edge of the support, base +x facing the back; a suggestion only"},
    }
    if ar_export is not None:
        gt["ar_export"] = ar_export
    return gt


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
    sample = gt["generator"]["scene"]
    transforms = {
        "w": cam["width"], "h": cam["height"], "fl_x": cam["fx"], "fl_y": cam["fy"], "cx": cam["cx"], "cy": cam["cy"],
        "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0, "camera_model": "OPENCV",
        "frames": frames,
        "applied_transform": np.eye(4)[:3].tolist(),
        "ply_file_path": "sparse_pc.ply",
        "normalisation": np.eye(4).tolist(),
        "gwm": {"format": "gwm.capture", "format_version": 1,
                "config": {"ground_truth": True, "seed": seed, "points_per_view": points_per_view},
                "source": {"kind": "ground_truth", "path": GENERATOR_SCRIPT},
                "alignment": {"method": "ground_truth", "metric": True, "up": "+z"},
                "scale_is_metric": True, "units": "metres", "up_axis": "+z",
                "note": "exact poses from the generator; sparse_pc.ply is sampled from ground-truth depth, "
                        f"not SfM. Run `gwm capture run datasets/{sample}/images OUT` for the SfM path."},
    }
    (root / "transforms.json").write_text(json.dumps(transforms, indent=1) + "\n")


def write_preview(images: Path, out: Path, width: int, height: int, every: int = 4) -> None:
    """A contact sheet of every 4th still, for people browsing the data."""
    import cv2

    names = sorted(images.glob("*.png"))[::every]
    thumbs = [cv2.resize(cv2.imread(str(p)), (width // 2, height // 2), interpolation=cv2.INTER_AREA) for p in names]
    cols = 4
    while len(thumbs) % cols:
        thumbs.append(np.zeros_like(thumbs[0]))
    rows = [np.concatenate(thumbs[i:i + cols], axis=1) for i in range(0, len(thumbs), cols)]
    cv2.imwrite(str(out), np.concatenate(rows, axis=0), [cv2.IMWRITE_JPEG_QUALITY, 85])

"""Render a scene definition and write the whole sample folder.

Everything is written to a staging folder first and moved into place at the end, so a failed
run leaves the previous sample intact. Files written (next to the sample's README.md):
images/*.png stills, masks/*.png (per-pixel ids), depth/*.png (uint16 mm), orbit.mp4, meshes/*.obj,
ground_truth.json, transforms.json + sparse_pc.ply (stills with exact poses), preview.jpg, and
the phone AR export folder where the scene has one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .imaging import jpeg_roundtrip, sensor_noise
from .meshes import write_obj
from .phone_ar import write_ar_export
from .render import SceneRenderer, build_mjcf, check_camera_convention
from .scene import SceneDef, object_records
from .truth import ground_truth, write_nerfstudio_ground_truth, write_preview

SENSOR_RNG_STREAM = 2000  # + frame index
AR_RNG_STREAM = 3000


def write_sample(scene: SceneDef, out: Path, seed: int) -> dict:
    """Generate the sample into out/ (README.md and scripts there are kept). Returns a summary."""
    import cv2
    import imageio.v2 as imageio
    import mujoco
    from tqdm import tqdm

    start = time.perf_counter()
    objects = object_records(scene)
    stills = scene.still_cameras(objects)
    K = scene.intrinsics()
    ar = scene.ar_export
    ar_frames, ar_poses = [], []

    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "stage"
        for d in ("images", "masks", "depth", "meshes"):
            (stage / d).mkdir(parents=True)
        tex_dir = Path(tmp) / "textures"
        tex_dir.mkdir()
        xml, mask_of = build_mjcf(scene, objects, tex_dir, seed)
        r = SceneRenderer(xml, scene.width, scene.height, K)
        try:
            gap = check_camera_convention(r, stills[0]["world_from_cam"])
            if gap > 2e-3:
                raise RuntimeError(f"rendered depth disagrees with ray casting by {gap:.2%}: camera convention bug")
            geom_to_mask = np.zeros(r.model.ngeom + 1, np.uint8)  # index -1 (nothing) -> last entry
            for g, name in enumerate(r.geom_names()):
                geom_to_mask[g] = mask_of[name]
            for i, c in enumerate(tqdm(stills, desc=f"{scene.name} stills")):
                rgb = r.exposure(scene.still_exposure(i, c["world_from_cam"]))
                depth, seg = r.depth_and_segmentation(c["world_from_cam"])  # at the exposure's centre pose
                name = Path(c["file_path"]).name
                cv2.imwrite(str(stage / "images" / name), rgb[..., ::-1])
                cv2.imwrite(str(stage / "masks" / name), geom_to_mask[seg])
                depth_mm = np.where(seg >= 0, np.clip(depth * 1000 + 0.5, 0, 65535), 0).astype(np.uint16)
                cv2.imwrite(str(stage / "depth" / name), depth_mm)
            writer = imageio.get_writer(stage / "orbit.mp4", fps=scene.video_fps, codec="libx264", quality=None,
                                        pixelformat="yuv420p", macro_block_size=4,
                                        ffmpeg_params=["-crf", str(scene.video_crf), "-preset", "slow"])
            for i in tqdm(range(scene.video_frames), desc=f"{scene.name} video"):
                frame = r.exposure(scene.video_exposure(i))
                if scene.sensor_read_noise or scene.sensor_shot_noise:
                    frame = sensor_noise(frame, np.random.default_rng([seed, SENSOR_RNG_STREAM + i]),
                                         scene.sensor_read_noise, scene.sensor_shot_noise)
                if ar is not None and i in ar.frame_indices:  # the phone's own stream: noise, then its JPEG
                    ar_frames.append(frame)
                    ar_poses.append(scene.video_pose(i))
                if scene.video_jpeg_quality is not None:
                    frame = jpeg_roundtrip(frame, scene.video_jpeg_quality)
                writer.append_data(frame)
            writer.close()
        finally:
            r.close()
        renderer_name = f"mujoco {mujoco.__version__} offscreen ({os.environ.get('MUJOCO_GL')})"
        for o in objects:
            write_obj(stage / "meshes" / f"{o['name']}.obj", *o["_mesh_body"])
        ar_truth = None
        if ar is not None:
            ar_truth = write_ar_export(stage / ar.folder, ar_frames, ar_poses, list(ar.frame_indices), K, ar,
                                       np.random.default_rng([seed, AR_RNG_STREAM]))
        gt = ground_truth(scene, objects, stills, seed, renderer_name, ar_truth)
        (stage / "ground_truth.json").write_text(json.dumps(gt, indent=1) + "\n")
        write_preview(stage / "images", stage / "preview.jpg", scene.width, scene.height)
        # Replace the generated parts of out/ (README.md and scripts stay).
        out.mkdir(parents=True, exist_ok=True)
        folders = ["images", "masks", "depth", "meshes"] + ([ar.folder] if ar else [])
        for d in folders:
            if (out / d).exists():
                shutil.rmtree(out / d)
            shutil.move(str(stage / d), str(out / d))
        for f in ("orbit.mp4", "preview.jpg", "ground_truth.json"):
            shutil.move(str(stage / f), str(out / f))
        write_nerfstudio_ground_truth(out, gt, seed)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    summary = {"scene": scene.name, "stills": len(stills), "video_frames": scene.video_frames,
               "megabytes": round(total / 1e6, 2), "seconds": round(time.perf_counter() - start, 1)}
    print(f"wrote {summary['stills']} stills, {summary['video_frames']}-frame video to {out} "
          f"({summary['megabytes']:.1f} MB, {summary['seconds']:.0f} s)")
    return summary

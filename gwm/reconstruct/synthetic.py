"""A synthetic capture in nerfstudio layout: a random Gaussian scene rendered from an orbit.

Used by tests and by benchmarks/reconstruct.py when the bundled kitchen capture is absent.
The SfM points are a noisy subset of the true Gaussian centres, as a real SfM run would give.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from gwm.cameras import Cameras, intrinsics_from_fov, look_at
from gwm.splats import GaussianSplats

SYNTHETIC_FORMAT_VERSION = 1


def random_scene(num_gaussians: int, seed: int = 0, extent: float = 0.5) -> GaussianSplats:
    """Coloured blobs in a cube of half-size extent over a textured floor (Z up), degree-1 SH."""
    g = torch.Generator().manual_seed(seed)
    n_floor = num_gaussians // 3
    n_obj = num_gaussians - n_floor
    # objects: clustered blobs so there are edges and flat regions
    centres = (torch.rand(6, 3, generator=g) * 2 - 1) * extent * torch.tensor([0.8, 0.8, 0.4]) + torch.tensor([0, 0, extent * 0.45])
    which = torch.randint(0, 6, (n_obj,), generator=g)
    obj = centres[which] + torch.randn(n_obj, 3, generator=g) * extent * 0.12
    floor = torch.cat([(torch.rand(n_floor, 2, generator=g) * 2 - 1) * extent * 1.2, torch.zeros(n_floor, 1)], 1)
    means = torch.cat([obj, floor])
    scales = torch.cat([
        torch.exp(torch.randn(n_obj, 3, generator=g) * 0.3) * extent * 0.05,
        torch.tensor([1.0, 1.0, 0.1]) * torch.exp(torch.randn(n_floor, 1, generator=g) * 0.2) * extent * 0.09,
    ])
    quats = torch.randn(num_gaussians, 4, generator=g)
    quats[n_obj:] = torch.tensor([1.0, 0.0, 0.0, 0.0])
    palette = torch.rand(6, 3, generator=g)
    rgb = torch.cat([
        (palette[which] + 0.15 * torch.randn(n_obj, 3, generator=g)).clamp(0.05, 0.95),
        0.5 + 0.35 * torch.sign(torch.sin(floor[:, :1] * 12) * torch.sin(floor[:, 1:2] * 12)) * torch.ones(1, 3),
    ])
    opac = torch.cat([0.6 + 0.4 * torch.rand(n_obj, generator=g), torch.full((n_floor,), 0.95)])
    splats = GaussianSplats.from_activated(means, quats / quats.norm(dim=1, keepdim=True), scales, opac, rgb=rgb)
    # a little view dependence on the objects
    sh = torch.cat([splats.sh, torch.zeros(num_gaussians, 3, 3)], 1)
    sh[:n_obj, 1:] = 0.1 * torch.randn(n_obj, 3, 3, generator=g)
    return GaussianSplats(splats.means, splats.quats_wxyz, splats.log_scales, splats.logit_opacities, sh)


def orbit_cameras(num_views: int, width: int, height: int, radius: float = 1.3, height_m: float = 0.8,
                  fov_y_deg: float = 45.0) -> Cameras:
    """Cameras on a circle (two heights, alternating) looking at the scene centre, Z up."""
    K = intrinsics_from_fov(fov_y_deg, width, height)
    poses = []
    for i in range(num_views):
        a = 2 * math.pi * i / num_views
        z = height_m * (1.0 if i % 2 == 0 else 0.6)
        poses.append(look_at((radius * math.cos(a), radius * math.sin(a), z), (0.0, 0.0, 0.15)))
    return Cameras(K.repeat(num_views, 1, 1), torch.stack(poses), width, height)


def make_synthetic_capture(
    out_dir: str | Path,
    *,
    num_gaussians: int = 400,
    num_views: int = 24,
    width: int = 64,
    height: int = 48,
    num_points: int = 150,
    point_noise: float = 0.02,
    seed: int = 0,
) -> Path:
    """Render a random scene and write transforms.json, images/*.png, sparse_pc.ply, scene_gt.ply."""
    import imageio.v3 as iio

    from gwm.capture.nerfstudio import write_sparse_ply
    from gwm.atomic_io import write_json_atomic
    from gwm.ply import write_ply
    from gwm.render import rasterize

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    scene = random_scene(num_gaussians, seed)
    cams = orbit_cameras(num_views, width, height)
    with torch.no_grad():
        rgb = torch.cat([rasterize(scene, cams[i]).rgb for i in range(num_views)]).clamp(0, 1)  # (V,H,W,3)

    frames = []
    gl = cams.to_opengl()
    for i in range(num_views):
        name = f"images/frame_{i:05d}.png"
        iio.imwrite(out / name, (rgb[i].numpy() * 255 + 0.5).astype(np.uint8))
        frames.append({"file_path": name, "transform_matrix": gl[i].tolist(), "colmap_im_id": i + 1})
    K = cams.Ks[0]
    transforms = {
        "w": width, "h": height,
        "fl_x": float(K[0, 0]), "fl_y": float(K[1, 1]), "cx": float(K[0, 2]), "cy": float(K[1, 2]),
        "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0, "camera_model": "OPENCV",
        "frames": frames,
        "ply_file_path": "sparse_pc.ply",
        "normalisation": np.eye(4).tolist(),
        "gwm": {"format_version": SYNTHETIC_FORMAT_VERSION, "source": "synthetic", "seed": seed},
    }
    write_json_atomic(out / "transforms.json", transforms, indent=2)

    rng = np.random.default_rng(seed)
    pick = rng.choice(num_gaussians, size=min(num_points, num_gaussians), replace=False)
    pts = scene.means[pick].numpy() + rng.normal(0, point_noise, (len(pick), 3))
    cols = (scene.rgb_dc[pick].numpy() * 255).clip(0, 255).astype(np.uint8)
    write_sparse_ply(out / "sparse_pc.ply", pts.astype(np.float32), cols)
    write_ply(out / "scene_gt.ply", scene, metadata={"source": "synthetic ground truth", "seed": seed})
    return out

"""Mask space carving: which 3D points lie inside an object's silhouette in the capture's views.

A reconstruction puts stray Gaussians near objects (floaters in front of them, background
Gaussians inside a crop box, large faint Gaussians straddling an edge); their centres stretch a
convex hull by centimetres. The capture's per-frame instance masks say where the object is in
every image, independent of how well the splat converged. A point on the object projects into
the object's mask in every view that sees it (or into another object's mask when that object is
in front); a point off the object projects onto the background or the table in most views.

Votes per point and view: "in" = the (dilated) object mask; abstain = outside the image, behind
the camera, or on another listed object's mask (possible occluder); "out" = anything else. A point
is kept when in / (in + out) >= min_inside and out <= max_outside (when given: a visual hull
with a tolerance, needed when most views see the object from one side, so that a floater behind
it hides in the object's mask in most of them); points with fewer than `min_views` votes are
kept (nothing can be said about them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

@dataclass
class MaskViews:
    """Id masks (V, H, W) with OpenCV cameras in the world frame."""

    Ks: np.ndarray  # (V, 3, 3)
    cam_from_world: np.ndarray  # (V, 4, 4)
    masks: np.ndarray  # (V, H, W) integer ids
    distortion: np.ndarray  # (5,) OPENCV k1 k2 p1 p2 k3 (zeros: pinhole)
    names: list[str]

    def __len__(self) -> int:
        return len(self.masks)


class MaskError(ValueError):
    """A problem with the masks or their cameras; the message names the file and the fix."""


def load_mask_views(cameras: Path, mask_dir: Path | None, world_from_input: np.ndarray) -> MaskViews:
    """Read a nerfstudio transforms.json (OpenGL camera-to-world in the splat's input frame) and
    one id mask per frame: the frame's `mask_path`, else `mask_dir`/<image file name>.
    world_from_input is the scene's similarity (rotation * scale, translation)."""
    from PIL import Image

    from gwm.scene.views import CaptureViewsError, load_capture_cameras

    try:
        cams = load_capture_cameras(cameras, world_from_input)
    except CaptureViewsError as e:
        raise MaskError(str(e)) from e
    tf = cams.transforms
    masks, names = [], []
    for f, img in zip(cams.frames, cams.image_paths):
        if "mask_path" in f:
            p = Path(f["mask_path"])
            p = p if p.is_absolute() else tf.parent / p
        elif mask_dir is not None:
            p = mask_dir / img.name
        else:
            raise MaskError(f"{tf}: frame {f['file_path']} has no mask_path; give masks.dir (a folder of id masks "
                            "named like the images)")
        if not p.is_file():
            raise MaskError(f"{p}: mask for {f['file_path']} not found; masks.dir must hold one id mask per image, "
                            "with the image's file name")
        m = np.asarray(Image.open(p))
        if m.ndim != 2:
            raise MaskError(f"{p}: a mask must be a single-channel image of integer object ids, got shape {m.shape}")
        if m.shape != (cams.height, cams.width):
            raise MaskError(f"{p}: mask is {m.shape[1]}x{m.shape[0]} but the camera is {cams.width}x{cams.height}; "
                            "masks must be at the images' resolution")
        masks.append(m)
        names.append(str(p))
    return MaskViews(Ks=cams.Ks, cam_from_world=cams.cam_from_world, masks=np.stack(masks),
                     distortion=cams.distortion, names=names)


def project(views: MaskViews, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel coordinates (V, N) u, v and a (V, N) in-front flag (OPENCV distortion applied)."""
    from gwm.scene.views import project_points

    u, v, z = project_points(views.Ks, views.cam_from_world, points, views.distortion)
    return u, v, z > 1e-6


def inside_votes(views: MaskViews, points: np.ndarray, mask_id: int, occluder_ids=(), dilate_px: int = 1
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(in, out) vote counts per point; see the module docstring."""
    from scipy.ndimage import binary_dilation

    points = np.asarray(points, dtype=np.float64)
    u, v, front = project(views, points)
    h, w = views.masks.shape[1:]
    # pixel i covers [i, i+1]
    col, row = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    seen = front & (col >= 0) & (col < w) & (row >= 0) & (row < h)
    n_in = np.zeros(len(points), dtype=np.int64)
    n_out = np.zeros(len(points), dtype=np.int64)
    structure = np.ones((2 * dilate_px + 1,) * 2, dtype=bool) if dilate_px > 0 else None
    occluders = np.asarray([i for i in occluder_ids if i != mask_id], dtype=np.int64)
    for k in range(len(views)):
        idx = np.flatnonzero(seen[k])
        if len(idx) == 0:
            continue
        m = views.masks[k]
        own = m == mask_id
        if structure is not None:
            own = binary_dilation(own, structure=structure)
        rr, cc = row[k, idx], col[k, idx]
        hit = own[rr, cc]
        occluded = np.isin(m[rr, cc], occluders) & ~hit
        n_in[idx[hit]] += 1
        n_out[idx[~hit & ~occluded]] += 1
    return n_in, n_out


def carve(views: MaskViews, points: np.ndarray, mask_id: int, occluder_ids=(), dilate_px: int = 1,
          min_inside: float = 0.9, min_views: int = 3, max_outside: int | None = None) -> np.ndarray:
    """Boolean keep-flag per point: inside the object's silhouette in >= min_inside of the views that
    judge it (and outside it in at most max_outside views, when given)."""
    n_in, n_out = inside_votes(views, points, mask_id, occluder_ids, dilate_px)
    votes = n_in + n_out
    ok = n_in >= min_inside * np.maximum(votes, 1)
    if max_outside is not None:
        ok &= n_out <= max_outside
    return (votes < min_views) | ok


def mask_ids_present(views: MaskViews) -> set[int]:
    return {int(i) for i in np.unique(views.masks)}


__all__ = ["MaskViews", "MaskError", "load_mask_views", "project", "inside_votes", "carve", "mask_ids_present"]

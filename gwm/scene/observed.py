"""Which object Gaussians the capture's images support: multi-view consistency without masks.

A reconstruction leaves Gaussians beside and in front of objects that the images do not show:
floaters, blobs sticking out of an object's outline, background colour baked into a blob next
to an object. Their centres stretch a convex hull by centimetres. Instance masks would say where
each object is in every view; without them the images and the splat itself say it. In each
capture view two renders (gwm.render.rasterize) are compared with the image:

  full        the whole splat;
  background  the splat without the objects' Gaussians (everything above the support).

Each pixel (residuals averaged over 3x3 pixels for pose and resampling error) is then
  BACKGROUND  the image agrees clearly better with `background`: no object there;
  WRONG       `full` disagrees clearly with the image, and `background` does not explain it
              either: something the splat puts in front there is not what the camera saw;
  OBJECT      the image agrees clearly better with `full` than with `background`;
  abstain     object and background look alike there.
"Clearly" is relative to the view's median residual (max(margin_floor, margin_factor x median);
wrong_factor for WRONG), so a poorer reconstruction is judged by its own standard.

A judged Gaussian's centre, projected into a view, gets an *out* vote when its pixel is
BACKGROUND, or WRONG and it is visible there (not behind the rendered surface: a floater in front
of an object is, the object's own surface behind it is not, and abstains); otherwise an *in*
vote when its 3x3 pixel neighbourhood holds OBJECT (a pixel of pose or resampling error). It is
kept when in >= min_inside x (in + out); with fewer than min_views votes it is kept unless one of
them is out. Gaussians the images never contradict stay,
so a clean reconstruction loses nothing. A cut Gaussian with at least as many in- as out-votes is
contested: kept where it rises from an object's kept body inside its footprint (`thin_top`: a thin top
such as a bottle's neck, which a CPU reconstruction renders poorly, so its views vote both ways).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gwm.scene.views import CaptureImages, project_points

OBJECT, BACKGROUND, WRONG, ABSTAIN = 1, 0, 2, 255


@dataclass(frozen=True)
class ViewCheckConfig:
    max_views: int = 48  # capture views used (evenly spread over the capture)
    max_side: int = 320  # render and compare at this longer image side (px), about a CPU reconstruction's
    margin_floor: float = 0.03  # residual difference (mean abs RGB, 0..1) that counts as evidence
    margin_factor: float = 2.0  # ... or this many times the view's median residual, if larger
    wrong_factor: float = 4.0  # WRONG: the full render's residual above this many times the median (>= 2 floors)
    depth_tolerance: float = 0.005  # m (+0.5% of the distance): farther behind the rendered surface is hidden
    min_inside: float = 0.75  # keep a Gaussian with in-votes in at least this fraction of its votes
    min_views: int = 3  # fewer votes than this: nothing is known, keep it


@dataclass
class ViewEvidence:
    """Per view: pixel classes (OBJECT, BACKGROUND, WRONG, ABSTAIN) and the full render's depth."""

    views: CaptureImages
    classes: np.ndarray  # (V, H, W) uint8
    depth: np.ndarray  # (V, H, W) float32, 0 where nothing is rendered


def view_evidence(splats, objects: np.ndarray, views: CaptureImages, config: ViewCheckConfig = ViewCheckConfig(),
                  progress: bool = False) -> ViewEvidence:
    """Classify every pixel of every view (see the module docstring); `objects` marks the Gaussians that
    belong to objects (the rest is background). splats and views share one frame."""
    import torch
    from scipy import ndimage

    from gwm.render import rasterize

    cams = views.cameras.to(dtype=torch.float32)
    splats = splats.detach()
    background = splats[torch.from_numpy(~np.asarray(objects, dtype=bool))]
    iterator = range(len(views))
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="checking object Gaussians against the images", unit="view")
    classes = np.full((len(views), views.height, views.width), ABSTAIN, dtype=np.uint8)
    depth = np.zeros((len(views), views.height, views.width), dtype=np.float32)
    black = torch.zeros(3)
    for k in iterator:
        with torch.no_grad():
            full = rasterize(splats, cams[k], background=black)
            bg = rasterize(background, cams[k], background=black).rgb[0].double().numpy() if len(background) else \
                np.zeros((views.height, views.width, 3))
        rgb = full.rgb[0].double().numpy()
        depth[k] = full.depth[0, ..., 0].numpy()
        image = views.images[k].astype(np.float64)
        err_full = ndimage.uniform_filter(np.abs(rgb - image).mean(-1), 3)
        err_bg = ndimage.uniform_filter(np.abs(bg - image).mean(-1), 3)
        classes[k] = classify_pixels(err_full, err_bg, config)
    return ViewEvidence(views, classes, depth)


def classify_pixels(err_full: np.ndarray, err_bg: np.ndarray, config: ViewCheckConfig = ViewCheckConfig()
                    ) -> np.ndarray:
    """Pixel classes from the residuals (mean abs RGB) of the full and the background render against
    one view's image (see the module docstring)."""
    median = float(np.median(err_full))
    margin = max(config.margin_floor, config.margin_factor * median)
    wrong = max(2 * config.margin_floor, config.wrong_factor * median)
    c = np.full(err_full.shape, ABSTAIN, dtype=np.uint8)
    c[err_bg - err_full > margin] = OBJECT
    # Both renders far off: something the splat puts there is not what the camera saw, even where the full
    # render is the closer one. Measured both ways: keeping those pixels OBJECT kept a workbench bottle's
    # poorly rendered neck (20 mm of height) but also the tray's 28 mm excess beyond its far wall (video);
    # the residuals there looked alike (full 4-7x the view's median, background 10-26x). The neck is kept by
    # thin_top instead: above its body, inside its footprint.
    c[(err_full > wrong) & (err_bg > wrong)] = WRONG
    c[err_full - err_bg > margin] = BACKGROUND
    return c


def image_votes(evidence: ViewEvidence, points: np.ndarray, config: ViewCheckConfig = ViewCheckConfig()
                ) -> tuple[np.ndarray, np.ndarray]:
    """(in, out) vote counts per point (see the module docstring)."""
    v = evidence.views
    points = np.asarray(points, dtype=np.float64)
    u, w, z = project_points(v.Ks, np.linalg.inv(v.world_from_cam), points)
    h, wd = v.height, v.width
    n_in = np.zeros(len(points), dtype=np.int64)
    n_out = np.zeros(len(points), dtype=np.int64)
    offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    for k in range(len(v)):
        col, row = np.floor(u[k]).astype(np.int64), np.floor(w[k]).astype(np.int64)
        j = np.flatnonzero((z[k] > 1e-3) & (col >= 0) & (col < wd) & (row >= 0) & (row < h))
        if len(j) == 0:
            continue
        cls = evidence.classes[k]
        any_object = np.zeros(len(j), bool)
        for dy, dx in offsets:
            any_object |= cls[np.clip(row[j] + dy, 0, h - 1), np.clip(col[j] + dx, 0, wd - 1)] == OBJECT
        centre = cls[row[j], col[j]]
        d = evidence.depth[k][row[j], col[j]]
        visible = (d <= 0) | (z[k, j] <= d + config.depth_tolerance * (1.0 + z[k, j]))  # tolerance: 5 mm + 0.5%
        out = (centre == BACKGROUND) | ((centre == WRONG) & visible)
        n_in[j[any_object & ~out]] += 1
        n_out[j[out]] += 1
    return n_in, n_out


def supported_by_images(evidence: ViewEvidence, points: np.ndarray, config: ViewCheckConfig = ViewCheckConfig()
                        ) -> np.ndarray:
    """Keep-flag per point: the images show an object where it projects, and never clearly contradict it."""
    n_in, n_out = image_votes(evidence, points, config)
    votes = n_in + n_out
    ok = n_in >= config.min_inside * votes
    return np.where(votes < config.min_views, n_out == 0, ok)


def contested_by_images(evidence: ViewEvidence, points: np.ndarray, config: ViewCheckConfig = ViewCheckConfig()
                        ) -> np.ndarray:
    """Flag per point the check cuts although the images back it at least as often as they contradict it
    (a thin part that renders poorly, say a bottle's neck: its views vote both ways). `thin_top` keeps
    those that stand on an object kept whole."""
    n_in, n_out = image_votes(evidence, points, config)
    votes = n_in + n_out
    cut = np.where(votes < config.min_views, n_out > 0, n_in < config.min_inside * votes)
    return cut & (n_in >= n_out)


def thin_top(points: np.ndarray, kept: np.ndarray, contested: np.ndarray, link: float) -> np.ndarray:
    """Flag per point (N,3), z up, of one object: contested points above the kept points' top, inside their
    footprint (minimum-area rectangle in plan) and joined to them through points closer than `link`.
    Objects stand on the support, so what rises from one's body inside its footprint is that object; a
    floater beside it, not touching it, or at the height of its body (a haze beyond a tray's far wall,
    which votes both ways too) stays cut."""
    from gwm.scene.clusters import attached, min_area_rect

    out = np.zeros(len(points), dtype=bool)
    if kept.sum() < 3 or not contested.any():
        return out
    idx = np.flatnonzero(contested & ~kept & (points[:, 2] > points[kept, 2].max()))
    idx = idx[min_area_rect(points[kept, :2]).contains(points[idx, :2])]
    out[idx[attached(points[kept], points[idx], link)]] = True
    return out


__all__ = ["ViewCheckConfig", "ViewEvidence", "view_evidence", "classify_pixels", "image_votes", "supported_by_images", "contested_by_images",
           "thin_top", "OBJECT",
           "BACKGROUND", "WRONG", "ABSTAIN"]

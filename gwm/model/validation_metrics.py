"""Validation metrics, split by what moves: the robot, the objects, and the windows where objects move.

Per window and horizon step (arrays (W, H)), accumulated per method, then aggregated per step:

- render: `mse` (all cameras) and `mse_cam<k>` (each camera) become PSNR over the pooled squared error;
  `mse_objects` is the squared error inside the object masks (pixels the objects cover at the start of
  the window or in the true state: a prediction that leaves an object behind or moves it elsewhere is
  scored there); `ssim`;
- `robot_*` and `object_*`: position (m) and orientation (deg) of each body from a rigid fit of its
  predicted Gaussians, and the Gaussian centre error (m), averaged over the robot's modelled links or
  over the objects;
- the object metrics again over contact windows only (`*@contact`: an object moves more than
  CONTACT_MOTION_M within the window) and over the rest (`*@free`). Windows outside the subset hold NaN.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gwm.metrics.gaussians import body_pose_errors, centre_error, chamfer_distance

CONTACT_MOTION_M = 0.005  # an object that moves more than this within a window is being manipulated
MASK_ALPHA = 0.3  # object render alpha above this is in the object mask


def _add(acc: dict, key: str, value) -> None:
    acc.setdefault(key, []).append(np.asarray(value, dtype=np.float64))


def contact_windows(true_poses: torch.Tensor, start_poses: torch.Tensor, objects: list[int]) -> np.ndarray:
    """(B,) bool: some object moves more than CONTACT_MOTION_M from its start within the window.
    true_poses (B, H, M, 7), start_poses (B, M, 7) (the last context frame)."""
    if not objects:
        return np.zeros(true_poses.shape[0], bool)
    d = (true_poses[:, :, objects, :3] - start_poses[:, None, objects, :3]).norm(dim=-1)  # (B, H, O)
    return (d.amax(dim=(1, 2)) > CONTACT_MOTION_M).numpy()


def image_metrics(acc: dict, img: torch.Tensor, t_img: torch.Tensor, obj_mask: torch.Tensor | None) -> None:
    """img, t_img (B, H, cams, h, w, 3); obj_mask (B, H, cams, h, w) bool or None."""
    from gwm.metrics.images import ssim

    sq = (img.double() - t_img.double()).pow(2)  # (B, H, cams, h, w, 3)
    _add(acc, "mse", sq.mean(dim=(-1, -2, -3, -4)).numpy())
    for k in range(sq.shape[2]):
        _add(acc, f"mse_cam{k}", sq[:, :, k].mean(dim=(-1, -2, -3)).numpy())
    if obj_mask is not None:
        m = obj_mask[..., None].double()
        count = (m.sum(dim=(-1, -2, -3, -4)) * 3)
        masked = (sq * m).sum(dim=(-1, -2, -3, -4)) / count.clamp_min(1)
        _add(acc, "mse_objects", torch.where(count > 0, masked, torch.full_like(masked, float("nan"))).numpy())
    _add(acc, "ssim", ssim(img, t_img, reduction="none").mean(-1).numpy())


def state_metrics(acc: dict, sp, states: torch.Tensor, truth: torch.Tensor, true_poses: torch.Tensor,
                  objects: list[int], robot: list[int], contact: np.ndarray) -> None:
    """Gaussian-state metrics of a method's predicted states (B, H, N, 14) against the truth."""
    pm, tm = sp.means(states), sp.means(truth)  # (B, H, N, 3)
    _add(acc, "centre_error_m", centre_error(pm, tm).numpy())
    _add(acc, "chamfer_m", chamfer_distance(pm, tm).numpy())
    per_gauss = (pm - tm).norm(dim=-1)  # (B, H, N)
    for name, bodies in (("robot", robot), ("object", objects)):
        if not bodies:
            continue
        pos, ang = body_pose_errors(pm, sp.canon_means, sp.body_id, true_poses, bodies)
        sel = torch.isin(sp.body_id, torch.tensor(bodies))
        values = {f"{name}_position_error_m": pos.mean(-1), f"{name}_orientation_error_deg": ang.mean(-1),
                  f"{name}_centre_error_m": per_gauss[..., sel].mean(-1).numpy()}
        for k, v in values.items():
            _add(acc, k, v)
            if name == "object":
                subset_metrics(acc, k, v, contact)


def subset_metrics(acc: dict, key: str, values: np.ndarray, contact: np.ndarray) -> None:
    """key@contact and key@free: values (B, H) where the window is (is not) a contact window, else NaN."""
    c = contact[:, None]
    _add(acc, f"{key}@contact", np.where(c, values, np.nan))
    _add(acc, f"{key}@free", np.where(c, np.nan, values))


def aggregate(per: dict) -> tuple[dict, dict, dict]:
    """Per method and metric, (W, H) arrays -> per-step mean, standard error and count of the windows that
    have a value; every mse* becomes psnr* from its pooled mean (standard error by the delta method)."""
    metrics, stderr, counts = {}, {}, {}
    for m, d in per.items():
        metrics[m], stderr[m], counts[m] = {}, {}, {}
        for k, v in d.items():
            a = np.concatenate(v)  # (W, H)
            n = np.isfinite(a).sum(0)  # (H,)
            if not n.any():
                continue
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.nanmean(np.where(np.isfinite(a), a, np.nan), 0)
                se = np.nanstd(a, 0) / np.sqrt(np.maximum(n, 1))
            if k.startswith("mse"):
                name = "psnr" + k[3:]
                mean = np.maximum(mean, 1e-20)
                metrics[m][name] = (10 * np.log10(1.0 / mean)).tolist()
                stderr[m][name] = (10 / math.log(10) * se / mean).tolist()
                counts[m][name] = n.tolist()
            else:
                metrics[m][k] = mean.tolist()
                stderr[m][k] = se.tolist()
                counts[m][k] = n.tolist()
    return metrics, stderr, counts


__all__ = ["CONTACT_MOTION_M", "aggregate", "contact_windows", "image_metrics", "state_metrics", "subset_metrics"]

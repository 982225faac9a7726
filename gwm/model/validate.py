"""Validation of the world model against the simulator on held-out episodes.

For windows of the held-out episodes the model predicts H steps open loop from the context states and
the recorded actions. The reference is the simulator: a `replay(episode, start, actions)` callable
(deterministic simulator replay of the same actions) when one is given, else the recorded held-out
trajectory (which is that replay for a deterministic simulator). Per horizon step h = 1..H:

- render PSNR and SSIM (gwm.metrics.images) of the predicted scene vs the true scene, rendered with
  gwm.render from the dataset cameras (static bodies included). PSNR per horizon step is that of the
  mean squared error over all windows and cameras (torchmetrics' default aggregation). The mean of
  per-frame PSNRs is not used for the comparison: where nothing moves, copy-last renders the true
  frame exactly, its per-frame PSNR is infinite (200 dB at the MSE floor), and a mean over windows then
  depends on that floor. It is kept in metrics.json as psnr_per_frame_mean;
- Gaussian centre error (known correspondence) and Chamfer distance of the modelled Gaussians;
- object position and orientation error: a rigid fit of each object's predicted Gaussians to its
  canonical ones (gwm.metrics.gaussians.body_pose_errors) vs the true body pose.

Baselines, in the same run: copy-last-state, and a 2D action-conditioned video predictor of similar
parameter count trained on the same rendered frames (its object positions come from a CNN probe
trained on true frames; the probe's error on true frames is reported as its floor).
Writes report.md, metrics.json, one PNG plot per metric, and side-by-side MP4 videos.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from gwm.metrics.gaussians import body_pose_errors, centre_error, chamfer_distance
from gwm.model.trajectories import Trajectories, load_trajectories
from gwm.model.train import load_world_model, resize_cameras, rollout_batch
from gwm.model.video_baseline import (PositionProbe, VideoBaselineConfig, VideoPredictor, train_position_probe,
                                      train_video_predictor)
from gwm.model.world_model import GaussianWorldModel, parameter_count

REPORT_FORMAT_VERSION = 1
METHODS = ("gwm", "copy_last", "video")
Replay = Callable[[int, int, np.ndarray], np.ndarray]  # (episode, start step, actions (H*S, A)) -> poses (H, B, 7)


@dataclass(frozen=True)
class ValidationConfig:
    horizon: int = 8
    stride: int = 2  # a window starts every `stride` steps of each held-out episode
    max_windows: int = 96  # evenly spaced subset of all windows
    image_size: int = 64
    sample_steps: int | None = None  # Euler steps (None: the model's, 5)
    seed: int = 0
    batch_size: int = 32
    videos: int = 3
    video_fps: int = 4
    baseline: VideoBaselineConfig = field(default_factory=VideoBaselineConfig)
    baseline_max_episodes: int = 120  # training episodes rendered for the video baseline
    cpu_threads: int = 2


@dataclass
class ValidationResult:
    horizon: int
    windows: int
    metrics: dict[str, dict[str, list[float]]]  # method -> metric -> per horizon step (mean)
    stderr: dict[str, dict[str, list[float]]]
    info: dict

    def beats_baselines(self, metrics=("psnr", "object_position_error_m")) -> dict[str, bool]:
        """Per metric: the world model is better than every baseline that has it, at every horizon step."""
        out = {}
        for m in metrics:
            higher = m in ("psnr", "ssim")
            mine = np.array(self.metrics["gwm"][m])
            ok = True
            for b in METHODS[1:]:
                if m in self.metrics.get(b, {}):
                    other = np.array(self.metrics[b][m])
                    ok &= bool(np.all(mine > other) if higher else np.all(mine < other))
            out[m] = ok
        return out


def render_states(traj: Trajectories, space, features: torch.Tensor, cameras) -> torch.Tensor:
    """States (..., N, 14) -> renders (..., cams, H, W, 3) of the whole scene (static bodies included)."""
    from gwm.render import rasterize
    from gwm.splats import GaussianSplats

    lead = features.shape[:-2]
    flat = features.reshape(-1, *features.shape[-2:])
    imgs = []
    for f in flat:
        splats = GaussianSplats.cat([traj.static_splats, space.to_splats(f)])
        imgs.append(rasterize(splats, cameras).rgb.clamp(0, 1))
    return torch.stack(imgs).reshape(*lead, len(cameras), cameras.height, cameras.width, 3)


def _window_starts(traj: Trajectories, cfg: ValidationConfig, chunk: int) -> list[tuple[int, int]]:
    cands = [(e, t) for e in traj.val for t in range(0, len(traj.poses[e]) - cfg.horizon * chunk, cfg.stride)]
    if not cands:
        raise ValueError(f"held-out episodes are shorter than the horizon ({cfg.horizon} x {chunk} steps); "
                         "use a shorter --horizon or longer episodes")
    if len(cands) > cfg.max_windows:
        pick = np.linspace(0, len(cands) - 1, cfg.max_windows).round().astype(int)
        cands = [cands[i] for i in pick]
    return cands


def _check_same_space(model: GaussianWorldModel, traj: Trajectories) -> None:
    a, b = model.space, traj.space
    same = (a.num_gaussians == b.num_gaussians and torch.equal(a.body_id, b.body_id)
            and torch.allclose(a.canon_means, b.canon_means, atol=1e-6))
    if not same:
        raise ValueError("the model was trained on a dataset with other bodies or Gaussians than this one; "
                         "validate on the dataset it was trained on (or retrain on this one)")


def validate(model_path: str | Path, ds, out_dir: str | Path, cfg: ValidationConfig = ValidationConfig(),
             replay: Replay | None = None, progress: bool = True) -> ValidationResult:
    """Run the validation, write the report into out_dir, return the per-horizon metrics."""
    torch.set_num_threads(cfg.cpu_threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    model, info = load_world_model(model_path)
    train_cfg = info["config"]
    traj = load_trajectories(ds, train_cfg.data)
    _check_same_space(model, traj)
    sp = model.space  # the checkpoint's normalisation
    c, s, h_len = model.context, model.action_chunk, cfg.horizon
    cams = resize_cameras(traj.cameras, cfg.image_size)
    starts = _window_starts(traj, cfg, s)
    gen = torch.Generator().manual_seed(cfg.seed)

    # ground truth, world model and copy-last over all windows --------------------------------------
    per = {m: {} for m in METHODS}  # method -> metric -> (W, H) arrays
    truth_img, gwm_img, ctx_img, truth_poses_all = [], [], [], []
    bar = tqdm(range(0, len(starts), cfg.batch_size), desc="validate gwm", disable=not progress, dynamic_ncols=True)
    for i in bar:
        batch = starts[i:i + cfg.batch_size]
        ctx_f, acts, truth = rollout_batch(traj, sp, batch, h_len, c, s)
        true_poses = _true_poses(traj, batch, h_len, s, acts, replay)  # (B, H, M, 7)
        if replay is not None:
            truth = sp.features_from_poses(true_poses)
        pred = model.rollout(ctx_f, acts, gen, cfg.sample_steps)  # (B, H, N, 14)
        copy = ctx_f[:, -1:].expand_as(truth)
        t_img = render_states(traj, sp, truth, cams)  # (B, H, cams, h, w, 3)
        truth_img.append(t_img)
        ctx_img.append(render_states(traj, sp, ctx_f, cams))
        truth_poses_all.append(true_poses)
        gwm_img.append(render_states(traj, sp, pred, cams))
        _state_metrics(per["gwm"], sp, pred, truth, true_poses, traj.objects, gwm_img[-1], t_img)
        copy_img = ctx_img[-1][:, -1:].expand_as(t_img)  # the last context frame, at every step
        _state_metrics(per["copy_last"], sp, copy, truth, true_poses, traj.objects, copy_img, t_img)
    truth_img, gwm_img, ctx_img = torch.cat(truth_img), torch.cat(gwm_img), torch.cat(ctx_img)
    truth_poses_all = torch.cat(truth_poses_all)

    # the 2D video baseline -------------------------------------------------------------------------
    video_info, video_img = _video_baseline(traj, sp, model, cams, cfg, ctx_img, starts, truth_img, truth_poses_all,
                                            per["video"], progress)

    # aggregate, report --------------------------------------------------------------------------------
    metrics, stderr = _aggregate(per)
    result = ValidationResult(h_len, len(starts), metrics, stderr, {
        "format_version": REPORT_FORMAT_VERSION,
        "model": str(model_path),
        "train_config": json.loads(train_cfg.to_json()),
        "validation_config": asdict(cfg),
        "reference": "simulator replay" if replay is not None else "recorded held-out trajectory",
        "held_out_episodes": traj.val,
        "objects": [traj.modelled_names[o] for o in traj.objects],
        "parameters": {"gwm": parameter_count(model), "gwm_vae": parameter_count(model.vae),
                       "gwm_dit": parameter_count(model.dit), "video": video_info["parameters"]},
        "video_baseline": video_info,
        "cameras": {"count": len(cams), "size": [cams.height, cams.width]},
        "seconds": time.perf_counter() - t_start,
        "scene_normalisation": info.get("scene_normalisation"),
    })
    result.info["beats_baselines"] = result.beats_baselines()
    _write_videos(out, traj, cfg, starts, ctx_img, truth_img, gwm_img, video_img)
    _write_plots(out, result)
    _write_report(out, result)
    return result


def _true_poses(traj, batch, h_len, s, acts, replay) -> torch.Tensor:
    """(B, H, M, 7) true poses of the modelled bodies after each predicted step."""
    rows = []
    for (e, t), a in zip(batch, acts):
        if replay is None:
            rows.append(traj.poses[e][[t + (h + 1) * s for h in range(h_len)]])
        else:
            poses = torch.as_tensor(np.asarray(replay(e, t, a.reshape(-1, a.shape[-1]).numpy())), dtype=torch.float32)
            if poses.shape[0] == h_len * s:
                poses = poses[s - 1::s]
            rows.append(poses[:, traj.modelled])
    return torch.stack(rows)


def _state_metrics(acc: dict, sp, states, truth, true_poses, objects, img, t_img) -> None:
    from gwm.metrics.images import psnr, ssim

    def add(k, v):
        acc.setdefault(k, []).append(np.asarray(v, dtype=np.float64))

    pm, tm = sp.means(states), sp.means(truth)  # (B, H, N, 3)
    add("mse", _mse(img, t_img))
    add("psnr_per_frame_mean", psnr(img, t_img, reduction="none").mean(-1).numpy())  # (B, H) mean over cameras
    add("ssim", ssim(img, t_img, reduction="none").mean(-1).numpy())
    add("centre_error_m", centre_error(pm, tm).numpy())
    add("chamfer_m", chamfer_distance(pm, tm).numpy())
    if objects:
        pos, ang = body_pose_errors(pm, sp.canon_means, sp.body_id, true_poses, objects)
        add("object_position_error_m", pos.mean(-1))
        add("object_orientation_error_deg", ang.mean(-1))


def _mse(img: torch.Tensor, ref: torch.Tensor) -> np.ndarray:
    """(..., cams, h, w, 3) renders -> mean squared error per window and step (B, H), averaged over cameras."""
    return (img.double() - ref.double()).pow(2).mean(dim=(-1, -2, -3, -4)).numpy()


def _aggregate(per: dict) -> tuple[dict, dict]:
    """Per method and metric, (W, H) arrays -> mean and standard error over windows per horizon step; PSNR from
    the pooled MSE (its standard error by the delta method)."""
    metrics, stderr = {}, {}
    for m, d in per.items():
        arrays = {k: np.concatenate(v) for k, v in d.items()}
        metrics[m] = {k: a.mean(0).tolist() for k, a in arrays.items() if k != "mse"}
        stderr[m] = {k: (a.std(0) / math.sqrt(max(a.shape[0], 1))).tolist() for k, a in arrays.items() if k != "mse"}
        if "mse" in arrays:
            mse = arrays["mse"]
            mean = np.maximum(mse.mean(0), 1e-20)
            metrics[m]["psnr"] = (10 * np.log10(1.0 / mean)).tolist()
            stderr[m]["psnr"] = (10 / math.log(10) * mse.std(0) / math.sqrt(max(len(mse), 1)) / mean).tolist()
    return metrics, stderr


def _video_baseline(traj, sp, model, cams, cfg, ctx_img, starts, truth_img, truth_poses, acc, progress):
    """Train the video predictor and the position probe on rendered training frames; score them."""
    from gwm.metrics.images import psnr, ssim

    torch.manual_seed(cfg.baseline.seed)
    eps = traj.train[:cfg.baseline_max_episodes]
    frames = [render_states(traj, sp, sp.features_from_poses(traj.poses[e]), cams)
              for e in tqdm(eps, desc="render frames", disable=not progress, dynamic_ncols=True)]
    actions = [traj.actions[e] for e in eps]
    vp = VideoPredictor(cfg.baseline, len(cams), model.context, traj.action_dim, model.action_chunk, cfg.image_size)
    t0 = time.perf_counter()
    losses = train_video_predictor(vp, frames, actions, model.action_mean, model.action_std, model.action_chunk,
                                   progress)
    train_s = time.perf_counter() - t0
    vp.eval()
    acts = torch.stack([traj.actions[e][t:t + cfg.horizon * model.action_chunk]
                        .reshape(cfg.horizon, model.action_chunk, -1) for e, t in starts])
    acts = (acts - model.action_mean) / model.action_std
    preds = torch.cat([vp.rollout(ctx_img[i:i + cfg.batch_size], acts[i:i + cfg.batch_size])
                       for i in range(0, len(starts), cfg.batch_size)])  # (W, H, cams, h, w, 3)
    acc.setdefault("mse", []).append(_mse(preds, truth_img))
    acc.setdefault("psnr_per_frame_mean", []).append(psnr(preds, truth_img, reduction="none").mean(-1).numpy())
    acc.setdefault("ssim", []).append(ssim(preds, truth_img, reduction="none").mean(-1).numpy())
    info = {"parameters": parameter_count(vp), "train_seconds": train_s, "train_steps": cfg.baseline.steps,
            "final_train_mse": float(np.mean(losses[-50:])), "frames": int(sum(len(f) for f in frames))}
    if traj.objects:
        probe = PositionProbe(len(cams), len(traj.objects))
        all_frames = torch.cat(frames)  # (F, cams, h, w, 3)
        pos = torch.cat([(traj.poses[e][:, traj.objects, :3] - sp.centre) / sp.extent for e in eps])
        train_position_probe(probe, all_frames, pos, cfg.baseline.probe_steps, cfg.baseline.seed, progress=progress)
        probe.eval()
        with torch.no_grad():
            true_obj = truth_poses[..., traj.objects, :3]  # (W, H, O, 3)
            def read(imgs):  # (W, H, cams, h, w, 3) -> object positions (W, H, O, 3) in metres
                return probe(imgs.flatten(0, 1)).view(*imgs.shape[:2], -1, 3) * sp.extent + sp.centre

            err = (read(preds) - true_obj).norm(dim=-1).mean(-1)  # (W, H)
            floor = (read(truth_img) - true_obj).norm(dim=-1).mean(-1)
        acc.setdefault("object_position_error_m", []).append(err.numpy())
        info["probe_floor_object_position_error_m"] = floor.mean(0).tolist()
    return info, preds


# report -----------------------------------------------------------------------------------------------
_LABELS = {"psnr": ("render PSNR", "dB", 1.0), "ssim": ("render SSIM", "", 1.0),
           "centre_error_m": ("Gaussian centre error", "mm", 1e3), "chamfer_m": ("Chamfer distance", "mm", 1e3),
           "object_position_error_m": ("object position error", "mm", 1e3),
           "object_orientation_error_deg": ("object orientation error", "deg", 1.0)}
_NAMES = {"gwm": "GWM", "copy_last": "copy-last", "video": "2D video"}


def _write_report(out: Path, r: ValidationResult) -> None:
    tmp = out / f"metrics.json.tmp{os.getpid()}"
    tmp.write_text(json.dumps({"horizon": r.horizon, "windows": r.windows, "metrics": r.metrics,
                               "stderr": r.stderr, "info": r.info}, indent=1))
    os.replace(tmp, out / "metrics.json")
    lines = [f"# World model validation ({r.info['reference']})", "",
             f"- held-out episodes: {len(r.info['held_out_episodes'])}, windows: {r.windows}, "
             f"horizon: {r.horizon} steps",
             f"- objects scored: {', '.join(r.info['objects']) or '-'}",
             f"- parameters: GWM {r.info['parameters']['gwm']:,} (VAE {r.info['parameters']['gwm_vae']:,}, "
             f"DiT {r.info['parameters']['gwm_dit']:,}); 2D video baseline {r.info['parameters']['video']:,}",
             f"- beats both baselines at every step (PSNR, object position): {r.info['beats_baselines']}",
             f"- cameras: {r.info['cameras']['count']} at "
             f"{r.info['cameras']['size'][1]}x{r.info['cameras']['size'][0]}",
             "- render PSNR: of the mean squared error over all windows per step (a mean of per-frame PSNRs "
             "would hinge on the 200 dB given to frames copy-last renders exactly; it is in metrics.json as "
             "psnr_per_frame_mean)",
             ""]
    probe = r.info["video_baseline"].get("probe_floor_object_position_error_m")
    if probe is not None:
        lines.append(f"- 2D video object positions come from a CNN probe; its error on true frames (floor): "
                     f"{1e3 * float(np.mean(probe)):.1f} mm")
        lines.append("")
    lines.append(markdown_table(r))
    lines += ["", "Plots: " + ", ".join(f"[{k}]({k}.png)" for k in _LABELS if k in r.metrics["gwm"]),
              "Videos: simulator | GWM | 2D video, one row per camera: " +
              ", ".join(f"[{p.name}]({p.name})" for p in sorted(out.glob("rollout_*.mp4")))]
    tmp = out / f"report.md.tmp{os.getpid()}"
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, out / "report.md")


def markdown_table(r: ValidationResult) -> str:
    cols = [(k, m) for k in _LABELS for m in METHODS if k in r.metrics.get(m, {})]
    head = "| h | " + " | ".join(f"{_LABELS[k][0]} {_NAMES[m]}" + (f" ({_LABELS[k][1]})" if _LABELS[k][1] else "")
                                for k, m in cols) + " |"
    rows = [head, "|" + "---|" * (len(cols) + 1)]
    for h in range(r.horizon):
        cells = []
        for k, m in cols:
            v = r.metrics[m][k][h] * _LABELS[k][2]
            cells.append(f"{v:.3f}" if k == "ssim" else f"{v:.2f}")
        rows.append(f"| {h + 1} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _write_plots(out: Path, r: ValidationResult) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hs = np.arange(1, r.horizon + 1)
    for k, (label, unit, scale) in _LABELS.items():
        fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=120)
        for m in METHODS:
            if k in r.metrics.get(m, {}):
                y, e = np.array(r.metrics[m][k]) * scale, np.array(r.stderr[m][k]) * scale
                ax.errorbar(hs, y, yerr=e, marker="o", ms=3, capsize=2, label=_NAMES[m])
        ax.set_xlabel("horizon step")
        ax.set_ylabel(f"{label} ({unit})" if unit else label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        tmp = out / f".{k}.tmp.png"
        fig.savefig(tmp)
        plt.close(fig)
        os.replace(tmp, out / f"{k}.png")


def _write_videos(out: Path, traj, cfg, starts, ctx_img, truth_img, gwm_img, video_img) -> None:
    """Side-by-side MP4s (simulator | GWM | 2D video; a row per camera): context frames, then the rollout."""
    import cv2
    import imageio.v2 as imageio

    picks = np.linspace(0, len(starts) - 1, min(cfg.videos, len(starts))).round().astype(int)
    up = max(1, 256 // cfg.image_size)
    for n, w in enumerate(sorted(set(picks.tolist()))):
        frames = []
        seq = [(ctx_img[w, i], ctx_img[w, i], ctx_img[w, i], f"context {i + 1}") for i in range(ctx_img.shape[1])]
        seq += [(truth_img[w, h], gwm_img[w, h], video_img[w, h], f"h = {h + 1}") for h in range(truth_img.shape[1])]
        for sim, pred, vid, label in seq:
            rows = [np.concatenate([_to_u8(x[k], up) for x in (sim, pred, vid)], axis=1) for k in range(sim.shape[0])]
            img = np.ascontiguousarray(np.concatenate(rows, axis=0))
            for j, name in enumerate(("simulator", "GWM", "2D video")):
                cv2.putText(img, name, (4 + j * cfg.image_size * up, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                            (255, 255, 255), 1, cv2.LINE_AA)
            cv2.putText(img, label, (4, img.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1,
                        cv2.LINE_AA)
            frames.append(img)
        e, t = starts[w]
        path = out / f"rollout_{n}_ep{e}_t{t}.mp4"
        tmp = path.with_name(f".{path.stem}.tmp.mp4")
        imageio.mimwrite(tmp, frames, fps=cfg.video_fps, macro_block_size=1)
        os.replace(tmp, path)


def _to_u8(img: torch.Tensor, up: int) -> np.ndarray:
    a = (img.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return np.kron(a, np.ones((up, up, 1), dtype=np.uint8))


__all__ = ["ValidationConfig", "ValidationResult", "markdown_table", "render_states", "validate"]

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
- metrics split by what moves (gwm.model.validation_metrics): robot links and objects apart (pose from
  a rigid fit of each body's predicted Gaussians, Gaussian centre error, render PSNR in object masks),
  and the object metrics again over the windows where objects move (contact) and the rest.
Renders use the dataset's fixed cameras at their own resolution (ValidationConfig.image_size=None).

Baselines, in the same run: copy-last-state; pose baselines given by the caller (`baselines`, called
like the replay: the kinematic baselines of sim_tasks.kinematic_baseline pose the robot from the
commanded actions, the actions being absolute tool targets); a 2D action-conditioned video predictor of
similar parameter count trained on as many samples as the world model's dynamics saw, on the same
rendered frames (its object positions come from a CNN probe trained on true frames; that column counts
in beats_baselines only at steps where the probe's own error on true frames is below copy-last's).
Writes report.md, metrics.json, plots and side-by-side MP4 videos (gwm.model.validation_report).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from gwm.model.trajectories import Trajectories, load_trajectories
from gwm.model.inference import load_world_model, resize_cameras, rollout_batch
from gwm.model.video_baseline import (PositionProbe, VideoBaselineConfig, VideoPredictor, train_position_probe,
                                      train_video_predictor)
from gwm.model.validation_metrics import (CONTACT_MOTION_M, MASK_ALPHA, aggregate, contact_windows, image_metrics,
                                          state_metrics, subset_metrics)
from gwm.model.validation_report import markdown_table, write_plots, write_report, write_videos
from gwm.model.world_model import GaussianWorldModel, parameter_count

REPORT_FORMAT_VERSION = 2
# (episode, start step, actions (H*S, A)) -> poses (H or H*S, B, 7) of every dataset body after the actions
Replay = Callable[[int, int, np.ndarray], np.ndarray]
BEATS_HORIZON = 8  # the bar: beat every baseline at each step up to this one


@dataclass(frozen=True)
class ValidationConfig:
    horizon: int = 16
    stride: int = 2  # a window starts every `stride` steps of each held-out episode
    max_windows: int = 64  # evenly spaced subset of all windows
    image_size: int | None = None  # None: the dataset cameras' own resolution
    sample_steps: int | None = None  # Euler steps (None: the model's, 5)
    seed: int = 0
    batch_size: int = 32
    videos: int = 3
    video_fps: int = 4
    baseline: VideoBaselineConfig = field(default_factory=VideoBaselineConfig)
    baseline_max_episodes: int = 120  # training episodes rendered for the video baseline
    # train the video baseline on as many samples (steps x batch) as the world model's dynamics stage saw
    baseline_match_samples: bool = True
    # False: no 2D video baseline (matched to the world model's samples it trains for about an hour on 2 CPU
    # cores at 128 px; a short-trained one would flatter the world model, so it is left out, not cut down)
    video_baseline: bool = True
    cpu_threads: int = 2


@dataclass
class ValidationResult:
    horizon: int
    windows: int
    metrics: dict[str, dict[str, list[float]]]  # method -> metric -> per horizon step (mean)
    stderr: dict[str, dict[str, list[float]]]
    info: dict
    counts: dict = field(default_factory=dict)  # method -> metric -> windows with a value, per step

    def comparison(self, metric: str, horizon: int | None = None) -> dict[str, bool]:
        """Per baseline that has the metric: GWM better at every step up to horizon (all steps by default).
        The 2D video's probe-based object positions count only at the steps listed in
        info["video_baseline"]["probe_counts_at_steps"]; a baseline with no such step is left out."""
        higher = metric.startswith("psnr") or metric == "ssim"
        n = min(self.horizon, horizon or self.horizon)
        mine = np.array(self.metrics["gwm"].get(metric, [np.nan] * n))[:n]
        out = {}
        for b, d in self.metrics.items():
            if b == "gwm" or metric not in d:
                continue
            steps = list(range(n))
            if b == "video" and metric.startswith("object_position"):
                steps = [h - 1 for h in self.info.get("video_baseline", {}).get("probe_counts_at_steps", []) if h <= n]
                if not steps:
                    continue
            other = np.array(d[metric])[steps]
            ok = mine[steps] > other if higher else mine[steps] < other
            out[b] = bool(np.all(ok))
        return out

    def beats_baselines(self, metrics=("psnr", "object_position_error_m", "robot_position_error_m")) -> dict:
        """Per metric: whether GWM beats each baseline at every step (and for object position, up to
        BEATS_HORIZON as the bar is set)."""
        out = {m: self.comparison(m) for m in metrics if m in self.metrics.get("gwm", {})}
        if "object_position_error_m" in self.metrics.get("gwm", {}):
            out[f"object_position_error_m@h<={BEATS_HORIZON}"] = self.comparison("object_position_error_m",
                                                                                BEATS_HORIZON)
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
             replay: Replay | None = None, baselines: dict[str, Replay] | None = None,
             progress: bool = True) -> ValidationResult:
    """Run the validation, write the report into out_dir, return the per-horizon metrics.

    baselines: pose baselines by name (e.g. sim_tasks.kinematic_baseline.kinematic_baselines(ds)), each
    called like replay on the recorded start state and the window's actions."""
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
    cams = traj.cameras if cfg.image_size is None else resize_cameras(traj.cameras, cfg.image_size)
    starts = _window_starts(traj, cfg, s)
    gen = torch.Generator().manual_seed(cfg.seed)
    baselines = dict(baselines or {})
    objects = traj.objects
    robot = [m for m in range(len(traj.modelled)) if m not in objects]

    # ground truth, world model, copy-last and the pose baselines over all windows -------------------
    methods = ["gwm", "copy_last", *baselines]
    per = {m: {} for m in [*methods, *(["video"] if cfg.video_baseline else [])]}
    truth_img, gwm_img, ctx_img, truth_poses_all, masks_all, contact_all = [], [], [], [], [], []
    bar = tqdm(range(0, len(starts), cfg.batch_size), desc="validate gwm", disable=not progress, dynamic_ncols=True)
    for i in bar:
        batch = starts[i:i + cfg.batch_size]
        ctx_f, acts, truth = rollout_batch(traj, sp, batch, h_len, c, s)
        true_poses = _true_poses(traj, batch, h_len, s, acts, replay)  # (B, H, M, 7)
        if replay is not None:
            truth = sp.features_from_poses(true_poses)
        start_poses = torch.stack([traj.poses[e][t] for e, t in batch])  # (B, M, 7) last context frame
        contact = contact_windows(true_poses, start_poses, objects)
        masks = _object_masks(sp, truth, ctx_f[:, -1], cams, objects)  # (B, H, cams, h, w) or None
        t_img = render_states(traj, sp, truth, cams)  # (B, H, cams, h, w, 3)
        truth_img.append(t_img)
        ctx_img.append(render_states(traj, sp, ctx_f, cams))
        truth_poses_all.append(true_poses)
        masks_all.append(masks)
        contact_all.append(contact)
        preds = {"gwm": model.rollout(ctx_f, acts, gen, cfg.sample_steps),  # (B, H, N, 14)
                 "copy_last": ctx_f[:, -1:].expand_as(truth)}
        for name, fn in baselines.items():
            preds[name] = sp.features_from_poses(_true_poses(traj, batch, h_len, s, acts, fn))
        for name, states in preds.items():
            img = ctx_img[-1][:, -1:].expand_as(t_img) if name == "copy_last" else render_states(traj, sp, states, cams)
            if name == "gwm":
                gwm_img.append(img)
            image_metrics(per[name], img, t_img, masks)
            state_metrics(per[name], sp, states, truth, true_poses, objects, robot, contact)
    truth_img, gwm_img, ctx_img = torch.cat(truth_img), torch.cat(gwm_img), torch.cat(ctx_img)
    truth_poses_all = torch.cat(truth_poses_all)
    masks_all = torch.cat(masks_all) if objects else None
    contact_all = np.concatenate(contact_all)

    # the 2D video baseline -------------------------------------------------------------------------
    wm_samples = train_cfg.optim.dynamics_steps * train_cfg.optim.batch_size
    if cfg.video_baseline:
        video_info, video_img = _video_baseline(traj, sp, model, cams, cfg, ctx_img, starts, truth_img,
                                                truth_poses_all, masks_all, contact_all, per["video"], wm_samples,
                                                progress)
    else:
        video_info, video_img = {"skipped": "ValidationConfig.video_baseline is off", "parameters": 0,
                                 "train_samples": 0}, None

    # aggregate, report --------------------------------------------------------------------------------
    metrics, stderr, counts = aggregate(per)
    if "object_position_error_m" in metrics["copy_last"] and "probe_floor_object_position_error_m" in video_info:
        floor, copy = video_info["probe_floor_object_position_error_m"], metrics["copy_last"]["object_position_error_m"]
        video_info["probe_counts_at_steps"] = [h + 1 for h in range(h_len) if floor[h] < copy[h]]
    result = ValidationResult(h_len, len(starts), metrics, stderr, {
        "format_version": REPORT_FORMAT_VERSION,
        "model": str(model_path),
        "train_config": json.loads(train_cfg.to_json()),
        "validation_config": asdict(cfg),
        "reference": "simulator replay" if replay is not None else "recorded held-out trajectory",
        "held_out_episodes": traj.val,
        "held_out_from_dataset_split": bool(getattr(ds, "heldout_episodes", lambda: [])()),
        "objects": [traj.modelled_names[o] for o in objects],
        "robot": [traj.modelled_names[r] for r in robot],
        "contact_windows": int(contact_all.sum()),
        "contact_motion_m": CONTACT_MOTION_M,
        "parameters": {"gwm": parameter_count(model), "gwm_vae": parameter_count(model.vae),
                       "gwm_dit": parameter_count(model.dit), "video": video_info["parameters"]},
        "training_samples": {"gwm": wm_samples, "video": video_info["train_samples"]},
        "video_baseline": video_info,
        "cameras": {"count": len(cams), "size": [cams.height, cams.width]},
        "seconds": time.perf_counter() - t_start,
        "scene_normalisation": info.get("scene_normalisation"),
    }, counts)
    result.info["beats_baselines"] = result.beats_baselines()
    write_videos(out, cfg, starts, ctx_img, truth_img, gwm_img, video_img)
    write_plots(out, result)
    write_report(out, result)
    return result


def _object_masks(sp, truth: torch.Tensor, start: torch.Tensor, cams, objects: list[int]) -> torch.Tensor | None:
    """(B, H, cams, h, w) bool: pixels the objects cover in the true state or at the window's start."""
    if not objects:
        return None
    from gwm.render import rasterize

    sel = torch.isin(sp.body_id, torch.tensor(objects))

    def alpha(f):  # (N, 14) -> (cams, h, w)
        return rasterize(sp.to_splats(f)[sel], cams).alpha[..., 0]

    b, h = truth.shape[:2]
    out = torch.zeros(b, h, len(cams), cams.height, cams.width, dtype=torch.bool)
    for i in range(b):
        a0 = alpha(start[i]) > MASK_ALPHA
        for k in range(h):
            out[i, k] = a0 | (alpha(truth[i, k]) > MASK_ALPHA)
    return out


def _true_poses(traj, batch, h_len, s, acts, replay) -> torch.Tensor:
    """(B, H, M, 7) poses of the modelled bodies after each predicted step: recorded, or from replay(e, t, a)."""
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


def _video_baseline(traj, sp, model, cams, cfg, ctx_img, starts, truth_img, truth_poses, masks, contact, acc,
                    wm_samples, progress):
    """Train the video predictor (as many samples as the world model's dynamics saw, when
    cfg.baseline_match_samples) and the position probe on rendered training frames; score them."""
    torch.manual_seed(cfg.baseline.seed)
    bcfg = cfg.baseline
    if cfg.baseline_match_samples:
        bcfg = replace(bcfg, steps=max(1, math.ceil(wm_samples / bcfg.batch_size)))
    eps = traj.train[:cfg.baseline_max_episodes]
    frames = [render_states(traj, sp, sp.features_from_poses(traj.poses[e]), cams)
              for e in tqdm(eps, desc="render frames", disable=not progress, dynamic_ncols=True)]
    actions = [traj.actions[e] for e in eps]
    vp = VideoPredictor(bcfg, len(cams), model.context, traj.action_dim, model.action_chunk, cams.height)
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
    image_metrics(acc, preds, truth_img, masks)
    info = {"parameters": parameter_count(vp), "train_seconds": train_s, "train_steps": bcfg.steps,
            "train_samples": bcfg.steps * bcfg.batch_size,
            "final_train_mse": float(np.mean(losses[-50:])), "frames": int(sum(len(f) for f in frames))}
    if traj.objects:
        probe = PositionProbe(len(cams), len(traj.objects))
        all_frames = torch.cat(frames)  # (F, cams, h, w, 3)
        pos = torch.cat([(traj.poses[e][:, traj.objects, :3] - sp.centre) / sp.extent for e in eps])
        train_position_probe(probe, all_frames, pos, bcfg.probe_steps, bcfg.seed, progress=progress)
        probe.eval()
        with torch.no_grad():
            true_obj = truth_poses[..., traj.objects, :3]  # (W, H, O, 3)

            def read(imgs):  # (W, H, cams, h, w, 3) -> object positions (W, H, O, 3) in metres
                return torch.cat([probe(imgs[i:i + 8].flatten(0, 1)) for i in range(0, len(imgs), 8)]
                                 ).view(*imgs.shape[:2], -1, 3) * sp.extent + sp.centre

            err = (read(preds) - true_obj).norm(dim=-1).mean(-1).numpy()  # (W, H)
            floor = (read(truth_img) - true_obj).norm(dim=-1).mean(-1)
        acc.setdefault("object_position_error_m", []).append(err)
        subset_metrics(acc, "object_position_error_m", err, contact)
        info["probe_floor_object_position_error_m"] = floor.mean(0).tolist()
    return info, preds


__all__ = ["ValidationConfig", "ValidationResult", "markdown_table", "render_states", "validate"]

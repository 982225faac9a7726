"""The validation report: report.md (one table per metric, horizon by method), metrics.json, plots, videos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from gwm.atomic_io import atomic_write_path, write_json_atomic, write_text_atomic

# metric -> (label, unit, scale); the tables and plots follow this order
LABELS = {
    "object_position_error_m": ("object position error", "mm", 1e3),
    "object_position_error_m@contact": ("object position error, contact windows", "mm", 1e3),
    "object_position_error_m@free": ("object position error, windows without object motion", "mm", 1e3),
    "object_orientation_error_deg": ("object orientation error", "deg", 1.0),
    "object_orientation_error_deg@contact": ("object orientation error, contact windows", "deg", 1.0),
    "object_centre_error_m": ("object Gaussian centre error", "mm", 1e3),
    "robot_position_error_m": ("robot link position error", "mm", 1e3),
    "robot_orientation_error_deg": ("robot link orientation error", "deg", 1.0),
    "robot_centre_error_m": ("robot Gaussian centre error", "mm", 1e3),
    "psnr": ("render PSNR, all cameras", "dB", 1.0),
    "psnr_objects": ("render PSNR in object masks", "dB", 1.0),
    "ssim": ("render SSIM", "", 1.0),
    "centre_error_m": ("Gaussian centre error, all modelled bodies", "mm", 1e3),
    "chamfer_m": ("Chamfer distance", "mm", 1e3),
}
NAMES = {"gwm": "GWM", "copy_last": "copy-last", "kinematic": "kinematic", "kinematic_carry": "kinematic+carry",
         "video": "2D video"}
PLOTTED = ("object_position_error_m", "object_position_error_m@contact", "robot_position_error_m", "psnr",
           "psnr_objects")


def label(metric: str) -> tuple[str, str, float]:
    if metric in LABELS:
        return LABELS[metric]
    if metric.startswith("psnr_cam"):
        return (f"render PSNR, camera {metric[8:]}", "dB", 1.0)
    return (metric, "", 1.0)


def metric_table(r, metric: str) -> str:
    """Rows: horizon steps; columns: the methods that have the metric (windows counted in the header)."""
    methods = [m for m in r.metrics if metric in r.metrics[m]]
    name, unit, scale = label(metric)
    head = "| h | " + " | ".join(NAMES.get(m, m) for m in methods) + " |"
    rows = [f"**{name}**" + (f" ({unit})" if unit else ""), "", head, "|" + "---|" * (len(methods) + 1)]
    for h in range(r.horizon):
        cells = []
        for m in methods:
            v = r.metrics[m][metric][h] * scale
            cells.append(f"{v:.3f}" if metric == "ssim" else f"{v:.2f}")
        rows.append(f"| {h + 1} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def markdown_table(r, metrics=("object_position_error_m", "robot_position_error_m", "psnr")) -> str:
    return "\n\n".join(metric_table(r, k) for k in metrics if any(k in d for d in r.metrics.values()))


def write_report(out: Path, r) -> None:
    write_json_atomic(out / "metrics.json", {"horizon": r.horizon, "windows": r.windows, "metrics": r.metrics,
                                             "stderr": r.stderr, "counts": r.counts, "info": r.info}, indent=1)
    info = r.info
    lines = [f"# World model validation ({info['reference']})", "",
             f"- held-out episodes: {len(info['held_out_episodes'])}, windows: {r.windows} "
             f"({info['contact_windows']} with object motion > {info['contact_motion_m'] * 1e3:.0f} mm), "
             f"horizon: {r.horizon} steps",
             f"- objects scored: {', '.join(info['objects']) or '-'}; robot links scored: {len(info['robot'])}",
             (f"- parameters: GWM {info['parameters']['gwm']:,}; 2D video baseline {info['parameters']['video']:,}; "
              f"training samples: GWM {info['training_samples']['gwm']:,}, 2D video "
              f"{info['training_samples']['video']:,}" if "skipped" not in info["video_baseline"] else
              f"- parameters: GWM {info['parameters']['gwm']:,}; training samples {info['training_samples']['gwm']:,}; "
              f"2D video baseline not run: {info['video_baseline']['skipped']}"),
             f"- cameras: {info['cameras']['count']} fixed at {info['cameras']['size'][1]}x{info['cameras']['size'][0]} "
             + ("(the dataset's own resolution" if info["validation_config"].get("image_size") is None
                else "(resized from the dataset's resolution by ValidationConfig.image_size")
             + "; cameras on the robot move and are not rendered)",
             "- baselines: copy-last; kinematic (robot links by IK of the commanded targets + FK, objects copied); "
             "kinematic+carry (a held object moves with the tool)"
             + ("; 2D video (frames, object positions from a probe)" if "skipped" not in info["video_baseline"] else ""),
             f"- GWM better than each baseline at every step: {json.dumps(info['beats_baselines'])}",
             ""]
    probe = info["video_baseline"].get("probe_floor_object_position_error_m")
    if probe is not None:
        counted = info["video_baseline"].get("probe_counts_at_steps", [])
        lines += [f"- the 2D video's object positions come from a CNN probe; its error on true frames (floor): "
                  f"{1e3 * float(np.mean(probe)):.1f} mm. That column counts only at steps where the floor is below "
                  f"copy-last's error: {counted or 'none'}", ""]
    for k in list(LABELS) + sorted(k for k in r.metrics.get("gwm", {}) if k.startswith("psnr_cam")):
        if any(k in d for d in r.metrics.values()):
            lines += [metric_table(r, k), ""]
    lines += ["Plots: " + ", ".join(f"[{_file(k)}]({_file(k)}.png)" for k in PLOTTED if k in r.metrics["gwm"]),
              "Videos: simulator | GWM" + (" | 2D video" if "skipped" not in info["video_baseline"] else "")
              + ", one row per camera: " +
              ", ".join(f"[{p.name}]({p.name})" for p in sorted(out.glob("rollout_*.mp4")))]
    write_text_atomic(out / "report.md", "\n".join(lines) + "\n")


def _file(metric: str) -> str:
    return metric.replace("@", "_")


def write_plots(out: Path, r) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hs = np.arange(1, r.horizon + 1)
    for k in PLOTTED:
        if k not in r.metrics.get("gwm", {}):
            continue
        name, unit, scale = label(k)
        fig, ax = plt.subplots(figsize=(4.8, 3.3), dpi=120)
        for m in r.metrics:
            if k in r.metrics[m]:
                y, e = np.array(r.metrics[m][k]) * scale, np.array(r.stderr[m][k]) * scale
                ax.errorbar(hs, y, yerr=e, marker="o", ms=3, capsize=2, label=NAMES.get(m, m))
        ax.set_xlabel("horizon step")
        ax.set_ylabel(f"{name} ({unit})" if unit else name, fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        with atomic_write_path(out / f"{_file(k)}.png", keep_suffix=True) as tmp:
            fig.savefig(tmp)
        plt.close(fig)


def write_videos(out: Path, cfg, starts, ctx_img, truth_img, gwm_img, video_img) -> None:
    """Side-by-side MP4s (simulator | GWM | 2D video; a row per camera): context frames, then the rollout."""
    import cv2
    import imageio.v2 as imageio

    picks = np.linspace(0, len(starts) - 1, min(cfg.videos, len(starts))).round().astype(int)
    names = ("simulator", "GWM") + (() if video_img is None else ("2D video",))
    size = truth_img.shape[-2]
    up = max(1, 256 // size)
    for n, w in enumerate(sorted(set(picks.tolist()))):
        frames = []
        seq = [((ctx_img[w, i],) * len(names), f"context {i + 1}") for i in range(ctx_img.shape[1])]
        seq += [((truth_img[w, h], gwm_img[w, h]) + (() if video_img is None else (video_img[w, h],)), f"h = {h + 1}")
                for h in range(truth_img.shape[1])]
        for cols, text in seq:
            rows = [np.concatenate([_to_u8(x[k], up) for x in cols], axis=1) for k in range(cols[0].shape[0])]
            img = np.ascontiguousarray(np.concatenate(rows, axis=0))
            for j, name in enumerate(names):
                cv2.putText(img, name, (4 + j * size * up, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                            cv2.LINE_AA)
            cv2.putText(img, text, (4, img.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1,
                        cv2.LINE_AA)
            frames.append(img)
        e, t = starts[w]
        path = out / f"rollout_{n}_ep{e}_t{t}.mp4"
        with atomic_write_path(path, keep_suffix=True) as tmp:
            imageio.mimwrite(tmp, frames, fps=cfg.video_fps, macro_block_size=1)


def _to_u8(img, up: int) -> np.ndarray:
    a = (img.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return np.kron(a, np.ones((up, up, 1), dtype=np.uint8))


__all__ = ["LABELS", "NAMES", "markdown_table", "metric_table", "write_plots", "write_report", "write_videos"]

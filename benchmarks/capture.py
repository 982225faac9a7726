"""Capture on the bundled samples, scored against their ground truth (the pipeline never reads it).

    python benchmarks/capture.py [--samples kitchen,workbench] [--inputs stills,video,phone]
                                 [--max-frames 40] [--once] [--json OUT.json] [--out DIR]

Per sample and input, one capture with every metric cue the sample supports (the printed marker,
a known length marked in three frames, the support surface's width and depth), run twice to
compare fingerprints (`--once`: one run). It prints:

- frames: candidates, kept, dropped as blurred, and whether the dropped ones are the truly
  blurred ones (stills: ground truth's blurred list; video: blurred frames among the kept);
- registered / given, outlier cameras left out, mean reprojection error;
- scale error of each cue vs ground truth (targets: marker < 1%, known length < 2%), the cue the
  capture used and the uncertainty it reported;
- up error (target < 0.5 deg), the marker frame's origin (mm) and heading (deg) errors;
- camera pose error after a robust similarity alignment (target: median < 0.3 cm);
- the fingerprints of the two runs and the seconds per run.

The known length's clicks are ground-truth projections of two table-top points plus 1 px noise
(what a careful user marks). `phone` (workbench) runs the nerfstudio phone AR export twice: its
poses as given (--metric-input) and re-posed by SfM (--metric-input --rerun-sfm). Timings on a
shared 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
TARGETS = {"marker": 0.01, "known_length": 0.02, "up_deg": 0.5, "pose_cm": 0.3}


def _gt(sample: str) -> dict:
    return json.loads((ROOT / "datasets" / sample / "ground_truth.json").read_text())


def _click_views(gt: dict, video: bool, seed: int = 0):
    """A known length: two table-top points marked (GT projection + 1 px noise) in 3 frames."""
    from gwm.capture import KnownLength, LengthView
    from gwm.capture.frames import video_frame_name

    table = gt["table"]
    lo, hi = np.asarray(table["extent_xy"]["min"]), np.asarray(table["extent_xy"]["max"])
    top = float(table.get("top_z", 0.0))
    size = hi - lo
    a = np.array([lo[0] + 0.2 * size[0], lo[1] + 0.25 * size[1], top])
    b = np.array([hi[0] - 0.2 * size[0], lo[1] + 0.25 * size[1], top])
    K = np.asarray(gt["camera"]["K"])
    w, h = gt["camera"]["width"], gt["camera"]["height"]
    if video:
        blurred = set(gt["video"].get("motion_blurred_frames", []))
        frames = [(video_frame_name(f["index"]), np.asarray(f["world_from_cam"])) for f in gt["video"]["frames"]
                  if f["index"] not in blurred]
    else:
        blurred = {Path(p).name for p in gt.get("blurred_stills", [])}
        frames = [(Path(f["file_path"]).name, np.asarray(f["world_from_cam"])) for f in gt["frames"]
                  if Path(f["file_path"]).name not in blurred]
    visible = []
    for name, pose in frames:
        cfw = np.linalg.inv(pose)
        pc = np.stack([a, b]) @ cfw[:3, :3].T + cfw[:3, 3]
        if (pc[:, 2] <= 0).any():
            continue
        px = pc[:, :2] / pc[:, 2:] * K[[0, 1], [0, 1]] + K[:2, 2] - 0.5  # OpenCV pixel positions
        if (px > 10).all() and (px[:, 0] < w - 10).all() and (px[:, 1] < h - 10).all():
            visible.append((name, px))
    if len(visible) < 3:
        return None
    rng = np.random.default_rng(seed)
    pick = [visible[int(i)] for i in np.linspace(0, len(visible) - 1, 3)]
    views = tuple(LengthView(n, tuple(px[0] + rng.normal(0, 1.0, 2)), tuple(px[1] + rng.normal(0, 1.0, 2))) for n, px in pick)
    return KnownLength(views, float(np.linalg.norm(b - a)))


def _angle(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1.0, 1.0))))


def _truth_poses(gt: dict, kind: str) -> dict[str, np.ndarray]:
    """Ground-truth world_from_cam by output image name, for stills, video frames or the phone export."""
    from gwm.capture.frames import video_frame_name

    if kind == "stills":
        return {Path(f["file_path"]).name: np.asarray(f["world_from_cam"]) for f in gt["frames"]}
    video = {f["index"]: np.asarray(f["world_from_cam"]) for f in gt["video"]["frames"]}
    if kind == "video":
        return {video_frame_name(i): m for i, m in video.items()}
    return {Path(f["file_path"]).name: video[f["video_index"]] for f in gt["ar_export"]["frames"]}


def score(result, gt: dict, kind: str) -> dict:
    """Errors of one capture against ground truth (kind: stills, video or phone)."""
    from scipy.spatial.transform import Rotation

    from gwm.capture.nerfstudio import read_transforms_cameras
    from gwm.metrics import pose_errors, robust_similarity

    cams, paths, _ = read_transforms_cameras(result.output_dir)
    truth_by_name = _truth_poses(gt, kind)
    keep = [i for i, p in enumerate(paths) if p.name in truth_by_name]
    est = cams.world_from_cam.double().numpy()[keep]
    truth = np.stack([truth_by_name[paths[i].name] for i in keep])
    fit = robust_similarity(est, truth)  # output frame -> ground truth
    sim = fit.similarity
    err = pose_errors(est, truth, align="robust").summary()
    # up error from the cameras' orientations (sharper than from their centres)
    w = fit.inliers
    rot = Rotation.from_matrix(truth[w, :3, :3] @ np.swapaxes(est[w, :3, :3], 1, 2)).mean().as_matrix()
    a = result.alignment
    row = {"registered": result.num_registered, "frames": result.num_frames, "outliers": len(result.outliers),
           "reprojection_px": result.mean_reprojection_error_px, "metric_from": a.get("metric_from"),
           "scale_uncertainty": a.get("scale_uncertainty"), "pose_cm_median": err["translation_cm_median"],
           "pose_cm_max": err["translation_cm_max"], "pose_deg_median": err["rotation_deg_median"],
           "up_error_deg": _angle(rot @ [0, 0, 1.0], [0, 0, 1.0]), "fingerprint": result.fingerprint,
           "seconds": result.seconds, "cue_scale_error": {}}
    if a.get("metric"):
        err_used = 1.0 / sim.scale - 1.0  # the output is too large by this fraction
        used = a["cues"][a["metric_from"]]["metres_per_unit"]
        for name, cue in a.get("cues", {}).items():
            row["cue_scale_error"][name] = (cue["metres_per_unit"] / used) * (1.0 + err_used) - 1.0
    if "marker" in gt and a.get("frame_from", "").startswith("marker"):
        wfm = np.asarray(gt["marker"]["world_from_marker"])
        # our origin is the marker centre dropped onto the table plane: compare on the plane
        centre = wfm[:3, 3] - np.array([0.0, 0.0, gt["marker"].get("paper_thickness_m", 0.0)])
        row["origin_error_mm"] = 1000 * float(np.linalg.norm(sim.apply_points(np.zeros(3)) - centre))
        row["heading_error_deg"] = _angle(rot @ [1.0, 0, 0], wfm[:3, 0])
    sel = result.selection
    if sel and kind in ("stills", "video"):
        if kind == "video":
            truth_blur = {f"frame_{i:05d}.png" for i in gt["video"].get("motion_blurred_frames", [])}
        else:
            truth_blur = {Path(p).name for p in gt.get("blurred_stills", [])}
        dropped = {f["name"] for f in sel["frames"] if not f["kept"]}
        kept = {f["name"] for f in sel["frames"] if f["kept"]}
        row.update(candidates=sel["num_candidates"], kept=sel["num_kept"], dropped=len(dropped),
                   blurred_dropped=len(dropped & truth_blur), sharp_dropped=len(dropped - truth_blur),
                   blurred_kept=len(kept & truth_blur), blurred_total=len(truth_blur))
    return row


def run_input(sample: str, kind: str, args, tmp: Path) -> list[tuple[str, dict]]:
    from gwm.capture import CaptureConfig, run_capture

    gt = _gt(sample)
    base = ROOT / "datasets" / sample
    marker = gt.get("marker")
    cues = {}
    if marker:
        cues.update(marker_size_m=marker["side_m"], marker_dictionary=marker["dictionary"])
    size = gt["table"]["size"]
    cues.update(table_width_m=float(max(size[:2])), table_depth_m=float(min(size[:2])))
    rows = []
    if kind in ("stills", "video"):
        video = kind == "video"
        config = CaptureConfig(max_frames=args.max_frames if video else 120, known_length=_click_views(gt, video), **cues)
        src = base / ("orbit.mp4" if video else "images")
        results = []
        for k in range(1 if args.once else 2):
            results.append(run_capture(src, tmp / f"{sample}-{kind}-{k}", config, progress=False, overwrite=True))
            print(results[-1].summary(), flush=True)
        row = score(results[0], gt, kind)
        row["fingerprints"] = [r.fingerprint for r in results]
        row["seconds_runs"] = [r.seconds for r in results]
        rows.append((f"{sample} {kind}", row))
    elif kind == "phone" and "ar_export" in gt:
        export = base / gt["ar_export"]["folder"]
        marker_only = {k: v for k, v in cues.items() if k.startswith("marker")}  # the marker checks the phone's scale
        for label, extra in (("phone poses", {}), ("phone+SfM", {"rerun_sfm": True})):
            r = run_capture(export, tmp / f"{sample}-{label}", CaptureConfig(metric_input=True, **extra, **marker_only),
                            progress=False, overwrite=True)
            print(r.summary(), flush=True)
            rows.append((f"{sample} {label}", score(r, gt, "phone")))
    return rows


def _fmt(v, spec=".3f", scale=1.0) -> str:
    return "-" if v is None else format(v * scale, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", default="kitchen,workbench")
    ap.add_argument("--inputs", default="stills,video,phone")
    ap.add_argument("--max-frames", type=int, default=40, help="video frames kept")
    ap.add_argument("--once", action="store_true", help="one run per input (no fingerprint comparison)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    ap.add_argument("--out", type=Path, default=None, help="keep the captures here (default: a temporary folder)")
    args = ap.parse_args()

    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        for sample in args.samples.split(","):
            if not (ROOT / "datasets" / sample / "ground_truth.json").is_file():
                print(f"(no datasets/{sample}; skipped)")
                continue
            for kind in args.inputs.split(","):
                rows += run_input(sample, kind, args, out)

    print(f"\ntargets: scale error < {100 * TARGETS['marker']:.0f}% (marker), < {100 * TARGETS['known_length']:.0f}% "
          f"(known length); up < {TARGETS['up_deg']} deg; pose error median < {TARGETS['pose_cm']} cm")
    print(f"{'run':22s} {'frames kept/cand':>16s} {'blur dropped':>12s} {'sharp dropped':>13s} {'reg':>7s} {'outl':>4s} "
          f"{'reproj':>6s} {'used (+-%)':>20s} {'marker %':>8s} {'length %':>8s} {'table %':>8s} {'phone %':>8s} "
          f"{'up deg':>6s} {'orig mm':>7s} {'head deg':>8s} {'pose cm':>7s} {'repeat':>6s} {'s/run':>6s}")
    for label, r in rows:
        ce = r["cue_scale_error"]
        fr = f"{r.get('kept', r['frames'])}/{r.get('candidates', r['frames'])}"
        blur = f"{r['blurred_dropped']}/{r['blurred_total']}" if "blurred_total" in r else "-"
        if "blurred_kept" in r and "video" in label:
            blur += f" ({r['blurred_kept']} kept)"
        used = f"{r['metric_from']} ({_fmt(r['scale_uncertainty'], '.2f', 100)})" if r["metric_from"] else "not metric"
        fps = r.get("fingerprints", [r["fingerprint"]])
        rep = "-" if len(fps) < 2 else ("same" if len(set(fps)) == 1 else "DIFF")
        print(f"{label:22s} {fr:>16s} {blur:>12s} {str(r.get('sharp_dropped', '-')):>13s} "
              f"{r['registered']:>3d}/{r['frames']:<3d} {r['outliers']:>4d} {_fmt(r['reprojection_px'], '.3f'):>6s} "
              f"{used:>20s} {_fmt(ce.get('marker'), '+.2f', 100):>8s} {_fmt(ce.get('known_length'), '+.2f', 100):>8s} "
              f"{_fmt(ce.get('table_size'), '+.2f', 100):>8s} {_fmt(ce.get('phone_poses'), '+.2f', 100):>8s} "
              f"{r['up_error_deg']:6.3f} {_fmt(r.get('origin_error_mm'), '.2f'):>7s} {_fmt(r.get('heading_error_deg'), '.3f'):>8s} "
              f"{r['pose_cm_median']:7.3f} {rep:>6s} {r['seconds']:6.1f}")
    for label, r in rows:
        if "fingerprints" in r:
            print(f"{label}: fingerprints {' '.join(r['fingerprints'])}; seconds {' '.join(f'{s:.1f}' for s in r['seconds_runs'])}")
    print(f"total {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps([{"run": label, **r} for label, r in rows], indent=2, default=float))


if __name__ == "__main__":
    main()

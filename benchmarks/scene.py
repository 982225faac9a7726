"""Scene authoring without ground truth: `gwm scene init` + assembly on a capture and its splat, scored
against a sample's ground truth. No masks, no scene file: what a user with a phone video gets.

    python benchmarks/scene.py SAMPLE [--capture DIR] [--splat PLY] [--out DIR]
    python benchmarks/scene.py datasets/kitchen --make-inputs images     # capture + reconstruct first

SAMPLE is a sample folder with ground_truth.json (datasets/kitchen, datasets/workbench, ...).
--capture / --splat default to the pipeline's outputs datasets/outputs/<sample>/{capture,reconstruct/splat.ply};
--make-inputs images|video runs the capture and reconstruction into OUT first as the pipeline does (its
settings for the sample's preset: metric and table frame from the printed marker, whose side comes from
--marker-size or the sample's ground truth; the cpu reconstruction preset; a few minutes).

Scores (targets from issue 12):
  frame      the capture's cameras (metric frame from its own cue) aligned to the reference poses by a
             robust similarity (gwm.metrics.robust_similarity, scoring only): scale error (target < 1% with
             the marker), up error (< 0.5 deg), median camera residual (< 0.3 cm); ground truth is then
             expressed in the capture's frame through it, so the object figures below measure the scene
             stage alone;
  objects    found = present (matched by position, Hungarian), no invented object; each object's
             collision hull, measured along the true body axes: box centre within 1 cm, every extent
             within 1.5 cm;
  robot      the Panda (0.855 m) reaches every object; how many lie in the tasks' workspace
             (sim_tasks.workspace.Workspace.in_reach);
  roles      each object's role from its shape (gwm.scene.shape: container = open top that takes another of the
             scene's objects) against the generator's;
  support    plane height error, rectangle centre and size error against the true table top;
  rest       the exported scene simulated untouched for 1 s (sim_tasks.newton_twin: Newton, MuJoCo): every
             object stays where it was built (moves < 5 mm, turns < 2 deg). The capture saw them at rest.
Prints a table and writes OUT/scene_benchmark.png (top view: hulls, found boxes, true boxes, support,
robot), OUT/scene.toml (+ preview), OUT/scene.usdz (as the pipeline's scene stage exports it) and
OUT/scene_benchmark.json. Exit code 0 when every target is met.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CENTRE_TOL_M = 0.01
EXTENT_TOL_M = 0.015
MATCH_RADIUS_M = 0.06  # a found object farther than this from every true one is invented
SCALE_TOL_PCT = {"marker": 1.0, "other": 2.0}  # issue 12: < 1% from the marker, < 2% from a known length
UP_TOL_DEG = 0.5
POSE_TOL_CM = 0.3  # median camera centre residual after the robust alignment
REST_TOL_MM, REST_TOL_DEG = 5.0, 2.0  # an object at rest stays so in simulation


# ground truth ------------------------------------------------------------------------------------
def truth_objects(gt: dict) -> list[dict]:
    """Per object: name, role (container or object), world_from_body (4x4), bbox_body min/max (body frame)."""
    return [{"name": o["name"], "role": o["role"], "world_from_body": np.asarray(o["world_from_body"], dtype=np.float64),
             "lo": np.asarray(o["bbox_body"]["min"], dtype=np.float64),
             "hi": np.asarray(o["bbox_body"]["max"], dtype=np.float64)} for o in gt["objects"]]


def align_capture(capture: Path, gt_path: Path) -> dict:
    """The capture's frame against the reference poses: a robust similarity truth_from_capture over the
    cameras (gwm.metrics.robust_similarity: a flipped or drifted camera cannot pull it) and its errors.
    Scoring only: the capture's frame itself came from its metric cue."""
    from scipy.spatial.transform import Rotation

    from gwm.capture.alignment import load_reference_poses
    from gwm.capture.nerfstudio import read_transforms_cameras
    from gwm.metrics import pose_errors, robust_similarity

    cams, paths, meta = read_transforms_cameras(capture)
    video = meta.get("gwm", {}).get("source", {}).get("kind") == "video"
    ref = load_reference_poses(gt_path, video=video)
    names = [p.name for p in paths]
    common = [i for i, n in enumerate(names) if n in ref]
    if len(common) < 3:
        raise SystemExit(f"error: only {len(common)} capture frames have reference poses in {gt_path}; "
                         "use the sample the capture was made from")
    est = cams.world_from_cam.double().numpy()[common]
    truth = np.stack([ref[names[i]] for i in common])
    fit = robust_similarity(est, truth)
    sim, inl = fit.similarity, fit.inliers
    err = pose_errors(est, truth, align="robust").summary()
    # up from the inlier cameras' orientations (sharper than from their centres)
    rot = Rotation.from_matrix(truth[inl, :3, :3] @ np.swapaxes(est[inl, :3, :3], 1, 2)).mean().as_matrix()
    up = rot @ np.array([0.0, 0.0, 1.0])
    alignment = meta.get("gwm", {}).get("alignment", {})
    return {"similarity": sim, "cameras": len(common), "outlier_cameras": int((~inl).sum()),
            # the capture is too large by this fraction (metres per capture unit vs truth)
            "scale_error_pct": 100.0 * (1.0 / sim.scale - 1.0),
            "up_error_deg": float(np.degrees(np.arccos(np.clip(up[2], -1, 1)))),
            "translation_m": sim.translation.tolist(),
            "camera_residual_cm_median": float(err["translation_cm_median"]),
            "camera_rotation_deg_median": float(err["rotation_deg_median"]),
            "metric_from": alignment.get("metric_from"), "scale_uncertainty": alignment.get("scale_uncertainty"),
            "video": video}


# scoring -------------------------------------------------------------------------------------------
def score(scene, result, gt: dict, world_from_truth: np.ndarray, truth_scale: float) -> dict:
    """Objects, robot and support of the assembled scene against ground truth mapped into its world frame."""
    from scipy.optimize import linear_sum_assignment

    from gwm.scene.autoscene import PANDA_REACH_M
    from sim_tasks.workspace import Workspace

    rot = world_from_truth[:3, :3] / truth_scale
    truths = []
    for t in truth_objects(gt):
        m = world_from_truth @ t["world_from_body"]
        r_body = m[:3, :3] / truth_scale  # true body axes in the scene's world
        lo, hi = t["lo"] * truth_scale, t["hi"] * truth_scale
        truths.append({"name": t["name"], "role": t["role"], "rot": r_body, "origin": m[:3, 3], "lo": lo, "hi": hi,
                       "center": m[:3, 3] + r_body @ ((lo + hi) / 2), "size": hi - lo})
    found = []
    for obj in scene.objects:
        m = obj.world_from_body.numpy()
        found.append({"name": obj.name, "role": obj.role, "hull": obj.collision_vertices.astype(np.float64) @ m[:3, :3].T + m[:3, 3]})
    cost = np.array([[np.linalg.norm(f["hull"].mean(0)[:2] - t["center"][:2]) for f in found] for t in truths])
    rows, cols = linear_sum_assignment(cost) if len(found) and len(truths) else (np.zeros(0, int), np.zeros(0, int))
    pairs = [(r, c) for r, c in zip(rows, cols) if cost[r, c] <= MATCH_RADIUS_M]
    workspace = Workspace(scene)
    base = scene.robot_base.numpy()
    objects = []
    for r, c in pairs:
        t, f = truths[r], found[c]
        local = (f["hull"] - t["origin"]) @ t["rot"]  # hull in the true body frame
        lo, hi = local.min(0), local.max(0)
        centre = t["origin"] + t["rot"] @ ((lo + hi) / 2)
        dist = float(np.linalg.norm(centre[:2] - base[:2, 3]))
        objects.append({"truth": t["name"], "found": f["name"], "role_true": t["role"], "role_found": f["role"],
                        "centre_err_m": float(np.linalg.norm(centre - t["center"])),
                        "extent_err_m": ((hi - lo) - t["size"]).tolist(), "size_true_m": t["size"].tolist(),
                        "robot_distance_m": dist, "in_reach": dist <= PANDA_REACH_M,
                        "in_task_workspace": bool(workspace.in_reach(centre[:2]))})
    matched_t = {r for r, _ in pairs}
    matched_f = {c for _, c in pairs}
    table = gt["table"]
    t_centre = world_from_truth @ np.array([*(np.add(table["extent_xy"]["min"], table["extent_xy"]["max"]) / 2),
                                            table["top_z"], 1.0])
    t_size = np.asarray(table["size"][:2]) * truth_scale
    plane_z = float(scene.metadata["plane"]["point"][2])
    # the true table top's height in the scene's world, under the support's centre
    t_normal = rot @ np.array([0.0, 0.0, 1.0])
    sc = np.asarray(result.support.center)
    t_height = t_centre[2] - (t_normal[:2] @ (sc - t_centre[:2])) / t_normal[2]
    size_found = np.sort(result.support.size)[::-1]
    return {
        "objects": objects,
        "present": len(truths), "found": len(found),
        "missed": [truths[i]["name"] for i in range(len(truths)) if i not in matched_t],
        "invented": [found[i]["name"] for i in range(len(found)) if i not in matched_f],
        "support": {"height_err_m": plane_z - float(t_height),
                    "centre_err_m": float(np.linalg.norm(sc - t_centre[:2])),
                    "size_err_m": (size_found - np.sort(t_size)[::-1]).tolist(),
                    "size_true_m": np.sort(t_size)[::-1].tolist()},
        "truths": truths,
    }


def settle(usd: Path, seconds: float = 1.0, fps: float = 30.0) -> dict:
    """How far each object moves and turns (its largest over the time) when the scene is simulated untouched."""
    from sim_tasks.newton_twin import NewtonTwin

    twin = NewtonTwin(usd, fps=fps)
    start = twin.body_poses()
    moved, turned = np.zeros(len(start)), np.zeros(len(start))
    for _ in range(int(round(seconds * fps))):
        twin.step(np.zeros((len(start), 6)))
        now = twin.body_poses()
        moved = np.maximum(moved, 1000 * np.linalg.norm(now[:, :3] - start[:, :3], axis=1))
        dot = np.clip(np.abs((now[:, 3:] * start[:, 3:]).sum(1)), 0.0, 1.0)
        turned = np.maximum(turned, np.degrees(2 * np.arccos(dot)))
    return {n: {"moved_mm": float(m), "turned_deg": float(t)} for n, m, t in zip(twin.body_names, moved, turned)}


def passed(frame: dict, s: dict) -> dict:
    obj_ok = [o["centre_err_m"] <= CENTRE_TOL_M and max(abs(e) for e in o["extent_err_m"]) <= EXTENT_TOL_M
              for o in s["objects"]]
    return {"scale": abs(frame["scale_error_pct"]) < SCALE_TOL_PCT.get(frame["metric_from"], SCALE_TOL_PCT["other"]),
            "up": frame["up_error_deg"] < UP_TOL_DEG, "pose_median": frame["camera_residual_cm_median"] < POSE_TOL_CM,
            "found_equals_present": not s["missed"] and not s["invented"], "objects_within_tolerance": all(obj_ok),
            "roles": all(o["role_found"] == o["role_true"] for o in s["objects"]),
            "robot_reaches_all": all(o["in_reach"] for o in s["objects"]) and not s["missed"],
            "objects_rest": all(r["moved_mm"] < REST_TOL_MM and r["turned_deg"] < REST_TOL_DEG
                                for r in s.get("rest", {}).values())}


def worst(s: dict) -> dict:
    """The largest centre error and the largest extent error (absolute, any axis) over the matched objects, m."""
    return {"centre_err_m": max((o["centre_err_m"] for o in s["objects"]), default=float("nan")),
            "extent_err_m": max((max(abs(e) for e in o["extent_err_m"]) for o in s["objects"]), default=float("nan"))}


def print_report(sample: str, frame: dict, s: dict, seconds: float) -> None:
    print(f"\n== {sample}: capture frame vs reference poses (robust similarity over {frame['cameras']} cameras, "
          f"{frame['outlier_cameras']} outliers)")
    unc = frame["scale_uncertainty"]
    print(f"   metric from {frame['metric_from']}" + ("" if unc is None else f" (reported +-{100 * unc:.2f} %)") +
          f"; scale error {frame['scale_error_pct']:+.3f} %, up error {frame['up_error_deg']:.3f} deg, "
          f"camera residual median {frame['camera_residual_cm_median']:.3f} cm / "
          f"{frame['camera_rotation_deg_median']:.3f} deg")
    sup = s["support"]
    print(f"== support: height error {sup['height_err_m'] * 1000:+.1f} mm, centre error "
          f"{sup['centre_err_m'] * 1000:.1f} mm, size error {np.round(np.asarray(sup['size_err_m']) * 1000, 1).tolist()} "
          f"mm (true {np.round(sup['size_true_m'], 3).tolist()} m)")
    print(f"== objects: {s['found']} found, {s['present']} present, missed {s['missed'] or 'none'}, "
          f"invented {s['invented'] or 'none'}")
    head = (f"{'truth':<12}{'found':<10}{'centre err mm':>14}{'extent err mm (x, y, z)':>28}{'robot m':>9}"
            f"{'reach':>7}{'task ws':>8}{'role (true)':>22}  ok")
    print(head + "\n" + "-" * len(head))
    for o in s["objects"]:
        e = np.asarray(o["extent_err_m"]) * 1000
        ok = o["centre_err_m"] <= CENTRE_TOL_M and np.abs(e).max() <= EXTENT_TOL_M * 1000
        role = f"{o['role_found']} ({o['role_true']})"
        print(f"{o['truth']:<12}{o['found']:<10}{o['centre_err_m'] * 1000:>14.1f}"
              f"{'[' + ', '.join(f'{x:+.1f}' for x in e) + ']':>28}{o['robot_distance_m']:>9.2f}"
              f"{'yes' if o['in_reach'] else 'NO':>7}{'yes' if o['in_task_workspace'] else 'no':>8}{role:>22}  "
              f"{'yes' if ok else 'NO'}")
    for name, r in s.get("rest", {}).items():
        print(f"rest {name}: moved {r['moved_mm']:.1f} mm, turned {r['turned_deg']:.1f} deg in 1 s untouched")
    p = passed(frame, s)
    w = worst(s)
    print(f"worst centre error {w['centre_err_m'] * 1000:.1f} mm, worst extent error {w['extent_err_m'] * 1000:.1f} mm")
    print(f"targets: scale ({frame['metric_from']}) {'PASS' if p['scale'] else 'FAIL'}; up {'PASS' if p['up'] else 'FAIL'}; "
          f"median pose {'PASS' if p['pose_median'] else 'FAIL'}; found = present {'PASS' if p['found_equals_present'] else 'FAIL'}; centres <= "
          f"{CENTRE_TOL_M * 1000:.0f} mm and extents <= {EXTENT_TOL_M * 1000:.0f} mm "
          f"{'PASS' if p['objects_within_tolerance'] else 'FAIL'}; robot reaches every object "
          f"{'PASS' if p['robot_reaches_all'] else 'FAIL'}; roles (container by shape) {'PASS' if p['roles'] else 'FAIL'}; "
          f"objects rest (< {REST_TOL_MM:g} mm, < {REST_TOL_DEG:g} deg) {'PASS' if p['objects_rest'] else 'FAIL'}"
          f"   (scene init + assembly {seconds:.0f} s)")


def plot(scene, result, s: dict, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.spatial import ConvexHull

    fig, ax = plt.subplots(figsize=(8, 6.5), dpi=120)
    bg = scene.background.means.numpy()
    z0 = float(scene.metadata["plane"]["point"][2])
    near = (np.abs(bg[:, 2] - z0) < 0.3) & (scene.background.opacities.numpy() > 0.3)
    sel = np.flatnonzero(near)[:: max(1, near.sum() // 30000)]
    ax.scatter(bg[sel, 0], bg[sel, 1], s=0.4, c=scene.background.rgb_dc.numpy()[sel], alpha=0.6, linewidths=0)
    sup = np.append(result.support.corners(), result.support.corners()[:1], 0)
    ax.plot(sup[:, 0], sup[:, 1], "k-", lw=1.2, label="support (found)")
    for obj in scene.objects:
        m = obj.world_from_body.numpy()
        hull = obj.collision_vertices.astype(np.float64) @ m[:3, :3].T + m[:3, 3]
        h = ConvexHull(hull[:, :2])
        ring = np.append(h.vertices, h.vertices[0])
        ax.plot(hull[ring, 0], hull[ring, 1], "b-", lw=1.2)
        ax.annotate(obj.name, (m[0, 3], m[1, 3]), fontsize=7, color="b", ha="center")
    for t in s["truths"]:
        c = np.array([[t["lo"][0], t["lo"][1]], [t["hi"][0], t["lo"][1]], [t["hi"][0], t["hi"][1]],
                      [t["lo"][0], t["hi"][1]], [t["lo"][0], t["lo"][1]]])
        w = c @ t["rot"][:2, :2].T + t["origin"][:2]
        ax.plot(w[:, 0], w[:, 1], "r--", lw=1)
        ax.annotate(t["name"], (t["center"][0], t["center"][1] - 0.02), fontsize=7, color="r", ha="center", va="top")
    base = scene.robot_base.numpy()
    ax.add_patch(plt.Circle(base[:2, 3], 0.855, fill=False, ls=":", color="gray"))
    ax.plot(base[0, 3], base[1, 3], "ks", ms=8)
    ax.plot([], [], "b-", label="hulls (found)")
    ax.plot([], [], "r--", label="true boxes")
    ax.set_aspect("equal")
    pad = 0.15
    ax.set_xlim(sup[:, 0].min() - pad, sup[:, 0].max() + pad)
    ax.set_ylim(min(sup[:, 1].min(), base[1, 3]) - pad, max(sup[:, 1].max(), base[1, 3]) + pad)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


# inputs ----------------------------------------------------------------------------------------
def make_inputs(sample: Path, kind: str, out: Path, marker_size_m: float) -> tuple[Path, Path]:
    """Capture and reconstruct the sample's images or video into out as the pipeline does: its capture and
    reconstruction settings (pipelines.stages, the sample's preset if it has one), metric from the printed
    marker of the given side, no reference poses."""
    from gwm.capture import run_capture
    from gwm.reconstruct import reconstruct
    from pipelines.config import PRESETS, resolve_config
    from pipelines.stages import capture_settings, reconstruct_settings

    gt = json.loads((sample / "ground_truth.json").read_text())
    src = sample / "images" if kind == "images" else sample / gt["video"]["file_path"]
    preset = sample.name if sample.name in PRESETS else "capture"
    cfg = resolve_config(preset, {"capture_input": str(src), "marker_size_m": marker_size_m, "out_root": str(out)})
    capture, recon = out / "capture", out / "reconstruct"
    if not (capture / "transforms.json").is_file():
        print(run_capture(src, capture, capture_settings(cfg)["capture"], overwrite=True).summary(), flush=True)
    if not (recon / "splat.ply").is_file():
        reconstruct(capture, recon, reconstruct_settings(cfg)["reconstruct"])
    return capture, recon / "splat.ply"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sample", nargs="?", type=Path, default=ROOT / "datasets" / "kitchen",
                    help="sample folder with ground_truth.json")
    ap.add_argument("--capture", type=Path, help="capture folder (default datasets/outputs/<sample>/capture)")
    ap.add_argument("--splat", type=Path, help="splat PLY (default datasets/outputs/<sample>/reconstruct/splat.ply)")
    ap.add_argument("--make-inputs", choices=("images", "video"),
                    help="capture + reconstruct the sample into OUT first")
    ap.add_argument("--marker-size", type=float,
                    help="--make-inputs: side (m) of the printed marker (default: the sample's ground truth)")
    ap.add_argument("--out", type=Path, help="output folder (default datasets/outputs/bench_scene/<sample>)")
    args = ap.parse_args(argv)

    from gwm.scene.autoscene import init_scene
    from gwm.scene.config import SceneConfigError

    sample = args.sample
    gt_path = sample / "ground_truth.json"
    if not gt_path.is_file():
        print(f"error: {gt_path} not found; give a sample folder with ground_truth.json", file=sys.stderr)
        return 2
    out = args.out or ROOT / "datasets" / "outputs" / "bench_scene" / sample.name
    out.mkdir(parents=True, exist_ok=True)
    if args.make_inputs:
        marker = args.marker_size or json.loads(gt_path.read_text()).get("marker", {}).get("side_m")
        if not marker:
            print(f"error: {gt_path} names no marker; pass --marker-size", file=sys.stderr)
            return 2
        capture, splat = make_inputs(sample, args.make_inputs, out / args.make_inputs, marker)
    else:
        capture = args.capture or ROOT / "datasets" / "outputs" / sample.name / "capture"
        splat = args.splat or ROOT / "datasets" / "outputs" / sample.name / "reconstruct" / "splat.ply"
    for p in (capture / "transforms.json", splat):
        if not p.is_file():
            print(f"error: {p} not found; run the pipeline on {sample}, pass --capture/--splat, or --make-inputs "
                  "images|video", file=sys.stderr)
            return 2
    gt = json.loads(gt_path.read_text())
    frame = align_capture(capture, gt_path)
    print(f"sample {sample}\ncapture {capture}\nsplat {splat}")

    t0 = time.perf_counter()
    try:
        result = init_scene(splat, capture, out / "scene.toml", overwrite=True, progress=False)
    except SceneConfigError as e:
        print(f"error: scene init failed: {e}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - t0
    scene = result.scene
    print(result.summary())
    # truth -> capture (inverse of the alignment) -> scene world (the scene's levelling)
    sim = frame["similarity"]
    capture_from_truth = np.linalg.inv(sim.matrix())
    world_from_truth = np.asarray(scene.metadata["normalisation"]) @ capture_from_truth
    s = score(scene, result, gt, world_from_truth, 1.0 / sim.scale)
    from exporters.usd import export_usd

    usd = export_usd(scene, out / "scene.usdz")  # as the pipeline's scene stage writes it (rollouts run on it)
    s["rest"] = settle(usd)
    print_report(sample.name, frame, s, seconds)
    png = plot(scene, result, s, out / "scene_benchmark.png",
               f"{sample.name}: scene init + assembly, no masks (hulls blue, truth red)")
    report = {"sample": str(sample), "capture": str(capture), "splat": str(splat), "seconds": seconds,
              "frame": {k: v for k, v in frame.items() if k != "similarity"},
              **{k: v for k, v in s.items() if k != "truths"}, "worst": worst(s), "usd": str(usd),
              "targets": passed(frame, s)}
    (out / "scene_benchmark.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    print(f"wrote {png}, {out / 'scene_benchmark.json'}, {result.scene_file}, {result.preview}")
    return 0 if all(passed(frame, s).values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())

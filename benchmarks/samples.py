"""The bundled sample captures as data: marker visibility, texture, blur and AR pose noise.

    python benchmarks/samples.py [kitchen workbench]

Per sample (datasets/<name>): how often cv2.aruco finds the printed marker in the stills and in
the video frames, how far its detected corners are from the ground-truth corners projected
through the ground-truth cameras (sharp stills; sub-pixel corner refinement), SIFT keypoints per
still (OpenCV defaults), sharpness (variance of the Laplacian) of the blurred stills against
their sharp ring neighbours, the phone AR export's pose error against ground truth, and the
sample's size on disk. Reads ground truth: a benchmark, not a pipeline stage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def detector(marker: dict, refine: bool):
    import cv2

    params = cv2.aruco.DetectorParameters()
    if refine:
        params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    return cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, marker["dictionary"])), params)


def detect(det, gray: np.ndarray, marker_id: int) -> np.ndarray | None:
    """(4, 2) corners of the marker with this id (cv2.aruco order), or None."""
    corners, ids, _ = det.detectMarkers(gray)
    if ids is None:
        return None
    hits = [c.reshape(4, 2) for c, i in zip(corners, np.asarray(ids).ravel()) if i == marker_id]
    return hits[0] if hits else None


def project(K: np.ndarray, world_from_cam: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pixel coordinates (COLMAP convention) of world points: OpenCV camera, K, no distortion."""
    cam_from_world = np.linalg.inv(world_from_cam)
    p = points @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    uv = p @ K.T
    return uv[:, :2] / uv[:, 2:]


def laplacian_variance(gray: np.ndarray) -> float:
    import cv2

    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def measure(root: Path) -> dict:
    import cv2
    import imageio.v2 as imageio

    gt = json.loads((root / "ground_truth.json").read_text())
    K = np.asarray(gt["camera"]["K"])
    marker = gt["marker"]
    corners_world = np.asarray(marker["corners_world"])
    det, det_refined = detector(marker, refine=False), detector(marker, refine=True)
    sift = cv2.SIFT_create()
    found, errors, features, sharpness = 0, [], [], {}
    for f in gt["frames"]:
        gray = cv2.imread(str(root / f["file_path"]), cv2.IMREAD_GRAYSCALE)
        features.append(len(sift.detect(gray)))
        sharpness[f["file_path"]] = laplacian_variance(gray)
        found += detect(det, gray, marker["id"]) is not None
        c = detect(det_refined, gray, marker["id"])
        if c is not None and not f.get("blurred", False):  # a shaken exposure smears the corners
            # cv2 puts pixel centres at integers; the ground truth's K at i + 0.5 (COLMAP): shift by half a pixel
            errors.append(np.linalg.norm(c + 0.5 - project(K, np.asarray(f["world_from_cam"]), corners_world), axis=1).max())
    video_found = sum(detect(det, cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), marker["id"]) is not None
                      for frame in imageio.get_reader(root / gt["video"]["file_path"]))
    blur = []
    frames = gt["frames"]
    for name in gt["blurred_stills"]:
        i = next(k for k, f in enumerate(frames) if f["file_path"] == name)
        neighbours = [frames[k]["file_path"] for k in (i - 1, i + 1)
                      if 0 <= k < len(frames) and frames[k]["group"] == frames[i]["group"] and not frames[k]["blurred"]]
        blur.append((name, sharpness[name], min(sharpness[n] for n in neighbours)))
    out = {
        "stills": len(frames),
        "marker": f"{marker['dictionary']} id {marker['id']}, {marker['side_m'] * 100:g} cm",
        "marker_found_stills": found / len(frames),
        "marker_found_video": video_found / gt["video"]["num_frames"],
        "corner_error_px": {"median": float(np.median(errors)), "p90": float(np.percentile(errors, 90)),
                            "max": float(np.max(errors))} if errors else None,
        "sift_per_still": {"median": float(np.median(features)), "min": int(np.min(features))},
        "blurred_stills": [{"still": n, "laplacian_var": round(v, 1), "sharpest_neighbour_min": round(m, 1)}
                           for n, v, m in blur],
        "megabytes": sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts) / 1e6,
    }
    if "ar_export" in gt:
        ar = gt["ar_export"]
        tf = json.loads((root / ar["folder"] / "transforms.json").read_text())
        world_from_arkit = np.asarray(ar["world_from_arkit"])
        t_err, r_err = [], []
        for f, ref in zip(tf["frames"], ar["frames"]):
            est = world_from_arkit @ np.asarray(f["transform_matrix"]) @ np.diag([1.0, -1.0, -1.0, 1.0])
            true = np.asarray(ref["world_from_cam"])
            t_err.append(np.linalg.norm(est[:3, 3] - true[:3, 3]) * 100)
            r_err.append(np.degrees(np.arccos(np.clip((np.trace(est[:3, :3] @ true[:3, :3].T) - 1) / 2, -1, 1))))
        out["ar_export"] = {"frames": len(tf["frames"]), "translation_error_cm": {"median": float(np.median(t_err)),
                                                                                  "max": float(np.max(t_err))},
                            "rotation_error_deg": {"median": float(np.median(r_err)), "max": float(np.max(r_err))}}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("samples", nargs="*", default=["kitchen", "workbench"])
    args = ap.parse_args(argv)
    for name in args.samples:
        root = ROOT / "datasets" / name
        if not (root / "ground_truth.json").is_file():
            print(f"error: {root} has no ground_truth.json; run `python datasets/generator/generate.py {name}`",
                  file=sys.stderr)
            return 2
        print(name, json.dumps(measure(root), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

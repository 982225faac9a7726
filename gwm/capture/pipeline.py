"""`run_capture`: video / image folder / COLMAP model / nerfstudio dataset -> a nerfstudio
dataset (images/, transforms.json, sparse_pc.ply) in a metric (when it can be), Z-up frame.

Output folder (written under a temporary name and renamed at the end, so a folder with
this name is always complete):
    images/               the frames SfM used (PNG for video frames)
    transforms.json       nerfstudio format + normalisation + gwm block (written last)
    sparse_pc.ply         SfM points in the output frame
    capture_report.json   CaptureResult as JSON: every frame's sharpness verdict, every camera's
                          checks (outliers and why), the frame's cues with their uncertainties and
                          per-camera / per-view residuals, the fingerprint
    colmap/sparse/0/      the raw COLMAP model, in SfM's own frame (video / image input; outliers included)

Stages: frames (blurred ones dropped, relative to the capture) -> SfM (repeatable: same input and
settings, same cameras) -> inconsistent cameras left out (outliers.py) -> output frame and
metric scale from the configured cues (alignment.py) -> files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gwm.capture.alignment import MetricInput, choose_output_frame, load_reference_poses
from gwm.capture.config import CAPTURE_FORMAT_VERSION, CaptureConfig, CaptureError
from gwm.capture.frames import IMAGE_SUFFIXES, VIDEO_SUFFIXES, list_images, select_folder_images, select_video_frames
from gwm.capture.nerfstudio import read_sparse_ply, read_transforms_cameras, write_sparse_ply, write_transforms
from gwm.atomic_io import atomic_dir, write_json_atomic
from gwm.capture.outliers import check_cameras
from gwm.capture.sfm import SfmModel, load_colmap_model, model_from_reconstruction, run_sfm
from gwm.metrics.poses import pose_errors


@dataclass
class CaptureResult:
    output_dir: Path
    source: str  # "video" | "images" | "colmap" | "nerfstudio"
    num_frames: int  # frames given to SfM (or listed by the input model)
    num_registered: int  # cameras written to transforms.json (registered, outliers left out)
    mean_reprojection_error_px: float | None
    num_points: int
    normalisation: list  # 4x4 world_from_sfm similarity (scale included)
    alignment: dict  # how the frame was chosen: method, metric, metric_from, scale_uncertainty, up_from, frame_from, ...
    seconds: float
    selection: dict | None = None  # frame selection details (video / images), with every frame's sharpness verdict
    pose_error: dict | None = None  # vs reference poses after robust similarity alignment, when given
    timings: dict = field(default_factory=dict)
    cameras: list = field(default_factory=list)  # per SfM-registered camera: checks, outlier, reasons
    outliers: dict = field(default_factory=dict)  # name -> why it was left out
    fingerprint: str = ""  # hash of the registered names, poses (1e-6) and point count: equal runs, equal hash
    sfm: dict = field(default_factory=dict)  # how SfM ran (the focal length prior it started from)

    @property
    def registered_fraction(self) -> float:
        return self.num_registered / max(self.num_frames, 1)

    @property
    def metric(self) -> dict:
        """Whether the result is in metres, from which cue, how sure, and where up and the frame came from."""
        a = self.alignment
        return {"metric": bool(a.get("metric")), "metric_from": a.get("metric_from"),
                "scale_uncertainty": a.get("scale_uncertainty"), "up_from": a.get("up_from"),
                "frame_from": a.get("frame_from")}

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["output_dir"] = str(self.output_dir)
        d["metric"] = self.metric
        return d

    def summary(self) -> str:
        err = "n/a" if self.mean_reprojection_error_px is None else f"{self.mean_reprojection_error_px:.3f} px"
        m = self.metric
        if m["metric"]:
            unc = m["scale_uncertainty"]
            scale = f"metric from {m['metric_from']}" + ("" if unc is None else f" (+-{100 * unc:.2f}%)")
        else:
            scale = "NOT metric (SfM units)"
        dropped = len(self.selection.get("dropped_blurred", [])) if self.selection else 0
        lines = [
            f"capture ({self.source}) -> {self.output_dir}",
            f"  registered {self.num_registered}/{self.num_frames} frames ({dropped} dropped as blurred, "
            f"{len(self.outliers)} outlier cameras left out), {self.num_points} points, mean reprojection error {err}",
            f"  frame: {scale}; up from {m['up_from']}; {m['frame_from']}; {self.seconds:.1f} s",
            f"  fingerprint {self.fingerprint} (equal for runs that give the same cameras)",
        ]
        for name, why in self.outliers.items():
            lines.append(f"  left out {name}: {why}")
        for w in self.alignment.get("warnings", []):
            lines.append(f"  warning: {w}")
        if self.pose_error:
            p = self.pose_error
            lines.append(f"  pose error vs reference ({p['num_cameras']} cameras, after robust similarity alignment): "
                         f"translation median {p['translation_cm_median']:.3f} cm / max {p['translation_cm_max']:.3f} cm, "
                         f"rotation median {p['rotation_deg_median']:.3f} deg / max {p['rotation_deg_max']:.3f} deg")
        return "\n".join(lines)


def capture_fingerprint(names: list[str], world_from_cam: np.ndarray, num_points: int) -> str:
    """Short hash of what a capture recovered: registered names, poses (camera centres rounded to
    1e-6 output units, rotation vectors to 1e-6 rad) and the point count."""
    import hashlib

    from scipy.spatial.transform import Rotation

    poses = np.asarray(world_from_cam, dtype=np.float64).reshape(-1, 4, 4)
    rotvecs = Rotation.from_matrix(poses[:, :3, :3]).as_rotvec() if len(poses) else np.zeros((0, 3))
    rows = [[name, *(np.round(m[:3, 3], 6) + 0.0).tolist(), *(np.round(r, 6) + 0.0).tolist()]  # + 0.0: no -0.0
            for name, m, r in zip(names, poses, rotvecs)]
    text = json.dumps({"cameras": rows, "points": int(num_points)}, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def detect_input(path: Path) -> tuple[str, Path]:
    """("video" | "images" | "colmap" | "nerfstudio", path to use)."""
    if not path.exists():
        raise CaptureError(f"{path}: no such file or folder; check the INPUT path")
    if path.is_file():
        if path.name.endswith(".json"):
            return "nerfstudio", path
        if path.suffix.lower() in IMAGE_SUFFIXES:
            raise CaptureError(f"{path}: a single image cannot be reconstructed; pass the folder holding the images")
        return "video", path  # ffmpeg decides whether it can read it
    if (path / "transforms.json").is_file():
        return "nerfstudio", path / "transforms.json"
    for model in (path, path / "sparse" / "0", path / "sparse"):
        if (model / "cameras.bin").is_file() or (model / "cameras.txt").is_file():
            return "colmap", model
    if list_images(path):
        return "images", path
    videos = [p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES]
    hint = f" (it holds videos: pass one, e.g. {videos[0]})" if videos else ""
    raise CaptureError(f"{path}: no images, transforms.json or COLMAP model found{hint}; pass a video, an image "
                       "folder, a COLMAP model folder or a nerfstudio dataset")


def _colmap_images_dir(model_dir: Path) -> Path:
    for cand in (model_dir / "images", model_dir.parent / "images", model_dir.parent.parent / "images"):
        if cand.is_dir():
            return cand
    raise CaptureError(f"{model_dir}: no images/ folder next to the COLMAP model; pass images_dir "
                       "(--colmap-images) pointing at the images the model was built from")


def _check_output_free(out: Path, overwrite: bool) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise CaptureError(f"{out} already exists and is not empty; choose another OUT or pass --overwrite")


def _cue_frames(config: CaptureConfig) -> tuple[str, ...]:
    """Frames a scale cue names: frame selection keeps them."""
    return tuple(sorted({v.frame for v in config.known_length.views})) if config.known_length else ()


def _video_indices(names: tuple[str, ...]) -> tuple[int, ...]:
    out = []
    for n in names:
        m = re.fullmatch(r"frame_(\d+)\.png", n)
        if m is None:
            raise CaptureError(f"known length: {n!r} is not a video frame name; for a video write frame_<index>.png "
                               "with the frame's index in the video, e.g. frame_00012.png")
        out.append(int(m.group(1)))
    return tuple(out)


def run_capture(input_path: str | os.PathLike, output_dir: str | os.PathLike, config: CaptureConfig = CaptureConfig(),
                *, reference: str | os.PathLike | dict | None = None, images_dir: str | os.PathLike | None = None,
                overwrite: bool = False, progress: bool = True) -> CaptureResult:
    """Run the capture stage; see the module docstring for the output layout.

    reference: known camera poses for alignment (and evaluation): the sample's
    ground_truth.json, a transforms.json, or {image name: world_from_cam (4,4) OpenCV}.
    Benchmarks and tests only: a user's capture gets its metric frame from the config's cues.
    images_dir: images of a COLMAP model input (default: an images/ folder beside it).
    Raises CaptureError naming the problem and the fix; leaves no partial output folder.
    """
    t0 = time.perf_counter()
    src = Path(input_path)
    out = Path(output_dir)
    kind, src = detect_input(src)
    if config.metric_input and kind != "nerfstudio":
        raise CaptureError(f"--metric-input applies to a nerfstudio dataset (a phone AR export); {src} is a {kind} "
                           "input: pass the export's transforms.json or folder, or drop --metric-input")
    _check_output_free(out, overwrite)
    timings: dict[str, float] = {}
    with atomic_dir(out) as tmp:
        images_out = tmp / "images"
        images_out.mkdir()
        selection = None
        sequential = False
        prior = np.eye(4)  # transform already applied to the input's poses (nerfstudio input)
        metric_input = None  # the input's poses are metric (a phone export, a metric gwm capture)
        phone = None  # metric phone poses of frames SfM re-posed
        keep = _cue_frames(config)
        if kind == "nerfstudio":
            model, prior, metric_input = _ingest_nerfstudio(src, images_out, config)
            if config.rerun_sfm:
                if metric_input is not None and metric_input.cue == "phone_poses":
                    phone = dict(zip(model.image_names, model.world_from_cam))
                metric_input, prior = None, np.eye(4)
                staged = tmp / "input_images"
                images_out.rename(staged)
                images_out.mkdir()
                kind_for_sfm, sfm_src = "images", staged
        else:
            kind_for_sfm, sfm_src = kind, src
        if kind in ("video", "images") or (kind == "nerfstudio" and config.rerun_sfm):
            t = time.perf_counter()
            if kind_for_sfm == "video":
                selection = select_video_frames(sfm_src, images_out, config, progress, keep_indices=_video_indices(keep))
            else:
                selection = select_folder_images(sfm_src, images_out, config, progress, keep_names=keep)
            if kind == "nerfstudio":
                shutil.rmtree(sfm_src)
            timings["frames_s"] = time.perf_counter() - t
            t = time.perf_counter()
            n = len(selection.names)
            sequential = config.matcher == "sequential" or (
                config.matcher == "auto" and (kind == "video" or n > config.exhaustive_max_images))
            model, _ = run_sfm(images_out, tmp / "colmap", selection.names, config, sequential, progress, timings)
            timings["sfm_s"] = time.perf_counter() - t
        elif kind == "colmap":
            rec = load_colmap_model(src)
            model = model_from_reconstruction(rec)
            img_src = Path(images_dir) if images_dir is not None else _colmap_images_dir(src)
            missing = [n for n in model.image_names if not (img_src / n).is_file()]
            if missing:
                raise CaptureError(f"{img_src}: {len(missing)} of {model.num_registered} images of the COLMAP model are "
                                   f"missing (e.g. {missing[:3]}); pass the images folder the model was built from")
            for name in model.image_names:
                (images_out / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(img_src / name, images_out / name)
            shutil.copytree(src, tmp / "colmap" / "sparse" / "0")

        _check_registered(model, model.num_registered, config, sequential)
        t = time.perf_counter()
        cameras = check_cameras(model)
        outliers = {}
        if config.drop_outlier_cameras:
            outliers = {c["name"]: "; ".join(c["reasons"]) for c in cameras if c["outlier"]}
            model = model.without_images(set(outliers))
        ref_poses = _reference_poses(reference, video=kind == "video")
        frame = choose_output_frame(model, config, images_out, reference=ref_poses, phone=phone, metric_input=metric_input)
        if frame.rejected and config.drop_outlier_cameras:
            outliers.update(frame.rejected)
            model = model.without_images(set(frame.rejected))
            frame = choose_output_frame(model, config, images_out, reference=ref_poses, phone=phone,
                                        metric_input=metric_input)
        for c in cameras:
            c["outlier"] = c["name"] in outliers
            if c["name"] in frame.rejected:
                c["reasons"].append(frame.rejected[c["name"]])
        _check_registered(model, model.num_registered, config, sequential, left_out=len(outliers))
        timings["alignment_s"] = time.perf_counter() - t
        sim, alignment = frame.similarity, frame.info
        poses = sim.apply_poses(model.world_from_cam)
        points = sim.apply_points(model.points) if len(model.points) else model.points
        normalisation = sim.matrix() @ prior

        pose_error = None
        if ref_poses is not None:
            common = [i for i, n in enumerate(model.image_names) if n in ref_poses]
            ref = np.stack([ref_poses[model.image_names[i]] for i in common])
            pose_error = pose_errors(poses[common], ref, align="robust").summary()

        fingerprint = capture_fingerprint(model.image_names, poses, len(points))
        result = CaptureResult(
            output_dir=out, source=kind, num_frames=model.num_input_images, num_registered=model.num_registered,
            mean_reprojection_error_px=model.mean_reprojection_error, num_points=int(len(points)),
            normalisation=normalisation.tolist(), alignment=alignment, seconds=0.0,
            selection=selection.to_json() if selection else None, pose_error=pose_error, timings=timings,
            cameras=cameras, outliers=outliers, fingerprint=fingerprint, sfm=model.info,
        )
        result.seconds = time.perf_counter() - t0
        metric = result.metric
        gwm_meta = {"format": "gwm.capture", "format_version": CAPTURE_FORMAT_VERSION, "config": config.to_dict(),
                    "source": {"kind": kind, "path": str(src)}, "alignment": _without_rows(alignment),
                    "scale_is_metric": metric["metric"], "metric_from": metric["metric_from"],
                    "scale_uncertainty": metric["scale_uncertainty"], "up_from": metric["up_from"],
                    "frame_from": metric["frame_from"], "units": "metres" if metric["metric"] else "sfm units",
                    "up_axis": "+z" if not str(metric["up_from"]).startswith("none") else "sfm",
                    "outlier_cameras": outliers, "fingerprint": fingerprint}
        write_sparse_ply(tmp / "sparse_pc.ply", points, model.colors)
        write_json_atomic(tmp / "capture_report.json", {"format": "gwm.capture.report", "format_version": CAPTURE_FORMAT_VERSION,
                                                        "config": config.to_dict(), **result.to_json()}, indent=2)
        write_transforms(tmp / "transforms.json", model.image_names, poses, model.K, model.width, model.height,
                         model.distortion, normalisation, gwm_meta, model.colmap_image_ids)
        return result  # leaving the block swaps the finished folder into place


def _check_registered(model, registered: int, config: CaptureConfig, sequential: bool, left_out: int = 0) -> None:
    if registered < config.min_registered_fraction * model.num_input_images:
        hint = ", or match every pair (--matcher exhaustive)" if sequential else ""
        also = f" after leaving out {left_out} inconsistent camera(s)" if left_out else ""
        raise CaptureError(
            f"SfM registered only {registered}/{model.num_input_images} frames{also} (< "
            f"{config.min_registered_fraction:.0%}); capture with more overlap between neighbouring views, "
            f"slower motion and more texture{hint}"
        )


def _without_rows(alignment: dict) -> dict:
    """The alignment summary for transforms.json: per-camera and per-view rows stay in the report."""
    out = {k: v for k, v in alignment.items() if k != "per_camera"}
    if "cues" in out:
        out["cues"] = {k: {kk: vv for kk, vv in v.items() if kk not in ("per_camera", "per_view")}
                       for k, v in out["cues"].items()}
    return out


def _reference_poses(reference, video: bool) -> dict[str, np.ndarray] | None:
    if reference is None:
        return None
    if isinstance(reference, dict):
        return {k: np.asarray(v, dtype=np.float64) for k, v in reference.items()}
    return load_reference_poses(reference, video=video)


def _ingest_nerfstudio(transforms_path: Path, images_out: Path, config: CaptureConfig
                       ) -> tuple[SfmModel, np.ndarray, MetricInput | None]:
    """A nerfstudio dataset as an SfmModel (poses in its file's frame), its prior normalisation,
    and whether its poses are metric: a phone export the user vouches for (`metric_input`), or a
    gwm capture whose gwm block says so (then gravity-aligned, +z up)."""
    cams, paths, meta = read_transforms_cameras(transforms_path)
    Ks = cams.Ks.double().numpy()
    if np.abs(Ks - Ks[0]).max() > 1e-6:
        raise CaptureError(f"{transforms_path}: frames have different intrinsics; this pipeline uses one shared "
                           "camera: re-run SfM with a single camera")
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise CaptureError(f"{transforms_path}: image file names repeat across folders; rename them to be unique")
    for p in paths:
        shutil.copyfile(p, images_out / p.name)
    ply = transforms_path.parent / meta.get("ply_file_path", "sparse_pc.ply")
    points, colors = read_sparse_ply(ply) if ply.is_file() else (np.zeros((0, 3)), np.zeros((0, 3), np.uint8))
    prior = np.asarray(meta.get("normalisation", meta.get("applied_transform", np.eye(4)[:3])), dtype=np.float64)
    if prior.shape == (3, 4):
        prior = np.vstack([prior, [0, 0, 0, 1]])
    model = SfmModel(
        image_names=names, world_from_cam=cams.world_from_cam.double().numpy(), K=Ks[0],
        distortion={k: float(meta.get(k, 0.0)) for k in ("k1", "k2", "p1", "p2")},
        width=cams.width, height=cams.height, points=points, colors=colors,
        num_input_images=len(names), mean_reprojection_error=None, colmap_image_ids=list(range(1, len(names) + 1)),
    )
    order = np.argsort(names)
    model.image_names = [names[i] for i in order]
    model.world_from_cam = model.world_from_cam[order]
    gwm_block = meta.get("gwm", {})
    if config.metric_input:
        metric = MetricInput("phone_poses", None, config.input_up,
                             "device-reported metres (--metric-input), not checked: --rerun-sfm checks them against SfM")
    elif gwm_block.get("scale_is_metric"):
        up = "+z" if gwm_block.get("up_axis") == "+z" else "none"
        metric = MetricInput("input", gwm_block.get("scale_uncertainty"), up,
                             f"a metric gwm capture (its scale from {gwm_block.get('metric_from', 'unknown')})")
    else:
        metric = None
    return model, prior, metric


def evaluate_capture(output_dir: str | os.PathLike, reference: str | os.PathLike | dict, video: bool | None = None) -> dict:
    """Pose error of a capture's transforms.json against reference poses, after robust similarity alignment."""
    out = Path(output_dir)
    cams, paths, meta = read_transforms_cameras(out)
    if video is None:
        video = meta.get("gwm", {}).get("source", {}).get("kind") == "video"
    ref = _reference_poses(reference, video=video)
    names = [p.name for p in paths]
    common = [i for i, n in enumerate(names) if n in ref]
    if len(common) < 3:
        raise CaptureError(f"{out}: only {len(common)} frames have reference poses; use the reference of this capture")
    est = cams.world_from_cam.double().numpy()[common]
    gt = np.stack([ref[names[i]] for i in common])
    return pose_errors(est, gt, align="robust").summary()


def read_capture_report(output_dir: str | os.PathLike) -> dict:
    return json.loads((Path(output_dir) / "capture_report.json").read_text())

"""Structure from motion with pycolmap 4.x: SIFT features, matching, incremental mapping.

One camera is shared by all frames (CameraMode.SINGLE), OPENCV or PINHOLE. Sequential
matching suits video (neighbouring frames overlap); exhaustive matching suits small,
unordered image sets. The result is a plain numpy `SfmModel` in COLMAP's own frame
(arbitrary scale and orientation); `gwm.capture.alignment` decides the output frame.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gwm.capture.config import CaptureConfig, CaptureError

# COLMAP camera model -> how its params map onto nerfstudio's OPENCV fields.
_PARAM_LAYOUT = {
    "SIMPLE_PINHOLE": ("f", "cx", "cy"),
    "PINHOLE": ("fx", "fy", "cx", "cy"),
    "SIMPLE_RADIAL": ("f", "cx", "cy", "k1"),
    "RADIAL": ("f", "cx", "cy", "k1", "k2"),
    "OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2"),
}


@dataclass
class SfmModel:
    """Registered cameras and sparse points, in the SfM frame; poses are OpenCV world_from_cam."""

    image_names: list[str]  # registered images, sorted by name
    world_from_cam: np.ndarray  # (N, 4, 4)
    K: np.ndarray  # (3, 3), pixel i covers [i, i+1] (principal point W/2 means the image centre)
    distortion: dict  # k1, k2, p1, p2 (OpenCV radial-tangential), zeros for pinhole
    width: int
    height: int
    points: np.ndarray  # (P, 3)
    colors: np.ndarray  # (P, 3) uint8
    num_input_images: int  # images given to SfM (registered or not)
    mean_reprojection_error: float | None  # pixels
    colmap_image_ids: list[int]

    @property
    def num_registered(self) -> int:
        return len(self.image_names)

    def centres(self) -> dict[str, np.ndarray]:
        return {n: self.world_from_cam[i, :3, 3] for i, n in enumerate(self.image_names)}


def _camera_intrinsics(camera) -> tuple[np.ndarray, dict]:
    model = camera.model.name if hasattr(camera.model, "name") else str(camera.model)
    if model not in _PARAM_LAYOUT:
        raise CaptureError(
            f"COLMAP camera model {model} is not supported (need a pinhole model with OpenCV-style "
            "distortion); undistort the model first with `colmap image_undistorter` or re-run SfM with OPENCV"
        )
    p = dict(zip(_PARAM_LAYOUT[model], (float(v) for v in camera.params)))
    fx, fy = p.get("fx", p.get("f")), p.get("fy", p.get("f"))
    K = np.array([[fx, 0.0, p["cx"]], [0.0, fy, p["cy"]], [0.0, 0.0, 1.0]])
    return K, {k: p.get(k, 0.0) for k in ("k1", "k2", "p1", "p2")}


def model_from_reconstruction(rec, num_input_images: int | None = None) -> SfmModel:
    """Numpy view of a pycolmap.Reconstruction with a single shared camera."""
    if rec.num_cameras() != 1:
        raise CaptureError(
            f"the COLMAP model has {rec.num_cameras()} cameras; this pipeline (like nerfstudio's) needs one "
            "camera shared by all images: re-run SfM with a single camera (CameraMode.SINGLE)"
        )
    camera = next(iter(rec.cameras.values()))
    K, dist = _camera_intrinsics(camera)
    regs = sorted((rec.images[i] for i in rec.reg_image_ids()), key=lambda im: im.name)
    if not regs:
        raise CaptureError("the COLMAP model has no registered images; re-run SfM with more overlap between views")
    poses = []
    for im in regs:
        m = np.eye(4)
        m[:3, :] = im.cam_from_world().matrix()
        poses.append(np.linalg.inv(m))
    pts = list(rec.points3D.values())
    xyz = np.array([p.xyz for p in pts], dtype=np.float64).reshape(-1, 3)
    rgb = np.array([p.color for p in pts], dtype=np.uint8).reshape(-1, 3)
    err = float(rec.compute_mean_reprojection_error()) if pts else None
    return SfmModel(
        image_names=[im.name for im in regs],
        world_from_cam=np.stack(poses),
        K=K, distortion=dist, width=int(camera.width), height=int(camera.height),
        points=xyz, colors=rgb,
        num_input_images=num_input_images if num_input_images is not None else rec.num_images(),
        mean_reprojection_error=err,
        colmap_image_ids=[int(im.image_id) for im in regs],
    )


def load_colmap_model(model_dir: str | Path):
    """pycolmap.Reconstruction from a folder with cameras/images/points3D (.bin or .txt)."""
    import pycolmap

    model_dir = Path(model_dir)
    try:
        return pycolmap.Reconstruction(str(model_dir))
    except Exception as e:  # pycolmap raises ValueError/RuntimeError for unreadable models
        raise CaptureError(f"{model_dir}: not a readable COLMAP model ({e}); point at the folder holding "
                           "cameras.bin, images.bin and points3D.bin (e.g. sparse/0)") from e


@contextlib.contextmanager
def _quiet_colmap():
    import pycolmap

    old = pycolmap.logging.minloglevel
    pycolmap.logging.minloglevel = 2  # errors only; our own progress bars report the stages
    try:
        yield
    finally:
        pycolmap.logging.minloglevel = old


def run_sfm(images_dir: Path, work_dir: Path, image_names: list[str], config: CaptureConfig,
            sequential: bool, progress: bool = True) -> tuple[SfmModel, Path]:
    """Features, matching and incremental mapping; returns the largest model and its folder."""
    import pycolmap
    from tqdm.auto import tqdm

    work_dir.mkdir(parents=True, exist_ok=True)
    db = work_dir / "database.db"
    sparse = work_dir / "sparse"
    sparse.mkdir(exist_ok=True)
    pycolmap.set_random_seed(config.seed)

    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = config.camera_model
    if config.focal_length_px is not None:
        import cv2

        h, w = cv2.imread(str(images_dir / image_names[0]), cv2.IMREAD_UNCHANGED).shape[:2]
        f = config.focal_length_px
        extra = ",0,0,0,0" if config.camera_model == "OPENCV" else ""
        reader.camera_params = f"{f},{f},{w / 2},{h / 2}{extra}"
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.sift.max_num_features = config.max_num_features
    extraction.num_threads = config.num_threads
    extraction.use_gpu = False
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = config.num_threads
    matching.use_gpu = False

    bar = tqdm(total=3 + len(image_names), desc="SfM", unit="step", disable=not progress)
    with _quiet_colmap():
        bar.set_postfix_str(f"SIFT on {len(image_names)} images")
        pycolmap.extract_features(db, images_dir, image_names=image_names, camera_mode=pycolmap.CameraMode.SINGLE,
                                  reader_options=reader, extraction_options=extraction, device=pycolmap.Device.cpu)
        bar.update(1)
        bar.set_postfix_str("sequential matching" if sequential else "exhaustive matching")
        if sequential:
            pairing = pycolmap.SequentialPairingOptions()
            pairing.overlap = config.sequential_overlap
            pycolmap.match_sequential(db, matching_options=matching, pairing_options=pairing, device=pycolmap.Device.cpu)
        else:
            pycolmap.match_exhaustive(db, matching_options=matching, device=pycolmap.Device.cpu)
        bar.update(1)
        bar.set_postfix_str("incremental mapping")
        opts = pycolmap.IncrementalPipelineOptions()
        opts.random_seed = config.seed
        opts.num_threads = config.mapping_threads
        opts.min_model_size = 3
        if config.focal_length_px is not None:
            opts.ba_refine_focal_length = False
        models = pycolmap.incremental_mapping(db, images_dir, sparse, options=opts,
                                              next_image_callback=lambda: bar.update(1))
        bar.update(bar.total - bar.n)  # not every image calls back (the initial pair, failures)
    bar.close()
    if not models:
        raise CaptureError(
            f"SfM registered none of the {len(image_names)} frames (no two views matched well enough); "
            "capture with more overlap between neighbouring views, more texture and slower motion"
        )
    best_id = max(models, key=lambda k: models[k].num_reg_images())
    rec = models[best_id]
    # incremental_mapping wrote every model to sparse/<id>; keep the best one as sparse/0.
    best_dir = sparse / str(best_id)
    for d in sparse.iterdir():
        if d.is_dir() and d != best_dir:
            import shutil

            shutil.rmtree(d)
    if best_dir.name != "0":
        best_dir.rename(sparse / "0")
    if not config.keep_database:
        db.unlink(missing_ok=True)
    return model_from_reconstruction(rec, num_input_images=len(image_names)), sparse / "0"

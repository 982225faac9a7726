"""Structure from motion with pycolmap 4.x: SIFT features, matching, incremental mapping.

One camera is shared by all frames (CameraMode.SINGLE), OPENCV or PINHOLE. Sequential
matching suits video (neighbouring frames overlap); exhaustive matching suits small,
unordered image sets. The result is a plain numpy `SfmModel` in COLMAP's own frame
(arbitrary scale and orientation); `gwm.capture.alignment` decides the output frame.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
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
    # per registered image: SfM points it observes and their mean reprojection error (px); None when unknown
    num_observations: np.ndarray | None = None  # (N,) int
    image_reprojection_error: np.ndarray | None = None  # (N,) float
    point_tracks: list[np.ndarray] | None = None  # per point: indices of the images that observe it
    info: dict = field(default_factory=dict)  # how SfM ran (e.g. the focal length prior), for the report

    @property
    def num_registered(self) -> int:
        return len(self.image_names)

    def centres(self) -> dict[str, np.ndarray]:
        return {n: self.world_from_cam[i, :3, 3] for i, n in enumerate(self.image_names)}

    def without_images(self, names: set[str]) -> "SfmModel":
        """The model with these images left out, and the points that keep fewer than two observers."""
        keep = np.array([n not in names for n in self.image_names])
        if keep.all():
            return self
        new_index = np.cumsum(keep) - 1
        points, colors, tracks = self.points, self.colors, self.point_tracks
        if tracks is not None:
            tracks = [new_index[t[keep[t]]] for t in tracks]
            ok = np.array([len(t) >= 2 for t in tracks], dtype=bool)
            points, colors = points[ok], colors[ok]
            tracks = [t for t, k in zip(tracks, ok) if k]
        pick = np.flatnonzero(keep)
        return SfmModel(
            image_names=[self.image_names[i] for i in pick], world_from_cam=self.world_from_cam[pick], K=self.K,
            distortion=self.distortion, width=self.width, height=self.height, points=points, colors=colors,
            num_input_images=self.num_input_images, mean_reprojection_error=self.mean_reprojection_error,
            colmap_image_ids=[self.colmap_image_ids[i] for i in pick],
            num_observations=None if self.num_observations is None else self.num_observations[pick],
            image_reprojection_error=None if self.image_reprojection_error is None else self.image_reprojection_error[pick],
            point_tracks=tracks, info=self.info,
        )


def import_pycolmap():
    """pycolmap, imported after OpenCV: the other way round, pycolmap's bundled image libraries take
    over OpenCV's and cv2.imwrite of a PNG corrupts the heap (seen with pycolmap 4.2.1 and
    opencv-python-headless 5.1: `import pycolmap, cv2` then imwrite -> "double free", a crash)."""
    import cv2  # noqa: F401  (load order matters, see above)
    import pycolmap

    return pycolmap


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
    pids = sorted(rec.point3D_ids())  # sorted: the same model gives the same point order
    pts = [rec.points3D[i] for i in pids]
    xyz = np.array([p.xyz for p in pts], dtype=np.float64).reshape(-1, 3)
    rgb = np.array([p.color for p in pts], dtype=np.uint8).reshape(-1, 3)
    err = float(rec.compute_mean_reprojection_error()) if pts else None
    index = {im.image_id: i for i, im in enumerate(regs)}
    tracks = [np.unique([index[e.image_id] for e in p.track.elements if e.image_id in index]) for p in pts]
    obs = np.zeros(len(regs), dtype=np.int64)
    err_sum = np.zeros(len(regs))
    for p, t in zip(pts, tracks):
        obs[t] += 1
        err_sum[t] += p.error  # the point's mean error over its track stands in for each observation's
    return SfmModel(
        image_names=[im.name for im in regs],
        world_from_cam=np.stack(poses),
        K=K, distortion=dist, width=int(camera.width), height=int(camera.height),
        points=xyz, colors=rgb,
        num_input_images=num_input_images if num_input_images is not None else rec.num_images(),
        mean_reprojection_error=err,
        colmap_image_ids=[int(im.image_id) for im in regs],
        num_observations=obs, image_reprojection_error=err_sum / np.maximum(obs, 1), point_tracks=tracks,
    )


def load_colmap_model(model_dir: str | Path):
    """pycolmap.Reconstruction from a folder with cameras/images/points3D (.bin or .txt)."""
    pycolmap = import_pycolmap()

    model_dir = Path(model_dir)
    try:
        return pycolmap.Reconstruction(str(model_dir))
    except Exception as e:  # pycolmap raises ValueError/RuntimeError for unreadable models
        raise CaptureError(f"{model_dir}: not a readable COLMAP model ({e}); point at the folder holding "
                           "cameras.bin, images.bin and points3D.bin (e.g. sparse/0)") from e


@contextlib.contextmanager
def _quiet_colmap():
    pycolmap = import_pycolmap()

    old = pycolmap.logging.minloglevel
    pycolmap.logging.minloglevel = 2  # errors only; our own progress bars report the stages
    try:
        yield
    finally:
        pycolmap.logging.minloglevel = old


def focal_from_fundamentals(F: np.ndarray, width: int, height: int) -> tuple[float | None, dict]:
    """A camera's focal length (pixels) from the fundamental matrices of many image pairs.

    For the true focal f (principal point at the centre, square pixels), E = K^T F K is an
    essential matrix: two equal singular values. The median over pairs of the gap between
    them is scanned over f = 0.2..5 x the image's longer side; its minimum is the estimate.
    Returns (None, info) when the minimum is not clear (too few pairs, flat or at the range's end).
    """
    info: dict = {"pairs": int(len(F))}
    if len(F) < 8:
        return None, {**info, "why_not": "fewer than 8 uncalibrated pairs"}
    side = max(width, height)
    fs = np.geomspace(0.2 * side, 5.0 * side, 400)

    def cost(f: float) -> float:
        K = np.array([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])
        sv = np.linalg.svd(K.T @ F @ K, compute_uv=False)
        return float(np.median((sv[:, 0] - sv[:, 1]) / np.maximum(sv[:, 0] + sv[:, 1], 1e-300)))

    costs = np.array([cost(f) for f in fs])
    i = int(np.argmin(costs))
    lo, hi = fs[max(i - 1, 0)], fs[min(i + 1, len(fs) - 1)]
    for _ in range(30):  # golden-section refinement within the bracketing grid cells
        a, b = hi - 0.618 * (hi - lo), lo + 0.618 * (hi - lo)
        if cost(a) < cost(b):
            hi = b
        else:
            lo = a
    f = float(0.5 * (lo + hi))
    best, ends = cost(f), float(min(costs[0], costs[-1]))
    info.update(cost=round(best, 5), cost_at_range_ends=round(ends, 5))
    if i in (0, len(fs) - 1) or not best < 0.5 * ends:
        return None, {**info, "why_not": "no clear minimum"}
    return f, info


def _prior_focal_from_matches(db_path: Path) -> tuple[float | None, dict]:
    """Set the shared camera's focal length in the database from its verified pairs' geometry
    (see focal_from_fundamentals); returns the focal set (None: COLMAP's default kept) and info."""
    pycolmap = import_pycolmap()

    db = pycolmap.Database.open(db_path)
    try:
        cam = db.read_all_cameras()[0]
        _, geometries = db.read_two_view_geometries()
        F = np.array([g.F for g in geometries if g.config == pycolmap.TwoViewGeometryConfiguration.UNCALIBRATED
                      and len(g.inlier_matches) >= 30]).reshape(-1, 3, 3)
        default = float(cam.params[0])
        f, info = focal_from_fundamentals(F, int(cam.width), int(cam.height))
        info["colmap_default_px"] = round(default, 3)
        if f is not None:
            params = np.array(cam.params, dtype=np.float64)
            params[0] = f
            if cam.model_name in ("PINHOLE", "OPENCV"):
                params[1] = f
            cam.params = params
            cam.has_prior_focal_length = True
            db.update_camera(cam)
            info["prior_px"] = round(f, 3)
        return f, info
    finally:
        db.close()


def run_sfm(images_dir: Path, work_dir: Path, image_names: list[str], config: CaptureConfig,
            sequential: bool, progress: bool = True, timings: dict | None = None) -> tuple[SfmModel, Path]:
    """Features, matching and incremental mapping in a fresh Python process; returns the largest
    model and its folder. timings, when given, receives each phase's seconds.

    Why a child process: in one long benchmark process the same workbench stills gave slightly
    different cameras (1e-4 relative; 205 vs 206 verified pairs) after other captures had run, while
    fresh processes always agreed. The state that leaks is inside pycolmap (most likely the order of
    floating-point sums in its FAISS descriptor indexes, which depends on memory layout); a fresh
    process per SfM makes the result depend on the input alone. It also keeps a crash inside pycolmap
    from taking the caller down, for ~2 s of start-up.
    """
    import pickle
    import subprocess
    import sys

    work_dir.mkdir(parents=True, exist_ok=True)
    job, result = work_dir / "sfm_job.pkl", work_dir / "sfm_result.pkl"
    job.write_bytes(pickle.dumps((Path(images_dir), Path(work_dir), list(image_names), config, sequential, progress)))
    # One BLAS/OpenMP thread in the child: thread pools inside BLAS sum in whichever order their threads finish
    # (see also the single matching thread in _run_sfm_here).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gwm.capture.sfm_worker", str(job)], env=env)
    try:
        code = proc.wait()
    except BaseException:  # Ctrl-C, a cancelled flow: the child goes too
        proc.kill()
        proc.wait()
        raise
    finally:
        job.unlink(missing_ok=True)
    if code != 0 or not result.is_file():
        raise CaptureError(f"SfM (pycolmap) stopped with exit code {code} before finishing (often: out of memory); "
                           "try smaller frames (--max-size 1600) or fewer (--max-frames), and run again")
    outcome = pickle.loads(result.read_bytes())
    result.unlink()
    if isinstance(outcome, str):  # a CaptureError's message, raised here as in-process
        raise CaptureError(outcome)
    model, child_timings = outcome
    if timings is not None:
        timings.update(child_timings)
    return model, work_dir / "sparse" / "0"


def run_sfm_job(job_path: str) -> None:
    """Child side of run_sfm: run SfM from a pickled job, pickle the model (or the error) back."""
    import pickle

    images_dir, work_dir, names, config, sequential, progress = pickle.loads(Path(job_path).read_bytes())
    timings: dict = {}
    try:
        model, _ = _run_sfm_here(images_dir, work_dir, names, config, sequential, progress, timings)
        outcome = (model, timings)
    except CaptureError as e:
        outcome = str(e)
    (work_dir / "sfm_result.pkl").write_bytes(pickle.dumps(outcome))


def _run_sfm_here(images_dir: Path, work_dir: Path, image_names: list[str], config: CaptureConfig,
                  sequential: bool, progress: bool, timings: dict) -> tuple[SfmModel, Path]:
    """run_sfm's work, in this process."""
    import time

    pycolmap = import_pycolmap()
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
    # One matching thread: each pair's nearest-neighbour search runs through FAISS into the OpenBLAS linked inside
    # pycolmap, and concurrent calls into that OpenBLAS from several matcher threads are not repeatable (CI's
    # runners got 827 vs 829 points, 869 vs 890, from the same frames in one process; never seen on 2-core dev
    # machines). Extraction keeps its threads (no BLAS there); matching is ~15% of SfM's time.
    matching.num_threads = 1
    matching.use_gpu = False

    # Repeatability: a multi-threaded extractor numbers images in the order its threads finish, and that
    # numbering steers pair order and the mapper's choices; importing the images first (one thread, in name
    # order) fixes the ids. Each two-view RANSAC reseeds its PRNG (else the matcher's generator
    # carries over from earlier pairs), and mapping runs on `mapping_threads`.
    verification = pycolmap.TwoViewGeometryOptions()
    verification.ransac.random_seed = config.seed

    sfm_info: dict = {}
    bar = tqdm(total=3 + len(image_names), desc="SfM", unit="step", disable=not progress)
    with _quiet_colmap():
        t = time.perf_counter()
        bar.set_postfix_str(f"SIFT on {len(image_names)} images")
        pycolmap.Database.open(db).close()  # import_images wants an existing database
        pycolmap.import_images(db, images_dir, camera_mode=pycolmap.CameraMode.SINGLE, image_names=image_names,
                               options=reader)
        pycolmap.extract_features(db, images_dir, image_names=image_names, camera_mode=pycolmap.CameraMode.SINGLE,
                                  reader_options=reader, extraction_options=extraction, device=pycolmap.Device.cpu)
        timings["extract_s"] = time.perf_counter() - t
        bar.update(1)
        bar.set_postfix_str("sequential matching" if sequential else "exhaustive matching")
        t = time.perf_counter()
        if sequential:
            pairing = pycolmap.SequentialPairingOptions()
            pairing.overlap = config.sequential_overlap
            pycolmap.match_sequential(db, matching_options=matching, pairing_options=pairing,
                                      verification_options=verification, device=pycolmap.Device.cpu)
        else:
            pycolmap.match_exhaustive(db, matching_options=matching, verification_options=verification,
                                      device=pycolmap.Device.cpu)
        timings["match_s"] = time.perf_counter() - t
        # COLMAP's focal guess without EXIF (1.2 x the longer side, a 45 deg field of view) is far from a
        # phone's (~70 deg); from such a start the kitchen stills converged to a wrong model (focal 125 px
        # instead of 288, 21 cm pose error). The pairs' fundamental matrices give a start near the truth.
        if config.focal_length_px is None:
            _, sfm_info["focal_prior"] = _prior_focal_from_matches(db)
        bar.update(1)
        bar.set_postfix_str("incremental mapping")
        t = time.perf_counter()
        opts = pycolmap.IncrementalPipelineOptions()
        opts.random_seed = config.seed
        opts.num_threads = config.mapping_threads
        opts.min_model_size = 3
        if config.focal_length_px is not None:
            opts.ba_refine_focal_length = False
        models = pycolmap.incremental_mapping(db, images_dir, sparse, options=opts,
                                              next_image_callback=lambda: bar.update(1))
        timings["map_s"] = time.perf_counter() - t
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
    model = model_from_reconstruction(rec, num_input_images=len(image_names))
    model.info = sfm_info
    return model, sparse / "0"

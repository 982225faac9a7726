"""Entry points: create_recorder, open_dataset (format auto-detected), check_dataset, convert/merge."""

from __future__ import annotations

from pathlib import Path

from gwm.data.base import DatasetReader, Recorder
from gwm.data.spec import DatasetError, DatasetSpec
from gwm.splats import GaussianSplats

FORMATS = ("lerobot", "hdf5")


def create_recorder(root, spec: DatasetSpec, format: str = "lerobot", *,
                    canonical_gaussians: dict[str, GaussianSplats] | None = None,
                    image_format: str = "video", metadata: dict | None = None) -> Recorder:
    """Start (or resume, if root already holds a dataset of this format) recording episodes.

    root is a folder. LeRobot: the dataset root; HDF5: holds dataset.hdf5 and its episode files.
    image_format ("video" | "png") applies to LeRobot; HDF5 stores raw uint8 frames.
    """
    if format == "lerobot":
        from gwm.data.lerobot import LeRobotRecorder

        return LeRobotRecorder(root, spec, canonical_gaussians=canonical_gaussians, image_format=image_format,
                               metadata=metadata)
    if format == "hdf5":
        from gwm.data.hdf5 import Hdf5Recorder

        return Hdf5Recorder(root, spec, canonical_gaussians=canonical_gaussians, image_format=image_format,
                            metadata=metadata)
    raise ValueError(f"format must be one of {FORMATS}, got {format!r}")


def detect_format(path) -> str:
    from gwm.data.hdf5 import is_hdf5_path
    from gwm.data.lerobot import is_lerobot_root

    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if is_lerobot_root(path):
        return "lerobot"
    if is_hdf5_path(path):
        return "hdf5"
    if (path / "meta").is_dir() or (path / "data").is_dir():
        raise DatasetError(f"{path}: looks like a LeRobot dataset but meta/info.json is missing; "
                           "the metadata is incomplete: re-record or re-convert it")
    raise DatasetError(f"{path}: neither a LeRobot v3.0 root (meta/info.json) nor an HDF5 dataset "
                       "(dataset.hdf5 or a .hdf5 file)")


def open_dataset(path) -> DatasetReader:
    """Open a recorded dataset; the format is detected from what is on disk."""
    fmt = detect_format(path)
    if fmt == "lerobot":
        from gwm.data.lerobot import LeRobotReader

        return LeRobotReader(path)
    from gwm.data.hdf5 import Hdf5Reader

    return Hdf5Reader(path)


def check_dataset(path) -> dict:
    """Open and read every episode (all checks the readers make); returns the summary.

    Raises DatasetError with the problem and its fix.
    """
    ds = open_dataset(path)
    for i in range(ds.num_episodes):
        ds.episode(i)
        ds.frame_tasks(i)
    if ds.body_names and ds.num_episodes:
        canonical = ds.canonical_gaussians()
        missing = [b for b in canonical if b not in ds.body_names]
        if missing:
            raise DatasetError(f"{ds.path}: Gaussians for bodies {missing} that are not in body_names")
        if canonical:
            ds.gaussians_at(0, 0)
    return ds.summary()


def convert_dataset(src, dst, to: str, *, image_format: str = "video", progress: bool = False) -> object:
    """Re-record every episode of src into a new dataset at dst in format `to` (its held-out split kept).
    Returns its path."""
    held = open_dataset(src).heldout_episodes()
    return merge_datasets([src], dst, to, image_format=image_format, progress=progress,
                          heldout_episodes=len(held) if held else None)


def merge_datasets(srcs, dst, to: str, *, image_format: str = "video", progress: bool = False,
                   heldout_episodes: int | None = None) -> object:
    """Re-record the episodes of several datasets (same features and bodies), in order, into dst.

    Used to join rollout shards recorded by parallel workers into one dataset. heldout_episodes: the
    last this many episodes are marked as the held-out split (Recorder.mark_heldout).
    """
    readers = [open_dataset(s) for s in srcs]
    if not readers:
        raise DatasetError("merge_datasets: no source datasets given")
    first = readers[0]
    for r in readers[1:]:
        if not r.spec.same_as(first.spec):
            raise DatasetError(f"{r.path}: features or bodies differ from {first.path}; "
                               "only datasets recorded with the same spec can be merged")
    meta = {**first.metadata, "converted_from": [str(s) for s in srcs] if len(srcs) > 1 else str(srcs[0])}
    rec = create_recorder(dst, first.spec, to, canonical_gaussians=first.canonical_gaussians() or None,
                          image_format=image_format, metadata=meta)
    if rec.num_episodes:
        rec.finalize()
        raise DatasetError(f"{dst}: already holds {rec.num_episodes} episodes; convert into an empty folder")
    episodes = [(ds, i) for ds in readers for i in range(ds.num_episodes)]
    if heldout_episodes:
        if not 0 < heldout_episodes < len(episodes):
            rec.finalize()
            raise DatasetError(f"heldout_episodes={heldout_episodes} must leave training episodes of the "
                               f"{len(episodes)} being merged")
        rec.mark_heldout(len(episodes) - heldout_episodes)
    if progress:
        from tqdm import tqdm

        episodes = tqdm(episodes, desc=f"convert -> {to}", unit="episode")
    for ds, i in episodes:
        arrays = ds.episode(i)
        tasks = ds.frame_tasks(i)
        info = ds.episode_info(i)
        for t in range(len(tasks)):
            rec.add_frame({k: v[t] for k, v in arrays.items()}, tasks[t])
        rec.save_episode(success=info["success"], seed=info["seed"])
    return rec.finalize()

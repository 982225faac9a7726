"""The recording interface (create -> add_frame -> save_episode -> finalize) and the reader interface,
shared by the LeRobot v3.0 and robomimic/Isaac Lab HDF5 formats."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from gwm.body_gaussians import BodyGaussians
from gwm.atomic_io import WriterLock
from gwm.data.spec import BODY_POSES, DatasetError, DatasetSpec, check_frame
from gwm.data.world_state import check_body_gaussians, gaussians_from_poses
from gwm.splats import GaussianSplats


class Recorder(ABC):
    """Buffers one episode in memory; save_episode writes it atomically, then updates metadata."""

    format: str = ""

    def __init__(self, root: Path, spec: DatasetSpec, canonical_gaussians: dict[str, GaussianSplats] | None,
                 metadata: dict | None):
        self.root = Path(root)
        self.spec = spec
        self.metadata = dict(metadata or {})
        self.canonical_gaussians = dict(canonical_gaussians or {})
        check_body_gaussians(spec.body_names, self.canonical_gaussians)
        self._lock = WriterLock(self.root)
        self._lock.acquire()
        self._buffer: dict[str, list[np.ndarray]] = {k: [] for k in spec.features}
        self._buffer_tasks: list[str] = []
        self._closed = False
        # episodes [heldout_from, n) are the held-out (validation) split; None: no split marked
        self.heldout_from: int | None = None

    def _open_root(self, exists: bool) -> None:
        """Resume the dataset on disk (exists) or create a new one; if that fails the writer lock is let go."""
        try:
            if exists:
                self._resume()
            else:
                self._create()
        except BaseException:
            self._lock.release()
            raise

    @abstractmethod
    def _create(self) -> None:
        """Start a new dataset at root."""

    @abstractmethod
    def _resume(self) -> None:
        """Continue the dataset at root (its episodes stay; stray temp files from a killed writer go)."""

    # the recording interface ------------------------------------------------------
    @property
    @abstractmethod
    def num_episodes(self) -> int:
        """Saved episodes, including those found on disk when resuming."""

    @property
    def frames_in_episode(self) -> int:
        return len(self._buffer_tasks)

    def add_frame(self, frame: dict[str, np.ndarray], task: str) -> None:
        self._check_open()
        if not isinstance(task, str) or not task:
            raise DatasetError(f"add_frame needs a non-empty task string, got {task!r}")
        checked = check_frame(self.spec, frame)
        for key, value in checked.items():
            self._buffer[key].append(value)
        self._buffer_tasks.append(task)

    def save_episode(self, success: bool, seed: int) -> int:
        """Write the buffered frames as the next episode; returns its index."""
        self._check_open()
        if not self._buffer_tasks:
            raise DatasetError("save_episode: the episode has no frames; call add_frame first")
        episode = {k: np.stack(v) for k, v in self._buffer.items()}  # (T, ...)
        index = self._write_episode(episode, list(self._buffer_tasks), bool(success), int(seed))
        self.discard_episode()
        return index

    def mark_heldout(self, first_episode: int) -> None:
        """Mark episodes first_episode.. (to the end) as the held-out split: LeRobot info.json `splits`
        {"train": "0:k", "valid": "k:n"}, HDF5 mask/train and mask/valid; LeRobot's stats.json is then
        computed from the training episodes only. Written at the next save_episode or finalize."""
        first = int(first_episode)
        if first < 1:
            raise DatasetError(f"mark_heldout({first_episode}): the held-out split must leave training episodes "
                               "(first held-out episode >= 1)")
        self.heldout_from = first

    def _split_bounds(self, n: int) -> int:
        """Training episodes are [0, returned); the rest are held out (n when nothing is marked, or while
        the episodes recorded so far do not reach the marked split)."""
        return n if self.heldout_from is None else min(self.heldout_from, n)

    def discard_episode(self) -> None:
        for v in self._buffer.values():
            v.clear()
        self._buffer_tasks.clear()

    def finalize(self) -> Path:
        """Drop any unsaved frames, write final metadata, release the root. Returns the dataset path."""
        if self._closed:
            return self.dataset_path
        self.discard_episode()
        self._finalize()
        self._lock.release()
        self._closed = True
        return self.dataset_path

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.finalize()

    # format specifics ---------------------------------------------------------------
    @property
    @abstractmethod
    def dataset_path(self) -> Path:
        """What open_dataset takes (the root folder, or the HDF5 master file)."""

    @abstractmethod
    def _write_episode(self, episode: dict[str, np.ndarray], tasks: list[str], success: bool, seed: int) -> int: ...

    @abstractmethod
    def _finalize(self) -> None: ...

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this recorder is finalized; create_recorder(root, ...) again to append episodes")


class DatasetReader(ABC):
    """Episodes of a recorded dataset as numpy arrays, plus the Gaussian world state."""

    format: str = ""
    path: Path
    spec: DatasetSpec
    metadata: dict

    @property
    @abstractmethod
    def num_episodes(self) -> int: ...

    @abstractmethod
    def episode_length(self, i: int) -> int: ...

    @abstractmethod
    def _read_episode(self, i: int, keys: list[str]) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def episode_info(self, i: int) -> dict:
        """dict(success: bool, seed: int, task: str, length: int)."""

    @abstractmethod
    def frame_tasks(self, i: int) -> list[str]:
        """The task string of every frame of episode i."""

    @abstractmethod
    def _load_canonical_gaussians(self) -> dict[str, GaussianSplats]: ...

    def heldout_episodes(self) -> list[int]:
        """Episodes the dataset marks as held out (validation split); [] when it marks none."""
        return []

    def training_episodes(self) -> list[int]:
        held = set(self.heldout_episodes())
        return [i for i in range(self.num_episodes) if i not in held]

    # shared ---------------------------------------------------------------------------
    @property
    def fps(self) -> int:
        return self.spec.fps

    @property
    def body_names(self) -> tuple[str, ...]:
        return self.spec.body_names

    @property
    def body_roles(self) -> dict[str, str]:
        """body name -> role (gwm.roles); empty for datasets recorded before roles (unknown)."""
        return self.spec.roles

    @property
    def cameras(self):
        """The cameras' CameraSpecs (also read from datasets recorded before they were in the spec)."""
        from gwm.data.contract import dataset_cameras

        return dataset_cameras(self.spec, self.metadata)

    @property
    def num_frames(self) -> int:
        return sum(self.episode_length(i) for i in range(self.num_episodes))

    def episode(self, i: int, keys: list[str] | None = None) -> dict[str, np.ndarray]:
        """Features of episode i as (T, ...) arrays (images uint8 (T, H, W, 3)); checked on read."""
        i = self._check_index(i)
        keys = list(self.spec.features) if keys is None else list(keys)
        unknown = [k for k in keys if k not in self.spec.features]
        if unknown:
            raise KeyError(f"unknown features {unknown}; this dataset has {list(self.spec.features)}")
        arrays = self._read_episode(i, keys)
        self._check_arrays(i, arrays)
        return arrays

    def canonical_gaussians(self) -> dict[str, GaussianSplats]:
        if not hasattr(self, "_canonical_cache"):
            self._canonical_cache = self._load_canonical_gaussians()
        return self._canonical_cache

    def gaussians_at(self, episode: int, step: int) -> GaussianSplats:
        """All Gaussians of the scene at a frame, world frame."""
        if not self.body_names:
            raise ValueError(f"{self.path}: no body_names, so no Gaussian world state was recorded")
        cache = self.__dict__.setdefault("_pose_cache", {})
        if episode not in cache:
            cache.clear()  # keep one episode of poses
            cache[episode] = self.episode(episode, [BODY_POSES])[BODY_POSES]
        poses = cache[episode]
        if not 0 <= step < len(poses):
            raise IndexError(f"step {step} is outside episode {episode} (length {len(poses)})")
        if "_body_stack" not in self.__dict__:  # stacked once, posed per frame
            canonical = self.canonical_gaussians()
            self._body_stack = BodyGaussians.stack(self.body_names, canonical) if canonical else {}
        return gaussians_from_poses(self.body_names, self._body_stack, poses[step])

    def _check_index(self, i: int) -> int:
        i = int(i)
        if not 0 <= i < self.num_episodes:
            raise IndexError(f"episode {i} out of range: the dataset has {self.num_episodes} episodes")
        return i

    def _check_arrays(self, i: int, arrays: dict[str, np.ndarray]) -> None:
        length = self.episode_length(i)
        for key, arr in arrays.items():
            ft = self.spec.features[key]
            if arr.shape[0] != length:
                raise DatasetError(
                    f"{self.path}: episode {i}: feature {key!r} has {arr.shape[0]} frames but the episode "
                    f"table says {length}; the dataset is inconsistent: re-record or re-convert this episode"
                )
            if arr.shape[1:] != ft.shape:
                raise DatasetError(
                    f"{self.path}: episode {i}: feature {key!r} has frame shape {arr.shape[1:]}, "
                    f"the feature table says {ft.shape}"
                )
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                bad = np.flatnonzero(~np.isfinite(arr.reshape(length, -1)).all(1))
                raise DatasetError(
                    f"{self.path}: episode {i}: feature {key!r} has NaN or inf at frames {bad[:10].tolist()}; "
                    "the recording is corrupt: drop or re-record this episode"
                )

    def summary(self) -> dict:
        infos = [self.episode_info(i) for i in range(self.num_episodes)]
        return {
            "format": self.format,
            "path": str(self.path),
            "fps": self.fps,
            "episodes": self.num_episodes,
            "frames": sum(x["length"] for x in infos),
            "success_rate": (sum(x["success"] for x in infos) / len(infos)) if infos else None,
            "features": {k: {"dtype": ft.dtype, "shape": list(ft.shape)} for k, ft in self.spec.features.items()},
            "cameras": self.spec.camera_keys,
            "bodies": list(self.body_names),
            "body_roles": self.body_roles or None,
            "gaussians": {k: len(v) for k, v in self.canonical_gaussians().items()},
            "tasks": sorted({x["task"] for x in infos}),
        }

    def __len__(self) -> int:
        return self.num_episodes

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, episodes={self.num_episodes})"

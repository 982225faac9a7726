"""robomimic / Isaac Lab HDF5 datasets (h5py).

Layout under root:

    dataset.hdf5                 the file robomimic and Isaac Lab open
      attrs: format_version = 1 (Isaac Lab 3: quaternions x, y, z, w), quaternion_order = "xyzw",
             gwm_format_version
      data/  attrs: total (frames), env_args (JSON: env_name, type, env_kwargs),
             gwm_spec (JSON DatasetSpec), gwm_metadata (JSON), tasks (JSON list)
      data/demo_<k>  -> external link to episodes/demo_<k:06d>.hdf5:/demo_<k>
      mask/train, mask/valid      demo names (bytes); the held-out split the recorder marked
                                  (mark_heldout: the last episodes), else demo k is "valid" iff
                                  k % 10 == 9 (or, with fewer than 10 demos, the last one)
      data attrs gwm_heldout_from  first held-out demo when a split was marked
      gaussians  -> external link to gaussians.hdf5:/gaussians (if canonical Gaussians were given)
    episodes/demo_<k:06d>.hdf5   /demo_<k>: attrs num_samples, seed, success, task;
                                 actions (T, A), rewards (T,), dones (T,), states (T, D),
                                 task_index (T,), obs/<name>, next_obs/<name>
    gaussians.hdf5               /gaussians/<body>/{means, quats_wxyz, log_scales, logit_opacities, sh}

Feature names map to HDF5 paths: "action" -> actions, "next.reward" -> rewards, "next.done" -> dones,
"observation.<name>" -> obs/<name> (and next_obs/<name>, the observation one step later, the last
repeated). Pose features (observation.ee_pose, observation.body_poses: xyz + quat) are stored
x, y, z, w here as Isaac Lab 3 expects, and converted back to w, x, y, z on read. Gaussians keep w-first
quaternions, named quats_wxyz. `states` is [observation.state, observation.body_poses (xyzw) flattened].

Crash safety: each episode file is written under a temp name and renamed; then dataset.hdf5 is
rebuilt (small: links, attrs, masks) under a temp name and renamed. `consolidate_hdf5` copies it all
into one self-contained file for shipping.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from gwm.atomic_io import atomic_write_path, remove_stray_temps
from gwm.data.base import DatasetReader, Recorder
from gwm.data.spec import (
    ACTION, BODY_POSES, DATASET_FORMAT_VERSION, DONE, POSE_KEYS, REWARD, STATE, DatasetError, DatasetSpec,
    FeatureSpec,
)
from gwm.geometry import pose7_wxyz_to_xyzw, pose7_xyzw_to_wxyz
from gwm.splats import GaussianSplats

MASTER_NAME = "dataset.hdf5"
EPISODES_DIR = "episodes"
GAUSSIANS_NAME = "gaussians.hdf5"
ISAACLAB_FORMAT_VERSION = 1  # Isaac Lab 3: quaternions stored x, y, z, w
_GAUSSIAN_FIELDS = ("means", "quats_wxyz", "log_scales", "logit_opacities", "sh")
_DEMO = re.compile(r"^demo_(\d+)$")


def h5_path(key: str) -> str:
    """Where a feature lives inside a demo group."""
    if key == ACTION:
        return "actions"
    if key == REWARD:
        return "rewards"
    if key == DONE:
        return "dones"
    if key.startswith("observation."):
        return "obs/" + key[len("observation."):]
    return "obs/" + key


def train_valid_split(num_demos: int) -> tuple[list[int], list[int]]:
    """Deterministic 90/10 split by episode that never moves an episode as the dataset grows."""
    valid = [k for k in range(num_demos) if k % 10 == 9]
    if not valid and num_demos >= 2:
        valid = [num_demos - 1]
    return [k for k in range(num_demos) if k not in valid], valid


def episode_file(root: Path, k: int) -> Path:
    return Path(root) / EPISODES_DIR / f"demo_{k:06d}.hdf5"


def is_hdf5_path(path: Path) -> bool:
    path = Path(path)
    return (path / MASTER_NAME).is_file() or (path.is_file() and path.suffix in (".hdf5", ".h5"))


# Writer --------------------------------------------------------------------------------------------

class Hdf5Recorder(Recorder):
    format = "hdf5"

    def __init__(self, root, spec: DatasetSpec, *, canonical_gaussians=None, image_format: str = "video",
                 metadata: dict | None = None):
        # image_format is accepted for a uniform API: HDF5 stores raw uint8 frames either way.
        if ACTION not in spec.features:
            raise ValueError("robomimic / Isaac Lab HDF5 needs an 'action' feature in the DatasetSpec")
        super().__init__(root, spec, canonical_gaussians, metadata)
        self._open_root((self.root / MASTER_NAME).is_file())

    @property
    def dataset_path(self) -> Path:
        return self.root / MASTER_NAME

    @property
    def num_episodes(self) -> int:
        return len(self._demos)

    def _create(self) -> None:
        if (self.root / EPISODES_DIR).is_dir() and any((self.root / EPISODES_DIR).glob("*.hdf5")):
            raise DatasetError(f"{self.root}: has {EPISODES_DIR}/ but no {MASTER_NAME}; record into an empty folder")
        self._demos: list[dict] = []  # per episode: num_samples, seed, success, task
        self._task_names: list[str] = []
        if self.canonical_gaussians:
            _write_gaussians(self.root / GAUSSIANS_NAME, self.canonical_gaussians)
        self._write_master()

    def _resume(self) -> None:
        reader = Hdf5Reader(self.root)
        if not reader.spec.same_as(self.spec):
            raise DatasetError(
                f"{self.root}: existing dataset has spec {reader.spec.to_dict()}, the recorder was given "
                f"{self.spec.to_dict()}; resume with the same DatasetSpec or record into a new folder"
            )
        stored = reader.canonical_gaussians()
        if self.canonical_gaussians and (set(stored) != set(self.canonical_gaussians) or any(
                len(stored[b]) != len(self.canonical_gaussians[b]) for b in stored)):
            raise DatasetError(f"{self.root}: canonical_gaussians differ from the ones in {GAUSSIANS_NAME}")
        self.canonical_gaussians = stored
        self.metadata = reader.metadata
        self._task_names = list(reader.tasks)
        self._demos = [reader.demo_attrs(i) for i in range(reader.num_episodes)]
        held = reader.heldout_episodes()
        self.heldout_from = held[0] if held else None
        reader.close()
        remove_stray_temps(self.root)
        for p in (self.root / EPISODES_DIR).glob("demo_*.hdf5"):  # orphans of a crash before the master update
            if int(p.stem.split("_")[1]) >= len(self._demos):
                p.unlink()
        self._write_master()

    def _write_episode(self, episode, tasks, success, seed) -> int:
        import h5py

        k = len(self._demos)
        t = len(tasks)
        new_tasks = [x for x in dict.fromkeys(tasks) if x not in self._task_names]
        task_index = {x: i for i, x in enumerate(self._task_names + new_tasks)}
        path = episode_file(self.root, k)
        with atomic_write_path(path) as tmp, h5py.File(tmp, "w") as f:
            g = f.create_group(f"demo_{k}")
            g.attrs["num_samples"] = t
            g.attrs["seed"] = seed
            g.attrs["success"] = success
            g.attrs["task"] = tasks[0]
            for key, ft in self.spec.features.items():
                values = episode[key]
                if key in POSE_KEYS:
                    values = pose7_wxyz_to_xyzw(values)
                name = h5_path(key)
                if key in (REWARD, DONE):
                    values = values.reshape(t)
                # images: one chunk per frame, gzip level 1 (any HDF5 reader decodes it; raw frames made the
                # kitchen's copy 3 GB)
                img = {"chunks": (1, *values.shape[1:]), "compression": "gzip", "compression_opts": 1,
                       "shuffle": True} if ft.is_image else {}
                g.create_dataset(name, data=values, **img)
                if name.startswith("obs/"):
                    nxt = np.concatenate([values[1:], values[-1:]])
                    g.create_dataset("next_" + name, data=nxt, **img)
            if REWARD not in self.spec.features:
                g.create_dataset("rewards", data=np.zeros(t, np.float32))
            if DONE not in self.spec.features:
                dones = np.zeros(t, np.int64)
                dones[-1] = 1
                g.create_dataset("dones", data=dones)
            g.create_dataset("states", data=self._states(episode))
            g.create_dataset("task_index", data=np.array([task_index[x] for x in tasks], np.int64))
        self._demos.append({"num_samples": t, "seed": seed, "success": success, "task": tasks[0]})
        self._task_names.extend(new_tasks)
        try:
            self._write_master()
        except BaseException:
            self._demos.pop()
            del self._task_names[len(self._task_names) - len(new_tasks):]
            raise
        return k

    def _states(self, episode: dict[str, np.ndarray]) -> np.ndarray:
        t = len(next(iter(episode.values())))
        parts = [episode[STATE].reshape(t, -1).astype(np.float32)] if STATE in episode else []
        if BODY_POSES in episode:
            parts.append(pose7_wxyz_to_xyzw(episode[BODY_POSES]).reshape(t, -1).astype(np.float32))
        return np.concatenate(parts, 1) if parts else np.zeros((t, 0), np.float32)

    def _write_master(self) -> None:
        import h5py

        path = self.root / MASTER_NAME
        n = len(self._demos)
        env_args = {
            "env_name": self.metadata.get("env_name", self.metadata.get("task", "gwm")),
            "type": 2,  # robomimic EnvType.GYM_TYPE: no robosuite env to rebuild
            "env_kwargs": {"fps": self.spec.fps, "robot_type": self.spec.robot_type},
        }
        states_layout = ([STATE] if STATE in self.spec.features else []) + (
            [BODY_POSES + " (xyzw)"] if BODY_POSES in self.spec.features else [])
        with atomic_write_path(path) as tmp, h5py.File(tmp, "w") as f:
            f.attrs["format_version"] = ISAACLAB_FORMAT_VERSION
            f.attrs["quaternion_order"] = "xyzw"
            f.attrs["gwm_format_version"] = DATASET_FORMAT_VERSION
            data = f.create_group("data")
            data.attrs["total"] = int(sum(d["num_samples"] for d in self._demos))
            data.attrs["env_args"] = json.dumps(env_args)
            data.attrs["gwm_spec"] = json.dumps(self.spec.to_dict())
            data.attrs["gwm_metadata"] = json.dumps(self.metadata)
            data.attrs["tasks"] = json.dumps(self._task_names)
            data.attrs["states_layout"] = json.dumps(states_layout)
            for k in range(n):
                data[f"demo_{k}"] = h5py.ExternalLink(f"{EPISODES_DIR}/demo_{k:06d}.hdf5", f"/demo_{k}")
            if self.heldout_from is not None and n:
                k = self._split_bounds(n)
                train, valid = list(range(k)), list(range(k, n))
                data.attrs["gwm_heldout_from"] = k
            else:
                train, valid = train_valid_split(n)
            mask = f.create_group("mask")
            for name, ids in (("train", train), ("valid", valid)):
                mask.create_dataset(name, data=np.array([f"demo_{k}".encode() for k in ids], dtype="S16"))
            if self.canonical_gaussians:
                f["gaussians"] = h5py.ExternalLink(GAUSSIANS_NAME, "/gaussians")

    def _finalize(self) -> None:
        self._write_master()


def _write_gaussians(path: Path, canonical: dict[str, GaussianSplats]) -> None:
    import h5py

    with atomic_write_path(path) as tmp, h5py.File(tmp, "w") as f:
        g = f.create_group("gaussians")
        g.attrs["quaternion_order"] = "wxyz"
        g.attrs["frame"] = "body"
        for body, splats in canonical.items():
            b = g.create_group(body)
            s = splats.detach().to("cpu")
            for name in _GAUSSIAN_FIELDS:
                b.create_dataset(name, data=getattr(s, name).numpy())


# Reader --------------------------------------------------------------------------------------------

class Hdf5Reader(DatasetReader):
    format = "hdf5"

    def __init__(self, path):
        path = Path(path)
        self.path = path / MASTER_NAME if path.is_dir() else path
        if not self.path.is_file():
            raise DatasetError(f"{path}: no {MASTER_NAME} here; point at the dataset folder or its .hdf5 file")
        self._handle = None
        self._pid = None
        f = self._file()
        if "data" not in f:
            raise DatasetError(f"{self.path}: has no 'data' group, so it is not a robomimic / Isaac Lab dataset")
        data = f["data"]
        self.quats_xyzw = int(f.attrs.get("format_version", 0)) >= 1 and "gwm_spec" in data.attrs
        self.metadata = json.loads(data.attrs.get("gwm_metadata", "{}"))
        self.env_args = json.loads(data.attrs.get("env_args", "{}"))
        self.tasks = json.loads(data.attrs.get("tasks", "[]"))
        names = sorted((n for n in data.keys() if _DEMO.match(n)), key=lambda n: int(_DEMO.match(n).group(1)))
        self.demo_names = names
        self._lengths = []
        for n in names:
            try:
                self._lengths.append(int(data[n].attrs["num_samples"]))
            except KeyError as e:
                raise DatasetError(
                    f"{self.path}: demo {n!r} cannot be opened or has no num_samples ({e}); "
                    f"its episode file ({EPISODES_DIR}/) is missing or damaged: copy the whole dataset folder, "
                    "or re-record / re-convert the dataset"
                ) from e
        if "total" in data.attrs and int(data.attrs["total"]) != sum(self._lengths):
            raise DatasetError(
                f"{self.path}: data.attrs['total'] = {int(data.attrs['total'])} but the demos hold "
                f"{sum(self._lengths)} samples; the file is inconsistent: re-record or re-convert it"
            )
        self.spec = (DatasetSpec.from_dict(json.loads(data.attrs["gwm_spec"])) if "gwm_spec" in data.attrs
                     else self._infer_spec(data))

    def _file(self):
        import h5py

        if self._handle is None or self._pid != os.getpid():  # h5py handles do not survive fork
            try:
                self._handle = h5py.File(self.path, "r")
            except OSError as e:
                raise DatasetError(f"{self.path}: not a readable HDF5 file ({e}); it is truncated or damaged") from e
            self._pid = os.getpid()
        return self._handle

    def close(self) -> None:
        if self._handle is not None and self._pid == os.getpid():
            self._handle.close()
        self._handle = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_handle"] = None
        return state

    def _infer_spec(self, data) -> DatasetSpec:
        """A spec for foreign robomimic files: obs/<k> -> observation.<k> (images by shape)."""
        if not self.demo_names:
            raise DatasetError(f"{self.path}: no demos and no gwm_spec; cannot tell its features")
        g = data[self.demo_names[0]]
        features = {ACTION: FeatureSpec(_dtype_name(g["actions"].dtype), g["actions"].shape[1:] or (1,))}
        for name, ds in g.get("obs", {}).items():
            shape = ds.shape[1:] or (1,)
            if ds.dtype == np.uint8 and len(shape) == 3 and shape[2] == 3:
                features[f"observation.images.{name}"] = FeatureSpec("image", shape)
            else:
                features[f"observation.{name}"] = FeatureSpec(_dtype_name(ds.dtype), shape)
        features[REWARD] = FeatureSpec("float32", (1,))
        features[DONE] = FeatureSpec("bool", (1,))
        fps = int(self.env_args.get("env_kwargs", {}).get("fps", 30))
        return DatasetSpec(fps=fps, features=features, robot_type="")

    def _demo(self, i: int):
        try:
            return self._file()["data"][self.demo_names[i]]
        except KeyError as e:
            raise DatasetError(f"{self.path}: demo {self.demo_names[i]!r} cannot be opened ({e}); its episode file "
                               "is missing or damaged: re-record or re-convert the dataset") from e

    def _feature_path(self, key: str) -> str:
        if key.startswith("observation.images.") and "gwm_spec" not in self._file()["data"].attrs:
            return "obs/" + key[len("observation.images."):]
        return h5_path(key)

    @property
    def num_episodes(self) -> int:
        return len(self.demo_names)

    def episode_length(self, i: int) -> int:
        return self._lengths[i]

    def demo_attrs(self, i: int) -> dict:
        a = self._demo(i).attrs
        return {"num_samples": int(a["num_samples"]), "seed": int(a.get("seed", -1)),
                "success": bool(a.get("success", False)), "task": str(a.get("task", ""))}

    def episode_info(self, i: int) -> dict:
        a = self.demo_attrs(self._check_index(i))
        task = a["task"] or self.env_args.get("env_name", "")
        return {"success": a["success"], "seed": a["seed"], "task": task, "length": a["num_samples"]}

    def heldout_episodes(self) -> list[int]:
        """mask/valid, when the recorder marked a held-out split (gwm_heldout_from); [] for the legacy
        every-tenth-demo mask, which is no held-out layout set."""
        f = self._file()
        if "gwm_heldout_from" not in f["data"].attrs or "mask/valid" not in f:
            return []
        index = {n: i for i, n in enumerate(self.demo_names)}
        names = [x.decode() if isinstance(x, bytes) else str(x) for x in f["mask/valid"][()]]
        missing = [n for n in names if n not in index]
        if missing:
            raise DatasetError(f"{self.path}: mask/valid names demos {missing[:5]} that the file does not hold")
        return sorted(index[n] for n in names)

    def frame_tasks(self, i: int) -> list[str]:
        g = self._demo(self._check_index(i))
        if "task_index" in g and self.tasks:
            return [self.tasks[j] for j in g["task_index"][()]]
        return [self.episode_info(i)["task"]] * self.episode_length(i)

    def _read_episode(self, i: int, keys: list[str]) -> dict[str, np.ndarray]:
        g = self._demo(i)
        out = {}
        for key in keys:
            ft = self.spec.features[key]
            name = self._feature_path(key)
            if name not in g:
                if key in (REWARD, DONE) and "gwm_spec" not in self._file()["data"].attrs:
                    continue
                raise DatasetError(f"{self.path}: demo {self.demo_names[i]!r} has no dataset {name!r} "
                                   f"for feature {key!r}; the episode is incomplete: re-record or re-convert it")
            try:
                values = g[name][()]
            except OSError as e:
                raise DatasetError(f"{self.path}: cannot read {self.demo_names[i]}/{name} ({e}); the file is damaged") from e
            if key in POSE_KEYS and self.quats_xyzw:
                values = pose7_xyzw_to_wxyz(values)
            if ft.shape == (1,) and values.ndim == 1:
                values = values[:, None]
            out[key] = values.astype(ft.numpy_dtype, copy=False)
        return out

    def _load_canonical_gaussians(self) -> dict[str, GaussianSplats]:
        import torch

        f = self._file()
        if "gaussians" not in f:
            return {}
        try:
            group = f["gaussians"]
            return {body: GaussianSplats(**{name: torch.from_numpy(g[name][()]) for name in _GAUSSIAN_FIELDS})
                    for body, g in group.items()}
        except (KeyError, OSError) as e:
            raise DatasetError(f"{self.path}: canonical Gaussians ({GAUSSIANS_NAME}) are missing or damaged ({e}); "
                               "copy the whole dataset folder") from e


def _dtype_name(dtype) -> str:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return "bool"
    if dtype.kind in "iu":
        return "int64"
    return "float64" if dtype == np.float64 else "float32"


def consolidate_hdf5(src, dst) -> Path:
    """Copy a dataset (master + episode files) into one self-contained HDF5 file, atomically."""
    import h5py

    src_path = Path(src) / MASTER_NAME if Path(src).is_dir() else Path(src)
    dst = Path(dst)
    with atomic_write_path(dst) as tmp, h5py.File(src_path, "r") as fs, h5py.File(tmp, "w") as fd:
        for k, v in fs.attrs.items():
            fd.attrs[k] = v
        for name in fs:
            fs.copy(fs[name], fd, name=name, expand_external=True)
    return dst

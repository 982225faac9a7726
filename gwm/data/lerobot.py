"""LeRobot v3.0 datasets written and read with pyarrow alone (no lerobot dependency).

Layout under root (what `LeRobotDataset(repo_id, root=root)` reads offline):

    meta/info.json                     codebase_version "v3.0", fps, features, totals, path templates
    meta/stats.json                    min/max/mean/std/count/q01..q99 per feature
    meta/tasks.parquet                 task_index column, pandas index "task"
    meta/episodes/chunk-000/file-MMM.parquet   one row per episode, episodes 50*M .. 50*M+49
    data/chunk-CCC/file-FFF.parquet    one file per episode: chunk = e // 1000, file = e % 1000
    videos/<camera key>/chunk-CCC/file-FFF.mp4 one H.264 file per episode and camera (video mode)
    meta/gaussians/<body>.ply          canonical Gaussians per body, body frame (INRIA PLY)
    meta/gwm.json                      gwm extras: spec with body_names, image format, metadata

Every file is written under a temp name and renamed; the episode table is rewritten only after
that episode's data and videos are in place, then info.json. stats.json follows at most every
STATS_EVERY_S seconds while recording (it is derived data) and always at finalize and resume.
On resume the episode table is the truth: files of episodes it does not list are orphans and
are removed, and info.json / stats.json are rebuilt from it.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from gwm.atomic_io import remove_stray_temps, write_json_atomic, write_parquet_atomic
from gwm.data.base import DatasetReader, Recorder
from gwm.data.frames_codec import VideoConfig, decode_png, decode_video, encode_png, encode_video
from gwm.data.spec import DATASET_FORMAT_VERSION, DatasetError, DatasetSpec, FeatureSpec
from gwm.data.stats import aggregate_stats, feature_stats, stats_to_json
from gwm.splats import GaussianSplats

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000
EPISODES_PER_META_FILE = 50  # the last file is rewritten per episode: keep it small
STATS_EVERY_S = 2.0  # stats.json is refreshed at most this often while recording, and at finalize
DATA_FILES_SIZE_IN_MB = 100
VIDEO_FILES_SIZE_IN_MB = 200
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
GWM_PATH = "meta/gwm.json"
GAUSSIANS_DIR = "meta/gaussians"
EPISODES_DIR = "meta/episodes"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = EPISODES_DIR + "/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"

# Columns LeRobot adds to every frame (its DEFAULT_FEATURES).
DEFAULT_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
IMAGE_MODES = ("video", "png")


def is_lerobot_root(path: Path) -> bool:
    return (Path(path) / INFO_PATH).is_file()


# Arrow types: exactly what Hugging Face `datasets` stores for LeRobot's features --------------

def _pa():
    import pyarrow as pa

    return pa


def arrow_type(dtype: str, shape: tuple[int, ...]):
    pa = _pa()
    if dtype == "image":
        return pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    base = {"float32": pa.float32(), "float64": pa.float64(), "int64": pa.int64(), "bool": pa.bool_()}[dtype]
    if tuple(shape) == (1,):
        return base  # datasets.Value
    if len(shape) == 1:
        return pa.list_(base, shape[0])  # datasets.List(length=n): fixed-size list
    t = base
    for _ in shape:  # datasets.ArrayND storage: nested variable lists
        t = pa.list_(t)
    return t


def hf_feature(dtype: str, shape: tuple[int, ...]) -> dict:
    """The `datasets` (>= 4) Features entry, stored in the Parquet schema metadata."""
    if dtype == "image":
        return {"_type": "Image"}
    if tuple(shape) == (1,):
        return {"dtype": dtype, "_type": "Value"}
    if len(shape) == 1:
        return {"feature": {"dtype": dtype, "_type": "Value"}, "length": shape[0], "_type": "List"}
    return {"shape": list(shape), "dtype": dtype, "_type": f"Array{len(shape)}D"}


def to_arrow(values: np.ndarray, dtype: str, shape: tuple[int, ...]):
    """(T, *shape) numpy -> an Arrow array of arrow_type(dtype, shape)."""
    pa = _pa()
    t = values.shape[0]
    if tuple(shape) == (1,):
        return pa.array(values.reshape(t))
    flat = pa.array(np.ascontiguousarray(values).reshape(-1))
    if len(shape) == 1:
        return pa.FixedSizeListArray.from_arrays(flat, shape[0])
    arr, count = flat, values.size
    for dim in reversed(shape):
        count //= dim
        arr = pa.ListArray.from_arrays(pa.array(np.arange(count + 1, dtype=np.int32) * dim), arr)
    return arr


def from_arrow(column, dtype: str, shape: tuple[int, ...], where: str) -> np.ndarray:
    """Inverse of to_arrow for a (chunked) column; raises DatasetError on a size mismatch."""
    arr = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    t = len(arr)
    if arr.null_count:
        raise DatasetError(f"{where}: has {arr.null_count} null values; the data file is damaged")
    while hasattr(arr, "flatten") and not _pa().types.is_struct(arr.type):
        arr = arr.flatten()
    values = arr.to_numpy(zero_copy_only=False)
    if values.size != t * int(np.prod(shape)):
        raise DatasetError(f"{where}: holds {values.size} values for {t} frames of shape {shape}; the data file is damaged")
    np_dtype = np.bool_ if dtype == "bool" else np.dtype(dtype)
    values = values.astype(np_dtype, copy=False).reshape(t, *shape)
    return values if values.flags.writeable else values.copy()  # Arrow buffers are read-only


# Writer -------------------------------------------------------------------------------------------

class LeRobotRecorder(Recorder):
    format = "lerobot"

    def __init__(self, root, spec: DatasetSpec, *, canonical_gaussians=None, image_format: str = "video",
                 metadata: dict | None = None, video: VideoConfig = VideoConfig()):
        if image_format not in IMAGE_MODES:
            raise ValueError(f"image_format must be one of {IMAGE_MODES}, got {image_format!r}")
        super().__init__(root, spec, canonical_gaussians, metadata)
        self.image_format = image_format
        self.video = video
        self._stats_written_at = -float("inf")
        self._open_root(is_lerobot_root(self.root))

    @property
    def dataset_path(self) -> Path:
        return self.root

    @property
    def num_episodes(self) -> int:
        return len(self._rows)

    @property
    def video_keys(self) -> list[str]:
        return self.spec.camera_keys if self.image_format == "video" else []

    # create / resume ---------------------------------------------------------------
    def _create(self) -> None:
        for sub in ("data", "videos", EPISODES_DIR):
            if (self.root / sub).exists() and any((self.root / sub).rglob("*.*")):
                raise DatasetError(
                    f"{self.root}: has {sub}/ but no {INFO_PATH}; it is not a dataset this writer can resume. "
                    "Record into an empty folder"
                )
        from gwm.ply import write_ply

        for body, splats in self.canonical_gaussians.items():
            write_ply(self.root / GAUSSIANS_DIR / f"{body}.ply", splats, metadata={"body": body, **self.metadata})
        write_json_atomic(self.root / GWM_PATH, {
            "format": "gwm.dataset.lerobot",
            "format_version": DATASET_FORMAT_VERSION,
            "quaternion_order": "wxyz",
            "spec": self.spec.to_dict(),
            "image_format": self.image_format,
            "video": vars(self.video) if self.image_format == "video" else None,
            "gaussians": {b: f"{GAUSSIANS_DIR}/{b}.ply" for b in self.canonical_gaussians},
            "metadata": self.metadata,
        })
        self._rows: list[dict] = []
        self._row_tables: list = []
        self._episode_stats: list[dict] = []
        self._task_index: dict[str, int] = {}
        self._write_tasks()
        self._write_info()  # last: info.json marks the root as a dataset

    def _resume(self) -> None:
        reader = LeRobotReader(self.root, strict_totals=False)
        if not reader.spec.same_as(self.spec):
            raise DatasetError(
                f"{self.root}: existing dataset has spec {reader.spec.to_dict()}, the recorder was given "
                f"{self.spec.to_dict()}; resume with the same DatasetSpec or record into a new folder"
            )
        if self.spec.camera_keys and reader.image_format != self.image_format:
            raise DatasetError(
                f"{self.root}: existing dataset stores images as {reader.image_format!r}; "
                f"resume with image_format={reader.image_format!r}"
            )
        stored = reader.canonical_gaussians()
        if self.canonical_gaussians and not _same_gaussians(stored, self.canonical_gaussians):
            raise DatasetError(f"{self.root}: canonical_gaussians differ from the ones stored in {GAUSSIANS_DIR}/")
        self.canonical_gaussians = stored
        self.metadata = reader.metadata
        self.image_format = reader.image_format
        self._rows = reader.rows
        held = reader.heldout_episodes()
        self.heldout_from = held[0] if held else None
        self._row_tables = []
        stats_rows = read_episode_stats(self.root)
        self._episode_stats = [_row_stats(r) for r in stats_rows]
        for row, srow in zip(self._rows, stats_rows):
            row.update(srow)
        self._task_index = {t: i for i, t in enumerate(reader.tasks)}
        remove_stray_temps(self.root)
        self._remove_orphans()
        self._write_info()  # heal totals if a crash came between the episode table and info.json
        self._write_stats()

    def _remove_orphans(self) -> None:
        """Delete data/video files of episodes the episode table does not list (a crash mid-save)."""
        n = len(self._rows)
        for pattern in ("data/chunk-*/file-*.parquet", "videos/*/chunk-*/file-*.mp4"):
            for p in self.root.glob(pattern):
                chunk = int(p.parent.name.split("-")[1])
                file = int(p.stem.split("-")[1])
                if chunk * CHUNKS_SIZE + file >= n:
                    p.unlink()

    # episodes --------------------------------------------------------------------------
    def _write_episode(self, episode, tasks, success, seed) -> int:
        e = len(self._rows)
        t = len(tasks)
        start = self._rows[-1]["dataset_to_index"] if self._rows else 0
        chunk, file = divmod(e, CHUNKS_SIZE)

        new_tasks = [x for x in dict.fromkeys(tasks) if x not in self._task_index]
        if new_tasks:
            for x in new_tasks:
                self._task_index[x] = len(self._task_index)
            self._write_tasks()
        task_idx = np.array([self._task_index[x] for x in tasks], dtype=np.int64)

        row: dict = {
            "episode_index": e,
            "tasks": list(dict.fromkeys(tasks)),
            "length": t,
            "data/chunk_index": chunk,
            "data/file_index": file,
            "dataset_from_index": start,
            "dataset_to_index": start + t,
        }
        if self.video_keys:
            def encode(key):
                return encode_video(self.root / VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file),
                                    episode[key], self.spec.fps, self.video)

            with ThreadPoolExecutor(max_workers=len(self.video_keys)) as pool:
                list(pool.map(encode, self.video_keys))
            for key in self.video_keys:
                row[f"videos/{key}/chunk_index"] = chunk
                row[f"videos/{key}/file_index"] = file
                row[f"videos/{key}/from_timestamp"] = 0.0
                row[f"videos/{key}/to_timestamp"] = t / self.spec.fps

        defaults = {
            "timestamp": (np.arange(t) / self.spec.fps).astype(np.float32),
            "frame_index": np.arange(t, dtype=np.int64),
            "episode_index": np.full(t, e, dtype=np.int64),
            "index": np.arange(start, start + t, dtype=np.int64),
            "task_index": task_idx,
        }
        write_parquet_atomic(self.root / DATA_PATH.format(chunk_index=chunk, file_index=file),
                             self._frame_table(episode, defaults))

        # stats for the spec's features only: LeRobot normalizes those, not the index columns
        stats = {k: feature_stats(v, self.spec.features[k].is_image) for k, v in episode.items()}
        m = e // EPISODES_PER_META_FILE
        row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = divmod(m, CHUNKS_SIZE)
        row["success"] = success
        row["seed"] = seed
        for k, s in stats.items():
            for name, v in s.items():
                row[f"stats/{k}/{name}"] = np.asarray(v).tolist()

        self._rows.append(row)
        self._episode_stats.append(stats)
        try:
            self._write_episode_table(m)
        except BaseException:
            self._rows.pop()
            self._episode_stats.pop()
            del self._row_tables[len(self._rows):]
            raise
        self._write_info()
        if time.monotonic() - self._stats_written_at > STATS_EVERY_S:
            self._write_stats()
        return e

    def _frame_table(self, episode: dict[str, np.ndarray], defaults: dict[str, np.ndarray]):
        pa = _pa()
        columns, fields, hf = [], [], {}
        for key, ft in self.spec.features.items():
            if ft.is_image and self.image_format == "video":
                continue
            if ft.is_image:
                data = pa.array([encode_png(img) for img in episode[key]], pa.binary())
                arr = pa.StructArray.from_arrays([data, pa.nulls(len(data), pa.string())], names=["bytes", "path"])
            else:
                arr = to_arrow(episode[key], ft.dtype, ft.shape)
            columns.append(arr)
            fields.append(pa.field(key, arrow_type(ft.dtype, ft.shape)))
            hf[key] = hf_feature(ft.dtype, ft.shape)
        for key, values in defaults.items():
            columns.append(pa.array(values))
            fields.append(pa.field(key, arrow_type(DEFAULT_FEATURES[key]["dtype"], (1,))))
            hf[key] = hf_feature(DEFAULT_FEATURES[key]["dtype"], (1,))
        schema = pa.schema(fields, metadata={"huggingface": json.dumps({"info": {"features": hf}})})
        return pa.Table.from_arrays(columns, schema=schema)

    # metadata ----------------------------------------------------------------------------
    def _write_episode_table(self, m: int) -> None:
        pa = _pa()
        while len(self._row_tables) < len(self._rows):  # one-row tables, built once per episode
            self._row_tables.append(pa.Table.from_pylist([self._rows[len(self._row_tables)]]))
        parts = self._row_tables[m * EPISODES_PER_META_FILE:(m + 1) * EPISODES_PER_META_FILE]
        table = pa.concat_tables(parts, promote_options="default")
        c, f = divmod(m, CHUNKS_SIZE)
        write_parquet_atomic(self.root / EPISODES_PATH.format(chunk_index=c, file_index=f), table, small=True)

    def _write_tasks(self) -> None:
        pa = _pa()
        tasks = sorted(self._task_index, key=self._task_index.get)
        pandas_meta = {  # so pandas.read_parquet restores "task" as the index, as LeRobot expects
            "index_columns": ["task"],
            "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object",
                                "metadata": {"encoding": "UTF-8"}}],
            "columns": [
                {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64",
                 "metadata": None},
                {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object",
                 "metadata": None},
            ],
            "creator": {"library": "pyarrow", "version": pa.__version__},
            "pandas_version": "2.2.3",
        }
        schema = pa.schema([("task_index", pa.int64()), ("task", pa.string())],
                           metadata={"pandas": json.dumps(pandas_meta)})
        table = pa.Table.from_arrays([pa.array(range(len(tasks)), pa.int64()), pa.array(tasks, pa.string())],
                                     schema=schema)
        write_parquet_atomic(self.root / TASKS_PATH, table, small=True)

    def _info_features(self) -> dict:
        out = {}
        for key, ft in self.spec.features.items():
            if ft.is_image:
                h, w, c = ft.shape
                entry = {"dtype": "video" if self.image_format == "video" else "image", "shape": [h, w, c],
                         "names": ["height", "width", "channels"]}
                if self.image_format == "video":
                    entry["info"] = {
                        "video.height": h, "video.width": w, "video.codec": "h264", "video.pix_fmt": "yuv420p",
                        "video.is_depth_map": False, "video.fps": self.spec.fps, "video.channels": c,
                        "has_audio": False,
                    }
                out[key] = entry
            else:
                out[key] = ft.to_dict()
        return {**out, **DEFAULT_FEATURES}

    def _write_info(self) -> None:
        n = len(self._rows)
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": self.spec.robot_type,
            "total_episodes": n,
            "total_frames": self._rows[-1]["dataset_to_index"] if n else 0,
            "total_tasks": len(self._task_index),
            "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": DATA_FILES_SIZE_IN_MB,
            "video_files_size_in_mb": VIDEO_FILES_SIZE_IN_MB,
            "fps": self.spec.fps,
            "splits": self._splits(n),
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH if self.video_keys else None,
            "features": self._info_features(),
        }
        write_json_atomic(self.root / INFO_PATH, info)

    def _splits(self, n: int) -> dict:
        if not n:
            return {}
        k = self._split_bounds(n)
        return {"train": f"0:{k}", "valid": f"{k}:{n}"} if k < n else {"train": f"0:{n}"}

    def _write_stats(self) -> None:
        # normalisation statistics from the training episodes only: held-out episodes must not leak into them
        train = self._episode_stats[:self._split_bounds(len(self._episode_stats))]
        stats = aggregate_stats(train) if train else {}
        write_json_atomic(self.root / STATS_PATH, stats_to_json(stats))
        self._stats_written_at = time.monotonic()

    def _finalize(self) -> None:
        self._write_info()
        self._write_stats()


def _row_stats(row: dict) -> dict:
    out: dict = {}
    for key, value in row.items():
        if key.startswith("stats/"):
            _, feat_and_stat = key.split("/", 1)
            feat, stat = feat_and_stat.rsplit("/", 1)
            out.setdefault(feat, {})[stat] = np.asarray(value)
    return out


def _same_gaussians(a: dict[str, GaussianSplats], b: dict[str, GaussianSplats]) -> bool:
    if set(a) != set(b):
        return False
    return all(len(a[k]) == len(b[k]) and bool((a[k].means == b[k].means.to(a[k].means)).all()) for k in a)


# Reader --------------------------------------------------------------------------------------------

class LeRobotReader(DatasetReader):
    format = "lerobot"

    def __init__(self, root, strict_totals: bool = True):
        import pyarrow.parquet as pq

        self.path = self.root = Path(root)
        info_path = self.root / INFO_PATH
        if not info_path.is_file():
            raise DatasetError(
                f"{self.root}: {INFO_PATH} is missing, so this is not a LeRobot v3.0 dataset root "
                "(point at the folder that holds meta/, or re-record / re-convert the dataset)"
            )
        self.info = _load_json(info_path)
        version = self.info.get("codebase_version")
        if version != CODEBASE_VERSION:
            raise DatasetError(
                f"{self.root}: codebase_version is {version!r}, this reader needs {CODEBASE_VERSION!r}; "
                "convert older datasets with lerobot's convert_dataset_v21_to_v30"
            )
        for key in ("fps", "features", "total_episodes", "total_frames", "data_path"):
            if key not in self.info:
                raise DatasetError(f"{info_path}: has no {key!r}; the file is damaged: re-record or re-convert")
        gwm = _load_json(self.root / GWM_PATH) if (self.root / GWM_PATH).is_file() else {}
        self.metadata = gwm.get("metadata", {})
        self._gaussian_files = gwm.get("gaussians", {})
        self.spec, self.image_format = self._spec_from_info(gwm)

        tasks_path = self.root / TASKS_PATH
        if not tasks_path.is_file():
            raise DatasetError(f"{self.root}: {TASKS_PATH} is missing; the dataset is incomplete: re-record or re-convert it")
        tasks_table = _read_parquet(tasks_path, "the task table")
        task_col = "task" if "task" in tasks_table.column_names else "__index_level_0__"
        if task_col not in tasks_table.column_names or "task_index" not in tasks_table.column_names:
            raise DatasetError(f"{tasks_path}: needs columns 'task' and 'task_index', has {tasks_table.column_names}")
        by_index = dict(zip(tasks_table["task_index"].to_pylist(), tasks_table[task_col].to_pylist()))
        self.tasks = [by_index[i] for i in sorted(by_index)]

        rows: list[dict] = []
        for p in sorted((self.root / EPISODES_DIR).glob("*/*.parquet")):
            rows.extend(_read_parquet(p, "the episode table", skip_prefix="stats/").to_pylist())
        rows.sort(key=lambda r: r.get("episode_index", -1))
        self.rows = rows
        self._validate_rows(strict_totals)
        self._pq = pq

    def _spec_from_info(self, gwm: dict) -> tuple[DatasetSpec, str]:
        if "spec" in gwm:
            spec = DatasetSpec.from_dict(gwm["spec"])
            return spec, gwm.get("image_format", "video")
        features, image_format = {}, "png"
        for key, ft in self.info["features"].items():
            if key in DEFAULT_FEATURES:
                continue
            if ft["dtype"] in ("video", "image"):
                if ft["dtype"] == "video":
                    image_format = "video"
                features[key] = FeatureSpec("image", tuple(ft["shape"]))
            elif ft["dtype"] in ("float32", "float64", "int64", "bool"):
                features[key] = FeatureSpec(ft["dtype"], tuple(ft["shape"]), ft.get("names") if isinstance(ft.get("names"), list) else None)
            else:
                raise DatasetError(f"{self.root}: feature {key!r} has dtype {ft['dtype']!r}, which this reader does not support")
        return DatasetSpec(fps=self.info["fps"], features=features, robot_type=self.info.get("robot_type") or ""), image_format

    def _validate_rows(self, strict_totals: bool) -> None:
        n = len(self.rows)
        where = f"{self.root}/{EPISODES_DIR}"
        if n == 0 and self.info["total_episodes"] > 0:
            raise DatasetError(f"{where}: no episode table files, but info.json lists {self.info['total_episodes']} "
                               "episodes; the metadata is missing: re-record or re-convert the dataset")
        required = ["episode_index", "length", "data/chunk_index", "data/file_index",
                    "dataset_from_index", "dataset_to_index"]
        required += [f"videos/{k}/{c}" for k in self.video_keys for c in ("chunk_index", "file_index", "from_timestamp")]
        if n:
            missing = [c for c in required if c not in self.rows[0]]
            if missing:
                raise DatasetError(f"{where}: the episode table lacks columns {missing}; the metadata is damaged")
        if [r["episode_index"] for r in self.rows] != list(range(n)):
            raise DatasetError(f"{where}: episode indices are not 0..{n - 1}; the episode table is damaged")
        end = 0
        for r in self.rows:
            if r["dataset_from_index"] != end or r["dataset_to_index"] - r["dataset_from_index"] != r["length"] or r["length"] <= 0:
                raise DatasetError(
                    f"{where}: episode {r['episode_index']} spans frames {r['dataset_from_index']}..{r['dataset_to_index']} "
                    f"with length {r['length']}, after frame {end}; the episode table is inconsistent"
                )
            end = r["dataset_to_index"]
        if strict_totals and (n != self.info["total_episodes"] or end != self.info["total_frames"]):
            raise DatasetError(
                f"{self.root}: info.json says {self.info['total_episodes']} episodes / {self.info['total_frames']} frames, "
                f"the episode table has {n} / {end}: a writer stopped between updates. Resume it "
                "(create_recorder on this root, then finalize()) to rebuild the metadata"
            )

    @property
    def video_keys(self) -> list[str]:
        return [k for k, ft in self.info["features"].items() if ft["dtype"] == "video"]

    @property
    def num_episodes(self) -> int:
        return len(self.rows)

    def episode_length(self, i: int) -> int:
        return int(self.rows[i]["length"])

    def episode_info(self, i: int) -> dict:
        r = self.rows[self._check_index(i)]
        tasks = r.get("tasks") or [""]
        seed = r.get("seed")
        return {"success": bool(r.get("success")), "seed": -1 if seed is None else int(seed),
                "task": tasks[0], "length": int(r["length"])}

    def heldout_episodes(self) -> list[int]:
        """info.json's splits["valid"] ("start:end"), as the recorder's mark_heldout wrote it."""
        valid = (self.info.get("splits") or {}).get("valid")
        if not valid:
            return []
        try:
            start, end = (int(x) for x in str(valid).split(":"))
        except ValueError as e:
            raise DatasetError(f"{self.root}/{INFO_PATH}: splits['valid'] is {valid!r}, expected 'start:end'") from e
        return list(range(max(0, start), min(end, self.num_episodes)))

    def frame_tasks(self, i: int) -> list[str]:
        table = self._episode_table(self._check_index(i), ["task_index"])
        return [self.tasks[j] for j in table["task_index"].to_pylist()]

    def data_file(self, i: int) -> Path:
        r = self.rows[i]
        return self.root / self.info["data_path"].format(chunk_index=r["data/chunk_index"], file_index=r["data/file_index"])

    def video_file(self, i: int, key: str) -> Path:
        r = self.rows[i]
        return self.root / self.info["video_path"].format(
            video_key=key, chunk_index=r[f"videos/{key}/chunk_index"], file_index=r[f"videos/{key}/file_index"])

    def _episode_table(self, i: int, columns: list[str]):
        import pyarrow.compute as pc

        path = self.data_file(i)
        if not path.is_file():
            raise DatasetError(f"{path}: data file of episode {i} is missing; the dataset is incomplete: "
                               "re-record or re-convert it")
        try:
            table = self._pq.read_table(path, columns=sorted(set(columns) | {"episode_index"}))
        except Exception as e:  # pyarrow raises ArrowInvalid/OSError for truncated or damaged files
            raise DatasetError(f"{path}: episode {i} is not a readable Parquet file ({e}); it is truncated or "
                               "damaged: re-record or re-convert this episode") from e
        if table.num_rows != self.episode_length(i) or pc.any(pc.not_equal(table["episode_index"], i)).as_py():
            table = table.filter(pc.equal(table["episode_index"], i))  # files may hold several episodes
        if table.num_rows != self.episode_length(i):
            raise DatasetError(
                f"{path}: episode {i} has {table.num_rows} rows, the episode table says {self.episode_length(i)}; "
                "the data and metadata disagree: re-record or re-convert this episode"
            )
        return table

    def _read_episode(self, i: int, keys: list[str]) -> dict[str, np.ndarray]:
        video = set(self.video_keys)
        columns = [k for k in keys if k not in video]
        out = {}
        if columns:
            table = self._episode_table(i, columns)
            for key in columns:
                ft = self.spec.features[key]
                where = f"{self.data_file(i)}: episode {i}: column {key!r}"
                if ft.is_image:
                    col = table[key].combine_chunks()
                    blobs = col.field("bytes").to_pylist()
                    if any(b is None for b in blobs):
                        raise DatasetError(f"{where}: has frames without image bytes; the data file is damaged")
                    out[key] = np.stack([decode_png(b) for b in blobs])
                else:
                    out[key] = from_arrow(table[key], ft.dtype, ft.shape, where)
        for key in keys:
            if key in video:
                h, w, _ = self.spec.features[key].shape
                first = round(float(self.rows[i][f"videos/{key}/from_timestamp"]) * self.spec.fps)
                out[key] = decode_video(self.video_file(i, key), h, w, first, self.episode_length(i))
        return {k: out[k] for k in keys}

    def _load_canonical_gaussians(self) -> dict[str, GaussianSplats]:
        from gwm.ply import read_ply

        out = {}
        for body, rel in self._gaussian_files.items():
            path = self.root / rel
            if not path.is_file():
                raise DatasetError(f"{path}: canonical Gaussians of body {body!r} are missing; copy the whole "
                                   "dataset folder (meta/gaussians/ included)")
            out[body] = read_ply(path)
        return out


def _load_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path}: not readable JSON ({e}); the metadata is damaged: re-record or re-convert") from e


def read_episode_stats(root: Path) -> list[dict]:
    """The stats/* columns of the episode table, one dict per episode (in episode order)."""
    rows: list[dict] = []
    for p in sorted((Path(root) / EPISODES_DIR).glob("*/*.parquet")):
        table = _read_parquet(p, "the episode table")
        rows.extend(table.select([c for c in table.column_names if c.startswith("stats/")]).to_pylist())
    return rows


def _read_parquet(path: Path, what: str, skip_prefix: str | None = None):
    import pyarrow.parquet as pq

    try:
        if skip_prefix:
            names = pq.read_schema(path).names
            return pq.read_table(path, columns=[n for n in names if not n.startswith(skip_prefix)])
        return pq.read_table(path)
    except Exception as e:
        raise DatasetError(f"{path}: {what} is not a readable Parquet file ({e}); it is truncated or damaged") from e

"""The one atomic writer: temp name in the same folder, fsync, rename. Every artifact goes through here (core
module, so writing a PLY or a checkpoint does not load the dataset formats).

Temp names look like `.<name>.tmp-<pid>`: they never match `*.parquet`, `*.mp4` or `*.hdf5`, so
LeRobot's globs and our readers skip them; a resuming writer deletes them. Writers that pick a
format from the file's extension (images, SPZ, videos) ask for `keep_suffix` (`.<stem>.tmp-<pid>.png`):
use that only outside dataset folders.

    with atomic_write_path(path) as tmp:   # any writer that takes a path
        save(tmp)                          # on success tmp replaces path; on error tmp is removed
    write_text_atomic(path, text); write_json_atomic(path, obj); write_bytes_atomic(path, data)
    with atomic_dir(out) as tmp: ...       # a whole folder, swapped in when complete
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_MARKER = ".tmp-"

# The rename alone makes every write atomic for a killed or crashed process (the data is in the
# page cache). FSYNC = True also makes it survive power loss, at ~8 ms per file on these disks.
FSYNC = False


def temp_path_for(path: Path, keep_suffix: bool = False) -> Path:
    path = Path(path)
    if keep_suffix:
        return path.with_name(f".{path.stem}{TMP_MARKER}{os.getpid()}{path.suffix}")
    return path.with_name(f".{path.name}{TMP_MARKER}{os.getpid()}")


def commit_temp(tmp: Path, path: Path) -> Path:
    """fsync tmp and rename it onto path (atomic on POSIX)."""
    if FSYNC:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(tmp, path)
    return path


@contextmanager
def atomic_write_path(path, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temp path beside path (folder created); it replaces path when the block ends without
    an error, and is removed when it raises, so path is either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path, keep_suffix)
    try:
        yield tmp
        commit_temp(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    with atomic_write_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode())


def jsonable(value):
    """Plain JSON data from configs and metadata: keys as strings, tuples as lists, numpy and torch arrays and
    scalars as lists and numbers, paths as strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "detach"):  # a torch tensor
        return value.detach().cpu().tolist()
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    return value


def write_json_atomic(path: Path, obj, indent: int = 4, **dumps_options) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=indent, ensure_ascii=False, **dumps_options) + "\n")


def write_parquet_atomic(path: Path, table, small: bool = False) -> Path:
    """small: a metadata table rewritten often; skip compression, dictionaries and column statistics
    (they cost more than they save on a few rows with many columns)."""
    import pyarrow.parquet as pq

    with atomic_write_path(path) as tmp:
        if small:
            pq.write_table(table, tmp, compression="none", use_dictionary=False, write_statistics=False)
        else:
            pq.write_table(table, tmp, compression="snappy")
    return Path(path)


@contextmanager
def atomic_dir(out, marker: str = ".partial-") -> Iterator[Path]:
    """Yield an empty temp folder beside out; when the block succeeds it takes out's place (an old out
    is moved aside first and deleted only after the swap); when it raises the temp folder is deleted."""
    out = Path(out)
    tmp = out.parent / f".{out.name}{marker}{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_stray_temps(root: Path) -> list[Path]:
    """Delete temp files a killed writer left behind (call only while holding the writer lock)."""
    removed = []
    for p in Path(root).rglob(f".*{TMP_MARKER}*"):
        if p.is_file():
            p.unlink()
            removed.append(p)
    return removed


class WriterLock:
    """One writer per dataset root: an exclusive flock, released by the kernel if the process dies."""

    def __init__(self, root: Path):
        self.path = Path(root) / ".gwm-writer.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(
                f"{self.path.parent}: another process is recording into this dataset; "
                "finish or stop it first (one writer per root)"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


__all__ = ["FSYNC", "TMP_MARKER", "WriterLock", "atomic_dir", "atomic_write_path", "commit_temp", "remove_stray_temps",
           "jsonable", "temp_path_for", "write_bytes_atomic", "write_json_atomic", "write_parquet_atomic", "write_text_atomic"]

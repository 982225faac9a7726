"""Crash-safe file writes for dataset writers: temp name in the same folder, fsync, rename.

Temp names look like `.<name>.tmp-<pid>`: they never match `*.parquet`, `*.mp4` or `*.hdf5`, so
LeRobot's globs and our readers skip them; a resuming writer deletes them.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

TMP_MARKER = ".tmp-"

# The rename alone makes every write atomic for a killed or crashed process (the data is in the
# page cache). FSYNC = True also makes it survive power loss, at ~8 ms per file on these disks.
FSYNC = False


def temp_path_for(path: Path) -> Path:
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


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    with open(tmp, "wb") as f:
        f.write(data)
    return commit_temp(tmp, path)


def write_json_atomic(path: Path, obj) -> Path:
    return write_bytes_atomic(path, (json.dumps(obj, indent=4, ensure_ascii=False) + "\n").encode())


def write_parquet_atomic(path: Path, table, small: bool = False) -> Path:
    """small: a metadata table rewritten often; skip compression, dictionaries and column statistics
    (they cost more than they save on a few rows with many columns)."""
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    if small:
        pq.write_table(table, tmp, compression="none", use_dictionary=False, write_statistics=False)
    else:
        pq.write_table(table, tmp, compression="snappy")
    return commit_temp(tmp, path)


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

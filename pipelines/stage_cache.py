"""Content-addressed stage cache: a stage re-runs only when its inputs or config change.

Each stage has a record `<out_root>/stages/<name>.json`. Its key hashes the *contents* of the
input files (not their paths), the stage's resolved config and a code version.
- done, same key, outputs present -> skipped (cached);
- started but never finished with the same key (killed) -> run again in the same folder,
  so writers that resume (rollout recording) keep what was finished;
- any other key -> the stage's folder is cleared first, so no stale output survives.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

_CHUNK = 1 << 20


def hash_path(path: str | os.PathLike, h=None) -> str:
    """SHA-256 of a file's bytes, or of a folder's relative file names and bytes."""
    h = h or hashlib.sha256()
    p = Path(path)
    if p.is_dir():
        for child in sorted(q for q in p.rglob("*") if q.is_file()):
            h.update(str(child.relative_to(p)).encode())
            _hash_file(child, h)
    elif p.is_file():
        _hash_file(p, h)
    else:
        raise FileNotFoundError(f"stage input {p} does not exist")
    return h.hexdigest()


def _hash_file(p: Path, h) -> None:
    with open(p, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)


def stage_key(name: str, inputs: dict[str, str | os.PathLike], config: dict, version: str) -> str:
    h = hashlib.sha256(f"{name}\0{version}\0".encode())
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    for label in sorted(inputs):
        h.update(label.encode())
        hash_path(inputs[label], h)
    return h.hexdigest()


@dataclass
class StageResult:
    name: str
    outputs: dict[str, str]  # label -> path
    figures: dict = field(default_factory=dict)
    cached: bool = False
    seconds: float = 0.0


def _write_record(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str))
    os.replace(tmp, path)


def run_stage(
    name: str,
    out_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    inputs: dict[str, str | os.PathLike],
    config: dict,
    run: Callable[[], tuple[dict[str, str], dict]],
    version: str = "1",
) -> StageResult:
    """Run `run()` -> (outputs, figures) into out_dir unless a finished run with the same key exists."""
    out_dir = Path(out_dir)
    record_path = Path(out_root) / "stages" / f"{name}.json"
    key = stage_key(name, inputs, config, version)
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    if record.get("key") == key and record.get("state") == "done":
        if all(Path(p).exists() for p in record["outputs"].values()):
            return StageResult(name, record["outputs"], record.get("figures", {}), cached=True,
                               seconds=record.get("seconds", 0.0))
    if record.get("key") != key and out_dir.exists():
        shutil.rmtree(out_dir)  # made from other inputs: never mix it with this run's output
    _write_record(record_path, {"stage": name, "key": key, "state": "running", "config": config})
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    outputs, figures = run()
    outputs = {k: str(v) for k, v in outputs.items()}
    seconds = time.perf_counter() - start
    _write_record(record_path, {"stage": name, "key": key, "state": "done", "config": config,
                                "outputs": outputs, "figures": figures, "seconds": seconds})
    return StageResult(name, outputs, figures, cached=False, seconds=seconds)

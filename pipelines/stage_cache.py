"""Content-addressed stage cache: a stage re-runs only when its inputs, config or code change.

Each stage has a record `<out_root>/stages/<name>.json`. Its key hashes
- the *contents* of the input files (not their paths);
- the full library configs the stage runs with (dataclasses, every field, nested ones included;
  a path inside a config counts by its file's contents);
- a fingerprint of the code it runs: the source of the library modules it calls and of every
  project module those import, anywhere in the file (functions import heavy dependencies
  inside), so an edit re-runs exactly the stages that can execute the edited file; and the
  versions of the installed libraries those files import.

With that key, a stage whose record says
- done, same key, outputs present -> skipped (cached);
- started but never finished with the same key (killed) -> run again in the same folder,
  so writers that resume (rollout recording) keep what was finished;
- any other key -> the stage's folder is cleared first, so no stale output survives.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from gwm.atomic_io import write_text_atomic

_CHUNK = 1 << 20
PROJECT_ROOT = Path(__file__).resolve().parents[1]


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


def plain_config(value, path_contents: bool = False):
    """A config (dataclasses, nested in dicts, lists, tuples) as JSON-able data; each dataclass keeps
    its class name. path_contents: a Path becomes the SHA-256 of its file or folder (for keys)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__class__": type(value).__qualname__,
                **{f.name: plain_config(getattr(value, f.name), path_contents) for f in dataclasses.fields(value)}}
    if isinstance(value, dict):
        return {str(k): plain_config(v, path_contents) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_config(v, path_contents) for v in value]
    if isinstance(value, Path):
        return {"sha256": hash_path(value)} if path_contents and value.exists() else str(value)
    return value


def module_files(modules, root: str | os.PathLike = PROJECT_ROOT) -> list[Path]:
    """Source files of the given modules (dotted names under root) and of every module under root that
    they import, transitively: package __init__ files, imports inside functions and relative imports
    included. Imports of anything outside root (numpy, torch, ...) are not followed."""
    root = Path(root)
    seen: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(root, name)
        if path is None:
            continue  # not a module under root (a third-party one, or a name imported from a module)
        seen[name] = path
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # importing a.b.c runs a and a.b
        package = parts if path.name == "__init__.py" else parts[:-1]
        for level, module, names in _imports(path.read_bytes()):
            base = ".".join(x for x in (".".join(package[:len(package) - level + 1] if level else []), module) if x)
            todo += [base] + [f"{base}.{n}" for n in names]
    return sorted(set(seen.values()))


@functools.lru_cache(maxsize=4096)
def _imports(source: bytes) -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    """(level, module, names) of every import statement in a source file (`import a.b`: (0, "a.b", ()))."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(0, a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or "", tuple(a.name for a in node.names)))
    return tuple(found)


def _module_file(root: Path, name: str) -> Path | None:
    p = root.joinpath(*name.split("."))
    for candidate in (p / "__init__.py", p.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def dependency_versions(files, root: str | os.PathLike = PROJECT_ROOT) -> dict[str, str]:
    """Installed versions of the third-party distributions that the source files import (numpy, newton, ...)."""
    from importlib.metadata import version

    tops = {module.split(".")[0] for path in files for level, module, _ in _imports(Path(path).read_bytes())
            if level == 0 and module}
    dists = _distributions_by_module()
    return {d: version(d) for top in sorted(tops) if _module_file(Path(root), top) is None
            for d in dists.get(top, ())}


@functools.lru_cache(maxsize=1)
def _distributions_by_module() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return packages_distributions()


def code_fingerprint(modules, root: str | os.PathLike = PROJECT_ROOT) -> str:
    """SHA-256 of the names and bytes of module_files(modules, root), and of the versions of the installed
    libraries those files import (an upgraded simulator or torch re-runs what uses it)."""
    h = hashlib.sha256()
    files = module_files(modules, root)
    for path in files:
        h.update(str(path.relative_to(root)).encode() + b"\0")
        _hash_file(path, h)
    h.update(json.dumps(dependency_versions(files, root), sort_keys=True).encode())
    return h.hexdigest()


def stage_key(name: str, inputs: dict[str, str | os.PathLike], config, code, root=PROJECT_ROOT) -> str:
    """The cache key of stage `name`: its inputs' contents, its config in full, the fingerprint of its code."""
    h = hashlib.sha256(f"{name}\0{code_fingerprint(code, root)}\0".encode())
    h.update(json.dumps(plain_config(config, path_contents=True), sort_keys=True).encode())
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
    write_text_atomic(path, json.dumps(record, indent=2, default=str))


def run_stage(
    name: str,
    out_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    inputs: dict[str, str | os.PathLike],
    config,
    run: Callable[[], tuple[dict[str, str], dict]],
    *,
    code: tuple[str, ...],
) -> StageResult:
    """Run `run()` -> (outputs, figures) into out_dir unless a finished run with the same key exists.

    config: the library configs `run` uses (dataclasses, or dicts of them and plain values);
    code: the modules `run` calls into (dotted names), see code_fingerprint."""
    out_dir = Path(out_dir)
    record_path = Path(out_root) / "stages" / f"{name}.json"
    key = stage_key(name, inputs, config, code)
    config = plain_config(config)  # the record shows it readably
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

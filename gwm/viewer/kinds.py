"""What a path given to `gwm view` is, judged from what is on disk (suffix, marker files), never from its name."""

from __future__ import annotations

import json
from pathlib import Path

VIEW_KINDS = ("splat", "capture", "scene", "dataset", "validation")
_SCENE_SUFFIXES = (".usd", ".usda", ".usdc", ".usdz")  # gwm.scene.usd_scene.USD_SUFFIXES (pxr not imported here)
_WHAT_OPENS = ("a splat .ply, a capture folder (transforms.json), a scene .usd/.usdz (or a folder with "
               "scene.usdz), a LeRobot or HDF5 dataset, or a validation folder (metrics.json)")


def is_validation_run(folder: Path) -> bool:
    """A folder gwm.model.validate wrote: metrics.json with per-horizon metrics and its info."""
    metrics = folder / "metrics.json"
    if not metrics.is_file():
        return False
    try:
        data = json.loads(metrics.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and {"horizon", "metrics", "info"} <= data.keys()


def detect_kind(path: str | Path) -> tuple[str, Path]:
    """(kind, the path to open) for a path; ValueError naming what the viewer opens when it is none of them."""
    from gwm.data.api import detect_format
    from gwm.data.spec import DatasetError

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder; give {_WHAT_OPENS}")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".ply":
            return "splat", path
        if suffix in _SCENE_SUFFIXES:
            return "scene", path
        if path.name == "transforms.json":
            return "capture", path.parent
        if path.name == "metrics.json" and is_validation_run(path.parent):
            return "validation", path.parent
    try:
        detect_format(path)
        return "dataset", path
    except DatasetError:
        pass
    if path.is_dir():
        if (path / "transforms.json").is_file():
            return "capture", path
        if is_validation_run(path):
            return "validation", path
        if (path / "scene.usdz").is_file():  # the pipeline's scene/ output folder
            return "scene", path / "scene.usdz"
        if (path / "splat.ply").is_file():  # the pipeline's reconstruct/ output folder
            return "splat", path / "splat.ply"
    raise ValueError(f"{path}: not a kind of path the viewer opens; give {_WHAT_OPENS}")


def viewable(path: str | Path) -> Path | None:
    """The path `gwm view` opens for an output (a validation report.md -> its run folder), or None when the
    viewer opens no such kind (a scene file, a model, an image)."""
    path = Path(path)
    if path.name == "report.md" and is_validation_run(path.parent):
        return path.parent
    try:
        detect_kind(path)
    except (ValueError, FileNotFoundError):
        return None
    return path


__all__ = ["VIEW_KINDS", "detect_kind", "is_validation_run", "viewable"]

"""Checkpoints in safetensors (never pickle): tensors + JSON metadata, written atomically.

A checkpoint holds `model/...` (weights and normalisation buffers), optionally `optim/<name>/...`
(optimizer state tensors; hyper-parameters as JSON) and `rng/...` (generator states), and metadata:
format, format_version, the resolved config (JSON), shapes needed to rebuild the model, the training
step, and the dataset's scene normalisation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from gwm.atomic_io import atomic_write_path

FORMAT = "gwm.world_model"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: corrupt, wrong format/version, or for another model."""


def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    meta.update({k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in metadata.items()})
    with atomic_write_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=meta)
    return path


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """-> (tensors, metadata strings). Raises CheckpointError with the problem and the fix."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; train first (gwm model train DATASET OUT)")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for truncated/garbled files
        raise CheckpointError(f"checkpoint {path} is corrupt or not a safetensors file ({type(e).__name__}: {e}); "
                              "delete it and resume from another checkpoint, or retrain") from e
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a gwm world-model checkpoint (format={meta.get('format')!r}, "
                              f"expected {FORMAT!r}); pass a file written by gwm model train")
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise CheckpointError(f"{path} has checkpoint format_version {meta.get('format_version')}, this code reads "
                              f"{FORMAT_VERSION}; use the gwm version that wrote it or retrain")
    return tensors, meta


def load_state_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """load_state_dict with an error that lists the mismatches instead of a wall of keys."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(state)) if own[k].shape != state[k].shape]
    if missing or unexpected or shapes:
        lines = ([f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}"] if missing else []) + \
                ([f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}"] if unexpected else []) + \
                shapes[:5]
        raise CheckpointError(f"{what} does not match this model ({'; '.join(lines)}); it was made with another "
                              "config or dataset: use the same preset and dataset, or a new output folder")
    module.load_state_dict(state)


def optimizer_to_tensors(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer state -> flat tensors + JSON-able rest (param_groups, non-tensor state)."""
    sd = opt.state_dict()
    tensors, extra = {}, {}
    for idx, st in sd["state"].items():
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"{prefix}/state/{idx}/{key}"] = val
            else:
                extra[f"{idx}/{key}"] = val
    return tensors, {"param_groups": sd["param_groups"], "extra": extra}


def optimizer_from_tensors(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], info: dict, prefix: str,
                           ) -> None:
    state: dict[int, dict] = {}
    head = f"{prefix}/state/"
    for name, val in tensors.items():
        if name.startswith(head):
            idx, key = name[len(head):].split("/", 1)
            state.setdefault(int(idx), {})[key] = val
    for name, val in info["extra"].items():
        idx, key = name.split("/", 1)
        state.setdefault(int(idx), {})[key] = val
    try:
        opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})
    except ValueError as e:
        raise CheckpointError(f"optimizer state in the checkpoint does not fit this model ({e}); "
                              "use the same preset, or a new output folder") from e


__all__ = ["CheckpointError", "FORMAT", "FORMAT_VERSION", "load_checkpoint", "load_state_strict",
           "optimizer_from_tensors", "optimizer_to_tensors", "save_checkpoint"]

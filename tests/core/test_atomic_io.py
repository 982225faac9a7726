"""The one atomic writer: a target is either the old file or the whole new one, never a half; no temp left."""

import json

import pytest

from gwm.atomic_io import TMP_MARKER, atomic_dir, atomic_write_path, write_json_atomic, write_text_atomic


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if TMP_MARKER in p.name or ".partial-" in p.name or ".old-" in p.name)


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "report.json"
    write_json_atomic(target, {"v": 1})
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_write_path(target) as tmp:
            tmp.write_text('{"v": 2, "trunc')  # half written, then the writer dies
            raise RuntimeError("disk full")
    assert json.loads(target.read_text()) == {"v": 1}
    assert _leftovers(target.parent) == []


def test_successful_write_replaces_and_keeps_suffix_when_asked(tmp_path):
    target = tmp_path / "plot.png"
    write_text_atomic(target, "old")
    with atomic_write_path(target, keep_suffix=True) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png" and tmp.name.startswith(".plot" + TMP_MARKER)
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert _leftovers(tmp_path) == []
    write_json_atomic(tmp_path / "a.json", {"x": [1, 2]}, indent=2)
    assert (tmp_path / "a.json").read_text() == '{\n  "x": [\n    1,\n    2\n  ]\n}\n'


def test_atomic_dir_swaps_a_whole_folder_or_nothing(tmp_path):
    out = tmp_path / "capture"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("1")
    assert (out / "a.txt").read_text() == "1"
    with pytest.raises(ValueError):
        with atomic_dir(out) as tmp:
            (tmp / "b.txt").write_text("2")
            raise ValueError("stage failed")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]  # the old output is untouched
    with atomic_dir(out) as tmp:
        (tmp / "c.txt").write_text("3")
    assert sorted(p.name for p in out.iterdir()) == ["c.txt"]  # replaced as a whole
    assert _leftovers(tmp_path) == []


def test_jsonable_turns_configs_and_metadata_into_plain_json():
    from pathlib import Path

    import numpy as np
    import torch

    from gwm.atomic_io import jsonable

    value = {1: (np.float32(1.5), np.bool_(True), np.arange(3), torch.ones(2, dtype=torch.float64), Path("/a"))}
    out = jsonable(value)
    assert out == {"1": [1.5, True, [0, 1, 2], [1.0, 1.0], "/a"]}
    assert json.loads(json.dumps(out)) == out  # round trips as JSON, types and all

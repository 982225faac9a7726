import json

import pytest

from pipelines.stage_cache import hash_path, run_stage

CODE = ("pipelines.stage_cache",)


def _counting_stage(out_dir, calls, text="x"):
    def run():
        calls.append(1)
        (out_dir / "result.txt").write_text(text)
        return {"result": out_dir / "result.txt"}, {"n": len(calls)}
    return run


def test_second_run_is_cached_and_content_change_reruns(tmp_path):
    inp = tmp_path / "input.txt"
    inp.write_text("a")
    out, calls = tmp_path / "out" / "stage", []
    r1 = run_stage("s", tmp_path / "out", out, {"in": inp}, {"k": 1}, _counting_stage(out, calls), code=CODE)
    r2 = run_stage("s", tmp_path / "out", out, {"in": inp}, {"k": 1}, _counting_stage(out, calls), code=CODE)
    assert (r1.cached, r2.cached, len(calls)) == (False, True, 1)
    assert r2.figures == {"n": 1} and r2.outputs == r1.outputs
    # Same bytes under another path name: still cached (keys hash contents, not paths).
    moved = tmp_path / "renamed.txt"
    moved.write_text("a")
    assert run_stage("s", tmp_path / "out", out, {"in": moved}, {"k": 1}, _counting_stage(out, calls), code=CODE).cached
    inp.write_text("b")
    assert not run_stage("s", tmp_path / "out", out, {"in": inp}, {"k": 1}, _counting_stage(out, calls), code=CODE).cached
    assert not run_stage("s", tmp_path / "out", out, {"in": inp}, {"k": 2}, _counting_stage(out, calls), code=CODE).cached
    assert len(calls) == 3


def test_changed_key_clears_stale_output_but_killed_run_resumes_in_place(tmp_path):
    inp = tmp_path / "input.txt"
    inp.write_text("a")
    out = tmp_path / "out" / "stage"

    def killed():
        (out / "partial.txt").write_text("episode 0")
        raise KeyboardInterrupt  # the process dies mid-stage

    with pytest.raises(KeyboardInterrupt):
        run_stage("s", tmp_path / "out", out, {"in": inp}, {}, killed, code=CODE)
    record = json.loads((tmp_path / "out" / "stages" / "s.json").read_text())
    assert record["state"] == "running"

    seen = []

    def resume():
        seen.append((out / "partial.txt").exists())
        return {"partial": out / "partial.txt"}, {}

    run_stage("s", tmp_path / "out", out, {"in": inp}, {}, resume, code=CODE)
    assert seen == [True]  # same key: the partial work was kept for the stage to resume
    inp.write_text("changed")
    run_stage("s", tmp_path / "out", out, {"in": inp}, {}, resume, code=CODE)
    assert seen == [True, False]  # new key: stale output removed before running


def test_deleted_output_reruns(tmp_path):
    inp = tmp_path / "input.txt"
    inp.write_text("a")
    out, calls = tmp_path / "out" / "stage", []
    run_stage("s", tmp_path / "out", out, {"in": inp}, {}, _counting_stage(out, calls), code=CODE)
    (out / "result.txt").unlink()
    assert not run_stage("s", tmp_path / "out", out, {"in": inp}, {}, _counting_stage(out, calls), code=CODE).cached


def test_hash_path_of_folder_sees_names_and_bytes(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "a").write_text("1")
    h1 = hash_path(d)
    (d / "a").rename(d / "b")
    h2 = hash_path(d)
    (d / "b").write_text("2")
    assert len({h1, h2, hash_path(d)}) == 3
    with pytest.raises(FileNotFoundError, match="does not exist"):
        hash_path(tmp_path / "missing")

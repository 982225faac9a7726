"""Bad input where a user types ends in one clear line and a non-zero exit code, never a traceback;
allowed but implausible input (no objects, impossible densities) warns in one line and carries on."""

import re
import warnings

import pytest
from typer.testing import CliRunner

from pipelines.cli_main import app
from gwm.scene import assemble_scene, parse_scene_config
from gwm.scene.config import SceneWarning


def _invoke(args):
    r = CliRunner().invoke(app, [str(a) for a in args])
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    return r, lines


def _one_error_line(r, lines, *needles):
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception  # no uncaught error
    assert "Traceback" not in r.output
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture()
def damaged_splats(tabletop, tmp_path):
    root, _, _ = tabletop
    data = (root / "splat.ply").read_bytes()
    truncated, garbage = tmp_path / "truncated.ply", tmp_path / "garbage.ply"
    truncated.write_bytes(data[: len(data) // 2])
    garbage.write_bytes(b"not a ply at all\n" * 8)
    return root, truncated, garbage


def test_scene_assemble_with_a_truncated_splat(damaged_splats, tmp_path):
    root, truncated, _ = damaged_splats
    r, lines = _invoke(["scene", "assemble", root / "scene.toml", tmp_path / "s.usda", "--splat", truncated])
    _one_error_line(r, lines, str(truncated), "not a readable PLY file", "early end-of-file", "re-export")
    assert not (tmp_path / "s.usda").exists()


def test_scene_assemble_with_a_file_that_is_not_a_ply(damaged_splats, tmp_path):
    root, _, garbage = damaged_splats
    r, lines = _invoke(["scene", "assemble", root / "scene.toml", tmp_path / "s.usda", "--splat", garbage])
    _one_error_line(r, lines, str(garbage), "not a readable PLY file", "expected 'ply'")


def test_reconstruct_run_with_a_missing_dataset(tmp_path):
    missing = tmp_path / "no_capture"
    r, lines = _invoke(["reconstruct", "run", missing, tmp_path / "out"])
    _one_error_line(r, lines, str(missing), "no transforms.json", "gwm capture run")
    assert not (tmp_path / "out" / "splat.ply").exists()


def _objects_mass(text: str, mass: float) -> str:
    return re.sub(r"mass = [0-9.]+", f"mass = {mass}", text, count=1)


@pytest.mark.parametrize("mass, implausible", [(0.2, False), (40.0, True), (0.001, True)])
def test_implausible_density_warns_and_names_the_object(tabletop, tmp_path, mass, implausible):
    root, _, truth = tabletop
    scene = tmp_path / "scene.toml"
    scene.write_text(_objects_mass((root / "scene.toml").read_text(), mass).replace(
        'splat = "splat.ply"', f'splat = "{root / "splat.ply"}"'))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assembled = assemble_scene(scene)
    msgs = [str(w.message) for w in caught if issubclass(w.category, SceneWarning)]
    first = assembled.objects[0]
    if not implausible:
        assert msgs == []
        return
    assert len(msgs) == 1 and f"object {first.name!r}" in msgs[0] and "50-5,000 kg/m3" in msgs[0], msgs
    volume = assembled.metadata["stats"]["objects"][first.name]["volume"]
    assert f"{mass / volume:,.0f} kg/m3" in msgs[0]  # the density it computed, from the hull volume
    r, lines = _invoke(["scene", "assemble", scene, tmp_path / "s.usda"])  # the CLI: one warning line, then on
    assert r.exit_code == 0, r.output
    assert [line for line in lines if line.startswith("warning: ")] == ["warning: " + msgs[0]]
    assert (tmp_path / "s.usda").is_file()


def test_scene_file_without_objects_warns(tabletop, tmp_path):
    root, _, _ = tabletop
    with pytest.warns(SceneWarning, match=r"no \[\[objects\]\]: the scene is background only"):
        cfg = parse_scene_config({"input": {"splat": "splat.ply"}}, base_dir=root)
    assert cfg.objects == ()
    empty = tmp_path / "empty.toml"
    empty.write_text(f'[input]\nsplat = "{root / "splat.ply"}"\n')
    r, lines = _invoke(["scene", "check", empty])
    assert r.exit_code == 0, r.output
    assert len([line for line in lines if line.startswith("warning: ")]) == 1 and "no [[objects]]" in lines[0]

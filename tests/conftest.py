"""Fixtures shared across test packages."""

import pytest

from gwm.ply import write_ply
from gwm.scene.synthetic import make_tabletop, scene_toml_for


@pytest.fixture(scope="session")
def tabletop(tmp_path_factory):
    """A small synthetic tabletop on disk: (folder, splats, truth). Folder has splat.ply + scene.toml."""
    root = tmp_path_factory.mktemp("tabletop")
    splats, truth = make_tabletop(spacing=0.01, seed=1)
    write_ply(root / "splat.ply", splats)
    (root / "scene.toml").write_text(scene_toml_for(truth))
    return root, splats, truth


@pytest.fixture(scope="session")
def assembled(tabletop):
    from gwm.scene import assemble_scene

    root, _, _ = tabletop
    return assemble_scene(root / "scene.toml")

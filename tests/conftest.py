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


@pytest.fixture(scope="session")
def demo_scene():
    """The physics demo scene (sim_tasks.demo_scene): blocks on a table, no reconstruction."""
    from sim_tasks.demo_scene import make_demo_scene

    return make_demo_scene()


@pytest.fixture(scope="session")
def scene_usd(tmp_path_factory, demo_scene):
    """The demo scene exported as USD, as the simulator reads it."""
    from exporters.usd import export_usd

    return export_usd(demo_scene, tmp_path_factory.mktemp("scene") / "demo_scene.usda")

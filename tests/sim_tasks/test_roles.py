"""Roles by shape and scene file, never by name: scene -> USD -> dataset -> world model and tasks.

The objects' names mislead on purpose: "bowl_box" is a closed box (an object), "handle" an open tray
(a container, by shape), "hand_1" a block (an object, not the robot's hand), and "plate" a flat slab
that the scene file marks as a container.
"""

import numpy as np
import pytest
import torch

from tests.scene import shapes

EXPECTED = {"bowl_box": "object", "handle": "container", "hand_1": "object", "plate": "container"}


@pytest.fixture(scope="module")
def scene_dir(tmp_path_factory):
    from gwm.ply import write_ply
    from gwm.scene.synthetic import scene_toml_for

    meshes = {"bowl_box": shapes.closed_box((0.12, 0.09, 0.06)), "handle": shapes.open_tray(),
              "hand_1": shapes.cube(0.04), "plate": shapes.closed_box((0.10, 0.10, 0.02))}
    placements = {"bowl_box": (-0.25, -0.1, 20.0), "handle": (0.0, 0.05, 0.0), "hand_1": (0.2, -0.12, 10.0),
                  "plate": (0.3, 0.15, 0.0)}
    splats, truth = shapes.tabletop_with(meshes, placements, spacing=0.006)
    root = tmp_path_factory.mktemp("misleading")
    write_ply(root / "splat.ply", splats)
    toml = scene_toml_for(truth).replace('name = "plate"\n', 'name = "plate"\nrole = "container"\n')
    (root / "scene.toml").write_text(toml)
    return root


@pytest.fixture(scope="module")
def scene(scene_dir):
    from gwm.scene import assemble_scene

    return assemble_scene(scene_dir / "scene.toml")


@pytest.fixture(scope="module")
def usd_scene(scene, scene_dir):
    from exporters.usd import export_usd
    from gwm.scene.usd_scene import read_usd_scene

    path = export_usd(scene, scene_dir / "scene.usda")
    assert 'custom token gwm:role = "container"' in path.read_text()
    return read_usd_scene(path)


def test_assembly_gives_roles_by_shape_and_scene_file(scene):
    assert {o.name: o.role for o in scene.objects} == EXPECTED
    stats = scene.metadata["stats"]["objects"]
    assert {n: s["role_from"] for n, s in stats.items()} == {"bowl_box": "shape", "handle": "shape",
                                                            "hand_1": "shape", "plate": "scene file"}
    tray = stats["handle"]["container_test"]
    # needed: the block's footprint (its 5.7 cm diagonal) + 1 cm; the tray's 13.8 cm inside takes it
    assert tray["needed_opening"] == pytest.approx(0.04 * 2**0.5 + 0.01, abs=0.004)
    assert tray["opening"] > 0.12 and tray["holds_another_object"]
    assert stats["bowl_box"]["container_test"]["opening"] == 0.0
    assert not stats["plate"]["container_test"]["holds_another_object"]  # flat: only the scene file says so


def test_roles_survive_usd(usd_scene):
    assert {o.name: o.role for o in usd_scene.objects} == EXPECTED


def test_tasks_take_targets_from_roles_and_shapes(usd_scene):
    from sim_tasks.tasks import make_task

    bowl = make_task("pick_place_bowl", usd_scene)
    assert bowl.container == "handle"  # the widest container (the plate is one too, by the scene file)
    assert bowl.target_object == "hand_1"  # the only object narrow enough to grasp
    assert make_task("pick_place", usd_scene).target_object == "hand_1"
    inst = bowl.sample(0)
    assert inst.container == "handle" and "hand 1" in inst.instruction


def _dataset(root, fmt, scene, body_names, roles):
    from gwm.data import DatasetSpec, FeatureSpec, create_recorder
    from gwm.splats import GaussianSplats

    rng = np.random.default_rng(0)
    canonical = {"background": scene.background}
    canonical.update({o.name: o.splats for o in scene.objects})
    for name in body_names[len(canonical):]:  # robot links: a few Gaussians each
        canonical[name] = GaussianSplats.from_activated(
            torch.tensor(rng.normal(0, 0.02, (20, 3)), dtype=torch.float32), torch.tensor([[1.0, 0, 0, 0]] * 20),
            torch.full((20, 3), 0.01), torch.full((20,), 0.9), rgb=torch.full((20, 3), 0.5))
    canonical = {k: v.detach().to("cpu", torch.float32).with_sh_degree(0) for k, v in canonical.items()}
    spec = DatasetSpec(fps=10, features={"action": FeatureSpec("float32", (2,)),
                                         "observation.body_poses": FeatureSpec("float32", (len(body_names), 7))},
                       body_names=body_names, body_roles=roles)
    rec = create_recorder(root, spec, fmt, canonical_gaussians=canonical)
    for e in range(2):
        for t in range(3):
            poses = np.tile([0, 0, 0, 1, 0, 0, 0], (len(body_names), 1)).astype(np.float32)
            poses[1:, :3] = rng.normal(0, 0.05, (len(body_names) - 1, 3))  # everything but the background moves
            rec.add_frame({"action": rng.normal(size=2).astype(np.float32), "observation.body_poses": poses}, "t")
        rec.save_episode(success=True, seed=e)
    return rec.finalize()


@pytest.mark.parametrize("fmt", ["lerobot", "hdf5"])
def test_dataset_and_world_model_read_roles_from_the_spec(usd_scene, tmp_path, fmt):
    from gwm.data import open_dataset
    from gwm.model.trajectories import DataConfig, load_trajectories
    from sim_tasks.backend import body_roles
    from sim_tasks.panda_model import LINK_RECORD_NAMES

    body_names = ("background", *usd_scene.object_names, *LINK_RECORD_NAMES)
    roles = body_roles(body_names, usd_scene)
    assert roles[:5] == ("background", "object", "container", "object", "container")
    assert roles[5:] == ("robot_link",) * 8 + ("tool", "tool")
    ds = open_dataset(_dataset(tmp_path / fmt, fmt, usd_scene, body_names, roles))
    assert ds.body_roles == dict(zip(body_names, roles))
    traj = load_trajectories(ds, DataConfig(max_gaussians_per_body=32))
    # every body but the background moves; the objects are the scene's objects and containers, not the links
    assert [traj.modelled_names[m] for m in traj.objects] == ["bowl_box", "handle", "hand_1", "plate"]

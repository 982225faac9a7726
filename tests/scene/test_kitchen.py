"""The bundled kitchen's scene file assembles into >= 3 bodies at their true poses and sizes.

Uses a stand-in splat sampled from the ground-truth meshes (the reconstruction is another
stage's output); benchmarks/scene.py runs the same check on a real reconstruction."""

import json
from pathlib import Path

import numpy as np
import pytest

from gwm.ply import write_ply
from gwm.scene import assemble_scene
from gwm.scene.synthetic import splat_from_ground_truth

KITCHEN = Path(__file__).resolve().parents[2] / "datasets" / "kitchen"


@pytest.mark.skipif(not (KITCHEN / "ground_truth.json").is_file(), reason="kitchen sample not generated")
def test_kitchen_scene_file(tmp_path):
    gt = json.loads((KITCHEN / "ground_truth.json").read_text())
    write_ply(tmp_path / "standin.ply", splat_from_ground_truth(KITCHEN / "ground_truth.json", spacing=0.008,
                                                                 room_spacing=0.05))
    scene = assemble_scene(KITCHEN / "scene.toml", splat=tmp_path / "standin.ply")
    assert len(scene.objects) >= 3
    assert abs(scene.metadata["plane"]["point"][2] - gt["table"]["top_z"]) < 1e-3
    for o in gt["objects"]:
        obj = scene.object(o["name"])
        m = np.asarray(o["world_from_body"])
        lo, hi = np.asarray(o["bbox_body"]["min"]), np.asarray(o["bbox_body"]["max"])
        st = scene.metadata["stats"]["objects"][o["name"]]
        np.testing.assert_allclose(st["box_center_world"], m[:3, 3] + m[:3, :3] @ (lo + hi) / 2, atol=0.01)
        np.testing.assert_allclose(st["size_body_axes"], hi - lo, atol=0.01)
        assert obj.mass == o["mass_kg"] and obj.friction == o["friction"]
    np.testing.assert_allclose(scene.robot_base.numpy(), gt["robot_base_suggestion"]["world_from_base"], atol=1e-12)
    # Roles by shape (the scene file names none): the bowl holds the can; the mug is open-top but its
    # ~6.6 cm opening takes no other object (the can needs 6.6 + 1 cm); box and can are closed.
    assert {o.name: o.role for o in scene.objects} == {"mug": "object", "bowl": "container", "box": "object",
                                                       "can": "object"}
    tests = {o.name: scene.metadata["stats"]["objects"][o.name]["container_test"] for o in scene.objects}
    assert all(scene.metadata["stats"]["objects"][n]["role_from"] == "shape" for n in tests)
    assert tests["bowl"]["opening"] > tests["bowl"]["needed_opening"] + 0.02
    assert tests["mug"]["needed_opening"] == pytest.approx(0.066 + 0.01, abs=0.003)  # the can's diameter + margin
    assert 0.04 < tests["mug"]["opening"] < tests["mug"]["needed_opening"] and tests["mug"]["depth"] > 0.07
    assert tests["box"]["opening"] == 0.0 and tests["can"]["opening"] < 0.01

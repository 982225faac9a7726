"""The rollout stage runs only the tasks that have a valid target in the scene, and says why it skips one."""

import dataclasses

import pytest

from pipelines import stages
from pipelines.config import PipelineConfig


def _scene_usd(tmp_path, **roles):
    from exporters.usd import export_usd
    from sim_tasks.demo_scene import make_demo_scene

    scene = make_demo_scene()
    scene = dataclasses.replace(scene, objects=[dataclasses.replace(o, role=roles.get(o.name, o.role))
                                                for o in scene.objects])
    return export_usd(scene, tmp_path / "scene.usda")


def test_task_without_a_container_is_skipped_with_its_reason(tmp_path, capsys):
    usd = _scene_usd(tmp_path, tray="object")
    assert stages.applicable_tasks(PipelineConfig(), usd) == [(0, "pick_place"), (2, "push")]  # seeds keep the index
    out = capsys.readouterr().out
    assert out.startswith("skipping task pick_place_bowl: task 'pick_place_bowl' needs a container")
    assert stages.applicable_tasks(PipelineConfig(), _scene_usd(tmp_path)) == [
        (0, "pick_place"), (1, "pick_place_bowl"), (2, "push")]


def test_no_applicable_task_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"none of the tasks \['pick_place_bowl'\] applies"):
        stages.applicable_tasks(PipelineConfig(tasks=("pick_place_bowl",)), _scene_usd(tmp_path, tray="object"))

from typer.testing import CliRunner

from sim_tasks.cli import app


def test_tasks_lists_the_registry():
    result = CliRunner().invoke(app, ["tasks"])
    assert result.exit_code == 0
    assert result.output.split() == ["pick_place", "pick_place_bowl", "pick_place_explore", "push", "push_explore"]


def test_rollout_rejects_an_unknown_task(scene_usd, tmp_path):
    result = CliRunner().invoke(app, ["rollout", str(scene_usd), "--task", "stack", "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "unknown task 'stack'" in result.output and "pick_place_bowl" in result.output


def test_demo_scene_command_writes_a_readable_scene(tmp_path):
    from gwm.scene.usd_scene import read_usd_scene

    result = CliRunner().invoke(app, ["demo-scene", str(tmp_path / "s.usda")])
    assert result.exit_code == 0, result.output
    scene = read_usd_scene(tmp_path / "s.usda")
    assert [o.name for o in scene.objects] == ["red_cube", "blue_block", "tray"]


def test_rollout_of_a_task_without_a_target_is_skipped_with_the_reason(demo_scene, tmp_path):
    import dataclasses

    from exporters.usd import export_usd

    scene = dataclasses.replace(demo_scene, objects=[dataclasses.replace(o, role="object") for o in demo_scene.objects])
    usd = export_usd(scene, tmp_path / "no_container.usda")
    result = CliRunner().invoke(app, ["rollout", str(usd), "--task", "pick_place_bowl", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("skipped pick_place_bowl: task 'pick_place_bowl' needs a container")
    assert not (tmp_path / "o").exists()  # nothing was started

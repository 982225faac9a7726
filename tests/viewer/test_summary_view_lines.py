"""The pipeline summary prints a `gwm view` line for each output the viewer opens (and none for the others)."""

from __future__ import annotations

from pipelines.report import print_summary


def test_summary_prints_view_commands(capsys, small_tabletop, scene_usdz, lerobot_dataset, validation_run, tmp_path):
    root, _ = small_tabletop
    (tmp_path / "scene.toml").write_text("x")
    summary = {
        "reconstruct": {"cached": True, "seconds": 0, "figures": {}, "outputs": {"splat": str(root / "splat.ply")}},
        "scene": {"cached": False, "seconds": 3.0, "figures": {},
                  "outputs": {"scene_file": str(tmp_path / "scene.toml"), "usd": str(scene_usdz)}},
        "datasets": {"cached": True, "seconds": 0, "figures": {}, "outputs": {"lerobot": str(lerobot_dataset)}},
        "validate": {"cached": True, "seconds": 0, "figures": {},
                     "outputs": {"report": str(validation_run / "report.md")}},
    }
    print_summary(summary)
    views = [line.split("gwm view ", 1)[1] for line in capsys.readouterr().out.splitlines() if "gwm view " in line]
    assert views == [str(root / "splat.ply"), str(scene_usdz), str(lerobot_dataset), str(validation_run)]

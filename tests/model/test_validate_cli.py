"""End to end: the CLI trains (and resumes) a tiny model; validation writes its report with correct baselines."""

import json
import numpy as np
import pytest
from typer.testing import CliRunner

from gwm.model.cli import app, open_world_dataset
from gwm.model.synthetic import SyntheticPushConfig, SyntheticPushDataset
from gwm.model.validate import ValidationConfig, validate
from gwm.model.video_baseline import VideoBaselineConfig

pytest.importorskip("gwm.render")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    runner = CliRunner()
    res = runner.invoke(app, ["train", "synthetic:6", str(out), "--preset", "tiny", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert (out / "model.safetensors").exists() and (out / "checkpoint.safetensors").exists()
    logs = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert logs[-1]["step"] == 40 and "val_rollout_err_h1_m" in logs[-1]
    # a second run finds the finished checkpoint and resumes (nothing left to do)
    res = runner.invoke(app, ["train", "synthetic:6", str(out), "--preset", "tiny", "--device", "cpu"])
    assert res.exit_code == 0 and "resumed" in res.output and "at step 40" in res.output
    return out


def test_open_world_dataset_rejects_a_missing_path(tmp_path):
    import typer

    with pytest.raises(typer.BadParameter, match="does not exist"):
        open_world_dataset(str(tmp_path / "nope"))


def test_validation_report(trained, tmp_path):
    ds = open_world_dataset("synthetic:6")
    cfg = ValidationConfig(horizon=3, max_windows=4, image_size=32, videos=1, batch_size=4,
                           baseline=VideoBaselineConfig(width=32, depth=1, heads=2, steps=3, probe_steps=3),
                           baseline_max_episodes=2)
    from gwm.model.trajectories import load_trajectories

    traj = load_trajectories(ds)

    def truth_baseline(e, t, actions):  # a pose baseline that knows the future exactly: zero pose error
        full = np.asarray(ds.episode(e)["observation.body_poses"])
        return full[t + 1:t + 1 + len(actions)]

    r = validate(trained / "model.safetensors", ds, tmp_path, cfg, baselines={"oracle": truth_baseline},
                 progress=False)
    for name in ("report.md", "metrics.json", "psnr.png", "psnr_objects.png", "object_position_error_m.png",
                 "robot_position_error_m.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert len(list(tmp_path.glob("rollout_*.mp4"))) == 1
    assert set(r.metrics) == {"gwm", "copy_last", "oracle", "video"}
    assert all(len(v) == 3 for m in r.metrics.values() for v in m.values())
    # the split metrics exist, and a baseline that knows the truth has zero pose error
    for k in ("robot_position_error_m", "object_position_error_m", "object_centre_error_m", "psnr_cam0"):
        assert k in r.metrics["gwm"], k
    assert max(r.metrics["oracle"]["object_position_error_m"]) < 1e-4
    assert max(r.metrics["oracle"]["robot_position_error_m"]) < 1e-4
    assert r.comparison("object_position_error_m")["oracle"] is False  # nothing beats the truth
    # contact / free windows partition the windows at every step
    n = np.array(r.counts["gwm"]["object_position_error_m@contact"]) + np.array(
        r.counts["gwm"]["object_position_error_m@free"])
    assert (n == r.windows).all()
    # the video baseline trained on as many samples as the world model's dynamics stage
    assert r.info["training_samples"]["video"] >= r.info["training_samples"]["gwm"]
    assert r.info["training_samples"]["video"] < r.info["training_samples"]["gwm"] + cfg.baseline.batch_size
    # copy-last centre error, recomputed independently from the recorded poses
    from gwm.model.validate import _window_starts

    starts = _window_starts(traj, cfg, 1)
    sp = traj.space
    want = np.zeros(3)
    for e, t in starts:
        last = sp.means(sp.features_from_poses(traj.poses[e][t]))
        for h in range(3):
            nxt = sp.means(sp.features_from_poses(traj.poses[e][t + h + 1]))
            want[h] += float((nxt - last).norm(dim=-1).mean()) / len(starts)
    assert np.allclose(r.metrics["copy_last"]["centre_error_m"], want, atol=1e-6)
    # copy-last object position error is the true object displacement, which grows with the horizon here
    assert r.metrics["copy_last"]["object_position_error_m"][-1] > r.metrics["copy_last"]["object_position_error_m"][0]
    report = (tmp_path / "report.md").read_text()
    assert "| h |" in report and "copy-last" in report and "2D video" in report and "contact windows" in report
    # without the video baseline: no video column, the report says why, videos show simulator | GWM
    from dataclasses import replace

    r2 = validate(trained / "model.safetensors", ds, tmp_path / "novideo", replace(cfg, video_baseline=False),
                  progress=False)
    assert set(r2.metrics) == {"gwm", "copy_last"}
    assert np.allclose(r2.metrics["gwm"]["centre_error_m"], r.metrics["gwm"]["centre_error_m"])
    assert "2D video baseline not run" in (tmp_path / "novideo" / "report.md").read_text()
    assert len(list((tmp_path / "novideo").glob("rollout_*.mp4"))) == 1
    # a model trained on another dataset is refused
    two_boxes = SyntheticPushDataset(SyntheticPushConfig(num_episodes=4, episode_length=12, num_boxes=2))
    with pytest.raises(ValueError, match="other bodies or Gaussians"):
        validate(trained / "model.safetensors", two_boxes, tmp_path / "other", cfg, progress=False)

"""The validation view: the window's simulator states are the recorded ones, the horizon slider steps through
them, the errors table shows the run's metrics at that step."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gwm.viewer import detect_kind, open_viewer


@pytest.fixture(scope="module")
def viewer(validation_run):
    v = open_viewer(validation_run, port=0, episode=1)
    yield v
    v.close()


def test_validation_run_is_detected(validation_run):
    assert detect_kind(validation_run) == ("validation", validation_run)
    assert detect_kind(validation_run / "metrics.json") == ("validation", validation_run)


def test_simulator_side_is_the_recorded_trajectory(viewer):
    view = viewer.view
    traj, sp = view.traj, view.traj.space
    e, t = view.starts[1]
    s = view.model.action_chunk
    for h in (1, 2):
        viewer.controls["horizon"].value = h
        recorded = sp.means(sp.features_from_poses(traj.poses[e][t + h * s])).numpy()
        np.testing.assert_allclose(view.shown["truth"].arrays.centers, recorded, atol=1e-5)
        predicted = sp.means(view.pred[h - 1]).numpy()
        np.testing.assert_allclose(view.shown["pred"].arrays.centers, predicted, atol=1e-5)
        err = np.linalg.norm(predicted - recorded, axis=1).mean()
        assert viewer.info["centre_error_m"] == pytest.approx(err, rel=1e-4)


def test_errors_table_shows_the_runs_metrics_at_the_step(viewer, validation_run):
    from gwm.viewer.validation_view import errors_table

    metrics = json.loads((validation_run / "metrics.json").read_text())["metrics"]
    table = errors_table(metrics, 2)
    gwm_row = next(line for line in table.splitlines() if line.startswith("| gwm |"))
    assert f"{metrics['gwm']['psnr'][1]:.4g}" in gwm_row
    assert f"{metrics['gwm']['object_position_error_m'][1]:.4g}" in gwm_row


def test_overlay_puts_the_prediction_on_the_simulator(viewer):
    nodes = viewer.server.scene._handle_from_node_name
    viewer.controls["overlay"].value = False
    assert abs(nodes["/world_model"].position[1]) > 0.1  # side by side
    viewer.controls["overlay"].value = True
    np.testing.assert_allclose(nodes["/world_model"].position, 0.0)
    viewer.controls["overlay"].value = False

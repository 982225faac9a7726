"""`gwm view` without a browser: what each kind of path opens to, the Gaussian budget, bad input."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from gwm.viewer import detect_kind, open_viewer
from gwm.viewer.splat_layer import SplatArrays, subsample
from pipelines.cli_main import app


@pytest.fixture
def opened():
    viewers = []

    def _open(path, **kw):
        v = open_viewer(path, port=0, **kw)
        viewers.append(v)
        return v

    yield _open
    for v in viewers:
        v.close()


def test_kinds(small_tabletop, scene_usdz, capture_folder, lerobot_dataset, hdf5_dataset, tmp_path):
    root, _ = small_tabletop
    assert detect_kind(root / "splat.ply") == ("splat", root / "splat.ply")
    assert detect_kind(scene_usdz) == ("scene", scene_usdz)
    assert detect_kind(capture_folder) == ("capture", capture_folder)
    assert detect_kind(capture_folder / "transforms.json") == ("capture", capture_folder)
    assert detect_kind(lerobot_dataset)[0] == "dataset"
    assert detect_kind(hdf5_dataset)[0] == "dataset"
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a kind of path the viewer opens"):
        detect_kind(tmp_path / "notes.txt")


def test_splat_arrays_match_the_splats(small_tabletop):
    _, splats = small_tabletop
    a = SplatArrays.from_splats(splats[:50])
    q = splats.unit_quats_wxyz[:50]
    from gwm.geometry import quat_to_rotmat

    r = quat_to_rotmat(q)
    expected = r @ torch.diag_embed(splats.scales[:50] ** 2) @ r.transpose(1, 2)
    np.testing.assert_allclose(a.covariances, expected.numpy(), rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(a.rgbs, (0.5 + 0.28209479 * splats.sh[:50, 0]).clamp(0, 1).numpy(), atol=1e-6)
    np.testing.assert_allclose(a.opacities[:, 0], torch.sigmoid(splats.logit_opacities[:50]).numpy(), atol=1e-6)
    styled = a.styled(size=2.0, opacity=0.5)
    np.testing.assert_allclose(styled.covariances, 4 * a.covariances, rtol=1e-6)
    np.testing.assert_allclose(styled.opacities, 0.5 * a.opacities, rtol=1e-6)


def test_subsample_is_a_fixed_subset(small_tabletop):
    _, splats = small_tabletop
    a, b = subsample(splats, 1000), subsample(splats, 1000)
    assert len(a) == 1000 and torch.equal(a.means, b.means)
    # every kept Gaussian is one of the originals, none repeated
    rows = {tuple(r) for r in splats.means.tolist()}
    assert all(tuple(r) in rows for r in a.means.tolist()) and len({tuple(r) for r in a.means.tolist()}) == 1000
    assert subsample(splats, len(splats)) is splats


def test_splat_view_subsamples_above_budget(opened, small_tabletop):
    root, splats = small_tabletop
    v = opened(root / "splat.ply", max_gaussians=500)
    assert v.kind == "splat"
    assert v.info == {"gaussians_shown": 500, "gaussians_total": len(splats)}


def test_scene_view_lists_objects_and_toggles_proxies(opened, scene_usdz):
    from gwm.scene.usd_scene import read_usd_scene

    scene = read_usd_scene(scene_usdz)
    v = opened(scene_usdz)
    assert v.info["objects"] == [o.name for o in scene.objects] and len(scene.objects) >= 2
    assert v.info["gaussians_total"] == len(scene.background) + sum(len(o.splats) for o in scene.objects)
    proxies = [h for name, h in v.server.scene._handle_from_node_name.items() if name.endswith("/collision")]
    assert len(proxies) == len(scene.objects) and not any(h.visible for h in proxies)
    v.controls["collision_proxies"].value = True
    assert all(h.visible for h in proxies)


@pytest.mark.parametrize("which", ["lerobot_dataset", "hdf5_dataset"])
def test_episode_view_poses_bodies_from_the_recorded_poses(opened, request, which):
    from gwm.data import open_dataset

    path = request.getfixturevalue(which)
    ds = open_dataset(path)
    v = opened(path, episode=1)
    assert v.kind == "dataset" and v.info["episode"] == 1 and v.info["frames"] == ds.episode_length(1)
    poses = ds.episode(1, ["observation.body_poses"])["observation.body_poses"]
    nodes = v.server.scene._handle_from_node_name
    for t in (3, 7):
        v.controls["timeline"].value = t
        assert v.info["frame"] == t
        for b, name in enumerate(ds.body_names):
            np.testing.assert_allclose(nodes[f"/bodies/{name}"].position, poses[t, b, :3], atol=1e-6)
    # a posed body node carries the canonical Gaussians: Gaussians(t) = pose(t) * canonical, as gaussians_at
    world = ds.gaussians_at(1, 7).means.numpy()
    node = nodes["/bodies/cube"]
    from gwm.geometry import quat_to_rotmat

    local = ds.canonical_gaussians()["cube"].means.numpy()
    posed = local @ np.asarray(quat_to_rotmat(np.asarray(node.wxyz))).T + node.position
    np.testing.assert_allclose(posed, world[: len(local)], atol=1e-5)
    # the fixed camera's frustum sits at its recorded pose; its image of frame t is beside the view
    from tests.viewer.conftest import CAM0_WORLD_FROM_CAM

    np.testing.assert_allclose(nodes["/cameras/cam0"].position, CAM0_WORLD_FROM_CAM[:3, 3], atol=1e-6)
    assert v.info["cameras"] == ["observation.images.cam0"]


def test_play_advances_the_timeline(opened, lerobot_dataset):
    import time

    v = opened(lerobot_dataset)
    v.controls["play"].value = True
    deadline = time.monotonic() + 10
    while v.info["frame"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    v.controls["play"].value = False
    assert v.info["frame"] > 0


def test_episode_out_of_range_is_one_line(lerobot_dataset):
    r = CliRunner().invoke(app, ["view", str(lerobot_dataset), "--episode", "9", "--port", "0"])
    assert r.exit_code == 2 and r.output.strip().startswith("error: --episode 9 is out of range")


def test_bad_input_is_one_line(tmp_path, small_tabletop):
    runner = CliRunner()
    damaged = tmp_path / "damaged.ply"
    damaged.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 10\nproperty float x\nend_header\n\x00")
    data = (small_tabletop[0] / "splat.ply").read_bytes()
    truncated = tmp_path / "truncated.ply"
    truncated.write_bytes(data[: len(data) // 2])
    for path, expect in [(truncated, "not a readable PLY file"),
                         (tmp_path / "missing.ply", "no such file or folder"),
                         (damaged, "not a readable PLY file"),
                         (tmp_path, "not a kind of path the viewer opens")]:
        r = runner.invoke(app, ["view", str(path), "--port", "0"])
        assert r.exit_code == 2, r.output
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], r.output


def test_port_in_use_is_one_line(small_tabletop):
    root, _ = small_tabletop
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = CliRunner().invoke(app, ["view", str(root / "splat.ply"), "--port", str(port)])
    assert r.exit_code == 2
    assert r.output.strip() == f"error: port {port} on 127.0.0.1 is in use (Address already in use); " \
                               "pick a free one with --port"


def test_viewer_never_writes_what_it_opens(opened, scene_usdz, lerobot_dataset):
    def snapshot(p):
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
        return {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in files}

    for path in (scene_usdz, lerobot_dataset):
        before = snapshot(path)
        v = opened(path)
        if "timeline" in v.controls:
            v.controls["timeline"].value = 4
        v.close()
        assert snapshot(path) == before


def test_cli_serves_the_viewer_until_stopped(small_tabletop):
    """`gwm view` in its own process: it prints the URL, serves viser's page there, and stops on Ctrl-C."""
    import signal
    import subprocess
    import sys
    import urllib.request

    root, splats = small_tabletop
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli_main", "view", str(root / "splat.ply"),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = ""
        while "viewing" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "gwm view exited early"
        assert f"viewing splat {root / 'splat.ply'}, {len(splats):,} Gaussians" in line
        assert f"http://127.0.0.1:{port}" in line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200 and b"<html" in r.read().lower()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

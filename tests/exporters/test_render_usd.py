"""A render of the scene read back from USD equals the render of the in-memory scene: body
frames, poses, SH and the quaternion order all survive the file."""

import pytest
import torch

from exporters.usd import export_usd
from gwm.scene.usd_scene import read_usd_scene

render = pytest.importorskip("gwm.render")
from gwm.cameras import Cameras, intrinsics_from_fov, look_at  # noqa: E402


def test_render_matches_after_usd_round_trip(assembled, tmp_path):
    back = read_usd_scene(export_usd(assembled, tmp_path / "scene.usdz"))
    cams = Cameras(intrinsics_from_fov(50.0, 48, 36)[None], look_at([0.45, -0.5, 1.05], [0.0, 0.0, 0.78])[None], 48, 36)
    a = render.rasterize(assembled.world_splats(), cams, backend="cpu")
    b = render.rasterize(back.world_splats(), cams, backend="cpu")
    assert a.alpha.mean() > 0.5  # the view is full of scene, not background
    torch.testing.assert_close(b.rgb, a.rgb, atol=1e-5, rtol=0)
    torch.testing.assert_close(b.alpha, a.alpha, atol=1e-5, rtol=0)

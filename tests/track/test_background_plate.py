"""The background plate (TrackerConfig.background_plate): the fixed layer shows what the first frames show
wherever no movable body covers it at rest, so the background's reconstruction error no longer biases
the appearance fit or the pose estimates."""

import numpy as np
import pytest
import torch

from gwm.splats import GaussianSplats, rgb_to_sh_dc
from gwm.track.bodies import BodyGaussians
from gwm.track.config import TrackerConfig
from gwm.track.loop import BACKGROUND, Tracker
from gwm.track.visual_forces import composite_nothing

from .helpers import StillTwin, demo_setup, render


@pytest.fixture(scope="module")
def halo_setup():
    """The demo scene (1 camera, 160x120) and frames whose table is 0.25 brighter within 12 cm of the tray
    than its Gaussians say (a pool of light, or a reconstruction off in colour there)."""
    scene, bodies, poses, cams, _ = demo_setup(num_cameras=1, width=160, height=120)
    names, roles = bodies.body_names, bodies.body_roles
    canonical = {BACKGROUND: scene.background, **{o.name: o.splats for o in scene.objects}}
    k = names.index("tray")
    bg = scene.background
    near = (torch.linalg.norm(bg.means[:, :2] - torch.as_tensor(poses[k, :2], dtype=bg.means.dtype), dim=1) < 0.12)
    sh = bg.sh.clone()
    sh[:, 0] = torch.where(near[:, None], rgb_to_sh_dc((bg.rgb_dc + 0.25).clamp(0, 1)), sh[:, 0])
    lit = {**canonical, BACKGROUND: GaussianSplats(bg.means, bg.quats_wxyz, bg.log_scales, bg.logit_opacities, sh)}
    lit_bodies = BodyGaussians(lit, names, roles)
    return scene, canonical, lit_bodies, poses, cams, k


def _tracker(halo_setup, plate, poses=None, **config):
    scene, canonical, lit_bodies, rest, cams, k = halo_setup
    names = scene.object_names
    twin = StillTwin(names, [o.role for o in scene.objects], (rest if poses is None else poses)[1:])
    cfg = TrackerConfig(calibration_iterations=30, background_plate=plate, **config)
    tracker = Tracker(twin, canonical, cams, cfg)
    tracker.calibrate(render(lit_bodies, rest, cams)[None][0])
    return tracker


def _empty(tracker, poses):
    """The tracker's render of the fixed layer alone, with its cameras' colour."""
    gain, bias = tracker.colour
    with torch.no_grad():
        return composite_nothing(tracker.fixed_layer(poses), tracker.background) * gain[:, None, None] + bias[:, None, None]


def test_the_fixed_layer_shows_the_first_frame_where_no_body_covers(halo_setup):
    scene, _, lit_bodies, rest, cams, k = halo_setup
    observed = render(lit_bodies, rest, cams)
    plated, plain = _tracker(halo_setup, True), _tracker(halo_setup, False)
    free = plated._plate[1][..., 0]  # (C,H,W) no movable body covers the pixel at rest
    assert free.float().mean() > 0.5 and (~free).any()
    diff = lambda t: (_empty(t, t.all_poses()) - observed).abs().amax(-1)  # noqa: E731
    assert float(diff(plated)[free].max()) < 1e-4
    assert float(diff(plain)[free].max()) > 0.15  # the halo: the background's Gaussians do not have it
    # Under the bodies the plate knows nothing: there the fixed layer is rendered as it is.
    np.testing.assert_allclose(plated.fixed_layer(rest).rgb[~free], plated._plate[2].rgb[~free], atol=1e-6)


def test_the_plate_does_not_hold_where_the_fixed_layer_changed(halo_setup):
    # Only the tray is corrected, so the cube is in the fixed layer; moved 5 cm, the pixels it covered or
    # covers now render as the fixed layer says, the rest still as the first frame showed them.
    scene, _, lit_bodies, rest, cams, k = halo_setup
    c = scene.object_names.index("red_cube") + 1
    tracker = _tracker(halo_setup, True, correct_bodies=("tray",))
    moved = rest.copy()
    moved[c, 0] += 0.05
    tracker.twin._poses = moved[1:]
    fixed = tracker.fixed_layer(moved)
    from gwm.track.visual_forces import render_fixed_layer

    plain = render_fixed_layer(tracker.bodies, moved, tracker.movable, tracker.cameras, "cpu")
    rest_layer = tracker._plate[2]
    changed = (((plain.rgb - rest_layer.rgb).abs().amax(-1) > 0.02) | ((plain.alpha - rest_layer.alpha).abs()[..., 0] > 0.02))[0]
    assert changed.sum() > 20
    np.testing.assert_allclose(fixed.rgb[0][changed], plain.rgb[0][changed], atol=1e-6)
    observed = render(lit_bodies, rest, cams)[0]
    free = tracker._plate[1][0, ..., 0] & ~changed
    # (a change under PLATE_SAME, 0.02, the plate carries: the edge of the cube's haze)
    assert float((_empty(tracker, moved)[0] - observed).abs().amax(-1)[free].max()) < 0.03


def test_a_body_fitted_against_the_plate_is_found_where_it_moved(halo_setup):
    # Without the plate the appearance fit grows the tray a skirt in the halo's colour; moved 1.5 cm, the
    # skirt no longer matches and the estimate falls short. With it the tray keeps its own look.
    scene, _, lit_bodies, rest, cams, k = halo_setup
    real = rest.copy()
    real[k, 0] += 0.015
    observed = render(lit_bodies, real, cams)
    j = list(_tracker(halo_setup, True).movable).index(k)
    errors = {}
    for plate in (False, True):
        tracker = _tracker(halo_setup, plate)
        est = tracker.step(observed).estimate
        errors[plate] = float(np.linalg.norm(est.position[j] - [0.015, 0.0, 0.0]))
    print(errors)
    assert errors[True] < 0.004
    assert errors[True] < 0.5 * errors[False]

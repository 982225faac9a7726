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
from gwm.track.layers import render_layer
from gwm.track.visual_forces import composite_nothing, render_fixed_layer

from .helpers import StillTwin, demo_setup, render


@pytest.fixture(scope="module")
def halo_setup():
    """The demo scene (1 camera, 160x120) and frames whose table is 0.25 brighter within 12 cm of the tray and
    the cube than its Gaussians say (a pool of light, or a reconstruction off in colour there)."""
    scene, bodies, poses, cams, _ = demo_setup(num_cameras=1, width=160, height=120)
    names, roles = bodies.body_names, bodies.body_roles
    canonical = {BACKGROUND: scene.background, **{o.name: o.splats for o in scene.objects}}
    k = names.index("tray")
    bg = scene.background
    near = torch.zeros(len(bg), dtype=torch.bool)
    for body in (k, names.index("red_cube")):
        centre = torch.as_tensor(poses[body, :2], dtype=bg.means.dtype)
        near |= torch.linalg.norm(bg.means[:, :2] - centre, dim=1) < 0.12
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
        empty = composite_nothing(tracker.fixed_layer(poses), tracker.background)
        return empty * gain[:, None, None] + bias[:, None, None]


def test_the_fixed_layer_shows_the_first_frame_where_no_body_covers(halo_setup):
    scene, _, lit_bodies, rest, cams, k = halo_setup
    observed = render(lit_bodies, rest, cams)
    plated, plain = _tracker(halo_setup, True), _tracker(halo_setup, False)
    free = plated.plate.free[..., 0]  # (C,H,W) no movable body covers the pixel at rest
    assert free.float().mean() > 0.5 and (~free).any()
    diff = lambda t: (_empty(t, t.all_poses()) - observed).abs().amax(-1)  # noqa: E731
    assert float(diff(plated)[free].max()) < 1e-4
    assert float(diff(plain)[free].max()) > 0.15  # the halo: the background's Gaussians do not have it
    # Under the bodies no frame shows the background: there it gets its surroundings' correction, averaged.
    plate = plated.plate
    np.testing.assert_allclose(plated.fixed_layer(rest).rgb[~free], (plate.rest.rgb + plate.smooth)[~free], atol=1e-6)


def test_the_table_a_body_uncovers_gets_its_surroundings_correction(halo_setup):
    # The tray moved 5 cm: the table it stood on (no frame showed it) looks as in the frame of the moved tray,
    # the halo's brightness carried over from around it, which the plain render misses.
    scene, _, lit_bodies, rest, cams, k = halo_setup
    moved = rest.copy()
    moved[k, 0] += 0.05
    real = render(lit_bodies, moved, cams)[0]
    zero = torch.zeros(1, 3)
    with torch.no_grad():
        tray = [render_layer(lit_bodies.offset_bodies(p, zero, zero, torch.tensor([k])), cams, "cpu").alpha[0, ..., 0]
                for p in (rest, moved)]
    uncovered = (tray[0] > 0.5) & (tray[1] < 0.01)
    assert uncovered.sum() > 50
    err = {plate: float((_empty(_tracker(halo_setup, plate), moved)[0] - real).abs().amax(-1)[uncovered].mean())
           for plate in (True, False)}
    assert err[True] < 0.08 and err[False] > 0.15, err  # measured 0.055 and 0.215


def test_the_plate_does_not_hold_where_the_fixed_layer_changed(halo_setup):
    # Only the tray is corrected, so the cube is in the fixed layer; moved 5 cm, the pixels whose render
    # changed get the plate's local average (there, of the cube's own correction and the halo's), the rest
    # still exactly the first frame.
    scene, _, lit_bodies, rest, cams, k = halo_setup
    c = scene.object_names.index("red_cube") + 1
    tracker = _tracker(halo_setup, True, correct_bodies=("tray",))
    moved = rest.copy()
    moved[c, 0] += 0.05
    tracker.twin._poses = moved[1:]
    fixed, plate = tracker.fixed_layer(moved), tracker.plate
    plain = render_fixed_layer(tracker.bodies, moved, tracker.movable, tracker.cameras, "cpu")
    same = (((plain.rgb - plate.rest.rgb).abs().amax(-1) < 0.02)
            & ((plain.alpha - plate.rest.alpha).abs()[..., 0] < 0.02))
    changed = ~same[0]
    assert changed.sum() > 20
    np.testing.assert_allclose(fixed.rgb[0][changed], (plain.rgb + plate.smooth)[0][changed], atol=1e-6)
    kept = plate.free[0, ..., 0] & same[0]
    # (a change under PLATE_SAME, 0.02, the plate carries: the edge of the cube's haze)
    assert float((_empty(tracker, moved)[0] - render(lit_bodies, rest, cams)[0]).abs().amax(-1)[kept].max()) < 0.03


def test_the_trust_floor_is_the_bodies_own_residual(halo_setup):
    # The window losses at rest after calibration (Tracker.floor, what Tracker.confidence measures excess
    # over) no longer hold the halo the background's Gaussians lack; a body moved 1 cm is still found.
    scene, _, lit_bodies, rest, cams, k = halo_setup
    plated, plain = _tracker(halo_setup, True), _tracker(halo_setup, False)
    assert np.all(plated.floor < 0.5 * plain.floor)
    real = rest.copy()
    real[k, 0] += 0.01
    j = list(plated.movable).index(k)
    est = plated.step(render(lit_bodies, real, cams)).estimate
    assert np.linalg.norm(est.position[j] - [0.01, 0.0, 0.0]) < 0.002

"""Two-layer rendering (fixed layer once, movable bodies per iteration) against one full render."""

import numpy as np
import torch

from gwm.render import rasterize
from gwm.track.layers import composite, crop_around, render_layer
from gwm.track.visual_forces import render_fixed_layer

from .helpers import BACKGROUND_RGB, demo_setup


def test_layers_composite_to_the_full_render():
    _, bodies, poses, cams, _ = demo_setup()
    movable = torch.tensor([1, 2, 3])
    moved = poses.copy()
    moved[1, :3] += (0.01, -0.02, 0.0)  # a body off its resting place changes nothing about the layering
    with torch.no_grad():
        full = rasterize(bodies.posed(moved), cams, background=BACKGROUND_RGB, backend="cpu").rgb
        fixed = render_fixed_layer(bodies, moved, movable, cams, "cpu")
        moving = render_layer(bodies.posed(moved, exclude=torch.tensor([0])), cams, "cpu")
        layered = composite(moving, fixed, BACKGROUND_RGB)
    diff = (layered - full).abs()
    assert diff.mean() < 2e-3, diff.mean()
    assert torch.quantile(diff.flatten(), 0.99) < 0.03
    # Without the movable layer the picture is wrong by far more: the test can tell.
    empty = fixed.rgb + (1 - fixed.alpha) * BACKGROUND_RGB
    assert (empty - full).abs().mean() > 10 * diff.mean()


def test_crop_renders_the_same_pixels_as_the_full_image():
    _, bodies, poses, cams, _ = demo_setup(width=256, height=192)
    with torch.no_grad():
        objects = bodies.posed(poses, exclude=torch.tensor([0]))
        crop = crop_around(objects.means, cams, margin=0.1)
        assert crop is not None and crop.width % 8 == 0 and crop.width * crop.height < 0.6 * 256 * 192
        full = render_layer(objects, cams, "cpu")
        part = render_layer(objects, crop.cameras(cams), "cpu")
    np.testing.assert_allclose(part.rgb.numpy(), crop.images(full.rgb).numpy(), atol=1e-5)
    # Everything the objects cover lies inside the window.
    assert crop.images(full.alpha).sum() > 0.999 * full.alpha.sum()

"""PSNR and SSIM against hand-computed values and an independent scipy implementation."""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from gwm.metrics import psnr, ssim
from gwm.metrics.images import gaussian_window


def test_psnr_known_values():
    ref = torch.full((2, 8, 10, 3), 0.5)
    img = ref + 0.1  # MSE = 0.01 -> 20 dB
    assert torch.isclose(psnr(img, ref), torch.tensor(20.0), atol=1e-4)
    img2 = ref.clone()
    img2[1] += 0.01  # second image: MSE 1e-4 -> 40 dB
    per = psnr(img2, ref, reduction="none")
    assert per.shape == (2,) and per[1].item() == pytest.approx(40.0, abs=1e-3)
    # data_range: the same images in 0..255 give the same dB
    assert torch.isclose(psnr(img * 255, ref * 255, data_range=255.0), torch.tensor(20.0), atol=1e-3)


def test_psnr_single_image_and_errors():
    a = torch.zeros(4, 4, 3)
    b = torch.full((4, 4, 3), 0.5)  # MSE 0.25 -> 10 log10(4) dB
    assert psnr(a, b).item() == pytest.approx(10 * math.log10(4), abs=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        psnr(a, torch.zeros(4, 5, 3))


def test_gaussian_window_is_normalised():
    w = gaussian_window(11, 1.5, torch.float64)
    assert w.shape == (11, 11) and torch.isclose(w.sum(), torch.tensor(1.0, dtype=torch.float64))
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    np.testing.assert_allclose(w.numpy(), np.outer(g, g) / g.sum() ** 2, atol=1e-15)


def test_ssim_of_constant_images_by_hand():
    """Constant images a and b with zero padding: at a pixel whose window keeps weight w inside
    the image, mu = a w, sigma_aa = a^2 (w - w^2), sigma_ab = a b (w - w^2); write it out."""
    a, b, h, wd = 0.6, 0.3, 13, 17
    c1, c2 = 0.01**2, 0.03**2
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    g /= g.sum()

    def inside(n):  # per row (or column): weight of the 1-D window that falls inside [0, n)
        return np.array([sum(g[k] for k in range(11) if 0 <= i + k - 5 < n) for i in range(n)])

    w = np.outer(inside(h), inside(wd))
    var = w - w**2
    hand = ((2 * a * b * w**2 + c1) * (2 * a * b * var + c2)) / (((a * a + b * b) * w**2 + c1) * ((a * a + b * b) * var + c2))
    got = ssim(torch.full((h, wd, 1), a, dtype=torch.float64), torch.full((h, wd, 1), b, dtype=torch.float64))
    assert got.dtype == torch.float64
    assert got.item() == pytest.approx(hand.mean(), abs=1e-12)
    interior = (2 * a * b + c1) / (a * a + b * b + c1)  # where the whole window is inside
    assert hand[6, 8] == pytest.approx(interior, abs=1e-12)


def test_ssim_matches_scipy_reference_and_orders_noise():
    rng = np.random.default_rng(0)
    ref = rng.random((2, 24, 20, 3))
    img = np.clip(ref + rng.normal(0, 0.1, ref.shape), 0, 1)
    win = gaussian_window(11, 1.5, torch.float64).numpy()
    c1, c2 = 0.01**2, 0.03**2
    expected = []
    for x, y in zip(img, ref):
        maps = []
        for ch in range(3):
            f = lambda t: ndimage.correlate(t, win, mode="constant", cval=0.0)  # noqa: E731
            mx, my = f(x[..., ch]), f(y[..., ch])
            sxx, syy, sxy = f(x[..., ch] ** 2) - mx**2, f(y[..., ch] ** 2) - my**2, f(x[..., ch] * y[..., ch]) - mx * my
            maps.append(((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2)))
        expected.append(np.mean(maps))
    got = ssim(torch.tensor(img), torch.tensor(ref), reduction="none")
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-10)
    got32 = ssim(torch.tensor(img).float(), torch.tensor(ref).float(), reduction="none")
    np.testing.assert_allclose(got32.numpy(), expected, atol=1e-4)  # float32 path
    assert ssim(torch.tensor(ref), torch.tensor(ref)).item() == pytest.approx(1.0, abs=1e-6)
    worse = np.clip(ref + rng.normal(0, 0.3, ref.shape), 0, 1)
    assert ssim(torch.tensor(worse), torch.tensor(ref)) < ssim(torch.tensor(img), torch.tensor(ref)) < 1.0


def test_ssim_is_differentiable():
    ref = torch.rand(1, 16, 16, 3)
    img = (ref + 0.1 * torch.randn_like(ref)).requires_grad_()
    loss = 1 - ssim(img, ref)
    loss.backward()
    assert img.grad is not None and torch.isfinite(img.grad).all() and img.grad.abs().sum() > 0
    # a small step against the gradient raises SSIM
    with torch.no_grad():
        stepped = img - 0.5 * img.grad / img.grad.abs().max()
    assert ssim(stepped, ref) > ssim(img.detach(), ref)

import math

import pytest
import torch

from gwm.geometry import quat_multiply, quat_to_rotmat, rotmat_to_quat
from gwm.sh import eval_sh_colors, sh_basis, sh_rotation
from gwm.splats import GaussianSplats


def random_splats(n=50, degree=3, seed=0) -> GaussianSplats:
    g = torch.Generator().manual_seed(seed)
    return GaussianSplats(
        means=torch.randn(n, 3, generator=g),
        quats_wxyz=torch.randn(n, 4, generator=g),
        log_scales=torch.randn(n, 3, generator=g) - 3,
        logit_opacities=torch.randn(n, generator=g),
        sh=torch.randn(n, (degree + 1) ** 2, 3, generator=g) * 0.3,
    )


def random_rotation(seed=0, dtype=torch.float32):
    q = torch.randn(4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return quat_to_rotmat(q / q.norm()).to(dtype)


def test_sh_basis_is_orthonormal_on_the_sphere():
    # Monte-Carlo-free check: integrate on a fine Fibonacci sphere.
    n = 20000
    i = torch.arange(n, dtype=torch.float64) + 0.5
    phi, theta = torch.acos(1 - 2 * i / n), math.pi * (1 + 5**0.5) * i
    d = torch.stack([torch.cos(theta) * torch.sin(phi), torch.sin(theta) * torch.sin(phi), torch.cos(phi)], -1)
    y = sh_basis(3, d)
    gram = y.T @ y * (4 * math.pi / n)
    assert torch.allclose(gram, torch.eye(16, dtype=torch.float64), atol=2e-3)


def test_sh_basis_matches_gsplat_reference():
    from gsplat.cuda._torch_impl import _eval_sh_bases_fast

    d = torch.nn.functional.normalize(torch.randn(100, 3, dtype=torch.float64), dim=-1)
    assert torch.allclose(sh_basis(3, d), _eval_sh_bases_fast(16, d), atol=1e-12)


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_sh_rotation_rotates_the_colour_function(degree):
    rot = random_rotation(1, torch.float64)
    sh = torch.randn((degree + 1) ** 2, 3, dtype=torch.float64)
    d = torch.nn.functional.normalize(torch.randn(200, 3, dtype=torch.float64), dim=-1)
    rotated_sh = sh_rotation(rot, degree) @ sh
    # Colour seen along R d from the rotated object == colour seen along d before rotation.
    before = eval_sh_colors(sh.expand(200, -1, -1), d, degree)
    after = eval_sh_colors(rotated_sh.expand(200, -1, -1), d @ rot.T, degree)
    assert torch.allclose(before, after, atol=1e-10)


def test_quaternion_matrix_round_trip_and_composition():
    q = torch.nn.functional.normalize(torch.randn(64, 4, dtype=torch.float64), dim=-1)
    r = quat_to_rotmat(q)
    q2 = rotmat_to_quat(r)
    assert torch.allclose(quat_to_rotmat(q2), r, atol=1e-12)
    assert (q2[:, 0] >= 0).all()
    a, b = q[:32], q[32:]
    assert torch.allclose(quat_to_rotmat(quat_multiply(a, b)), quat_to_rotmat(a) @ quat_to_rotmat(b), atol=1e-12)


def test_transform_moves_means_rotates_covariances_and_sh():
    s = random_splats(degree=3).to(dtype=torch.float64)
    rot = random_rotation(2, torch.float64)
    t = torch.eye(4, dtype=torch.float64)
    t[:3, :3], t[:3, 3] = rot, torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    moved = s.transform(t, scale=2.0)
    assert torch.allclose(moved.means, 2.0 * s.means @ rot.T + t[:3, 3], atol=1e-12)
    assert torch.allclose(moved.covariances(), 4.0 * rot @ s.covariances() @ rot.T, atol=1e-10)
    assert torch.equal(moved.logit_opacities, s.logit_opacities)
    d = torch.nn.functional.normalize(torch.randn(len(s), 3, dtype=torch.float64), dim=-1)
    assert torch.allclose(eval_sh_colors(s.sh, d, 3), eval_sh_colors(moved.sh, d @ rot.T, 3), atol=1e-9)
    # Inverse transform restores the original.
    back = moved.transform(torch.linalg.inv(t)).transform(torch.eye(4, dtype=torch.float64), scale=0.5)
    assert torch.allclose(back.means, s.means, atol=1e-12)
    assert torch.allclose(back.sh, s.sh, atol=1e-9)


def test_transform_rejects_non_rigid_matrix():
    t = torch.eye(4)
    t[0, 0] = 2.0
    with pytest.raises(ValueError, match="not orthonormal"):
        random_splats().transform(t)


def test_indexing_cat_and_sh_padding():
    a, b = random_splats(10, degree=3), random_splats(5, degree=0, seed=1)
    c = GaussianSplats.cat([a, b])
    assert len(c) == 15 and c.sh_degree == 3
    assert torch.equal(c.sh[10:, 1:], torch.zeros(5, 15, 3))
    assert torch.equal(c[torch.arange(10)].means, a.means)
    assert len(c[c.means[:, 0] > 0]) == int((c.means[:, 0] > 0).sum())
    assert len(c[3]) == 1
    assert c.with_sh_degree(1).sh.shape == (15, 4, 3)


def test_shape_validation_errors():
    with pytest.raises(ValueError, match="quats_wxyz has shape"):
        GaussianSplats(torch.zeros(3, 3), torch.zeros(3, 3), torch.zeros(3, 3), torch.zeros(3), torch.zeros(3, 1, 3))
    with pytest.raises(ValueError, match="expected 1, 4, 9 or 16"):
        GaussianSplats(torch.zeros(3, 3), torch.zeros(3, 4), torch.zeros(3, 3), torch.zeros(3), torch.zeros(3, 5, 3))


def test_from_activated_and_activations():
    rgb = torch.rand(8, 3)
    s = GaussianSplats.from_activated(torch.zeros(8, 3), torch.tensor([[1.0, 0, 0, 0]]).repeat(8, 1),
                                     torch.full((8, 3), 0.02), torch.full((8,), 0.7), rgb=rgb)
    assert torch.allclose(s.scales, torch.full((8, 3), 0.02), rtol=1e-6)
    assert torch.allclose(s.opacities, torch.full((8,), 0.7), atol=1e-6)
    assert torch.allclose(s.rgb_dc, rgb, atol=1e-6)


def test_assert_finite_names_the_field():
    s = random_splats(4)
    s.log_scales[2, 1] = float("nan")
    with pytest.raises(ValueError, match="1 Gaussians have NaN or inf in log_scales"):
        s.assert_finite()

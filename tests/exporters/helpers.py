"""Shared helpers for the exporter tests."""

import torch

from gwm.splats import GaussianSplats


def random_splats(n=64, degree=3, seed=0) -> GaussianSplats:
    g = torch.Generator().manual_seed(seed)
    return GaussianSplats(
        means=torch.randn(n, 3, generator=g),
        quats_wxyz=torch.randn(n, 4, generator=g) * 3,  # not unit, arbitrary sign
        log_scales=torch.randn(n, 3, generator=g) - 4,
        logit_opacities=torch.randn(n, generator=g) * 3,
        sh=torch.randn(n, (degree + 1) ** 2, 3, generator=g),
    )


def validation_errors(path) -> list[str]:
    """Errors and warnings from every UsdValidation validator registered in usd-core."""
    from pxr import Usd, UsdValidation

    ctx = UsdValidation.ValidationContext(UsdValidation.ValidationRegistry().GetOrLoadAllValidators())
    errors = ctx.Validate(Usd.Stage.Open(str(path)))
    return [f"{e.GetName()}: {e.GetMessage()}" for e in errors
            if e.GetType() in (UsdValidation.ValidationErrorType.Error, UsdValidation.ValidationErrorType.Warn)]


def assert_splats_equal(a: GaussianSplats, b: GaussianSplats, atol=1e-6):
    torch.testing.assert_close(a.means, b.means, atol=atol, rtol=0)
    # Orientation is stored unit-normalised; q and -q are the same rotation.
    qa, qb = a.unit_quats_wxyz, b.unit_quats_wxyz
    assert torch.all((qa * qb).sum(-1).abs() > 1 - 1e-6)
    torch.testing.assert_close(a.log_scales, b.log_scales, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.opacities, b.opacities, atol=1e-6, rtol=0)
    torch.testing.assert_close(a.sh, b.sh, atol=atol, rtol=0)

"""Real spherical harmonics up to degree 3, in the 3DGS / gsplat ordering and signs.

Colour of a Gaussian seen along unit direction d: max(0, 0.5 + sum_k sh[k] * Y_k(d)).
"""

from __future__ import annotations

import functools

import torch

SH_C0 = 0.28209479177387814
MAX_SH_DEGREE = 3


def num_sh_bases(degree: int) -> int:
    return (degree + 1) ** 2


def sh_degree_from_bases(num_bases: int) -> int:
    degree = round(num_bases**0.5) - 1
    if num_bases < 1 or (degree + 1) ** 2 != num_bases or degree > MAX_SH_DEGREE:
        raise ValueError(
            f"{num_bases} SH coefficients per channel is not (d+1)^2 for a degree d in 0..3; "
            "expected 1, 4, 9 or 16"
        )
    return degree


def sh_basis(degree: int, dirs: torch.Tensor) -> torch.Tensor:
    """Real SH basis at unit directions dirs (..., 3) -> (..., (degree+1)^2)."""
    x, y, z = dirs.unbind(-1)
    out = [torch.full_like(x, SH_C0)]
    if degree >= 1:
        out += [-0.4886025119029199 * y, 0.4886025119029199 * z, -0.4886025119029199 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        out += [
            1.0925484305920792 * x * y,
            -1.0925484305920792 * y * z,
            0.31539156525252005 * (2.0 * zz - xx - yy),
            -1.0925484305920792 * x * z,
            0.5462742152960396 * (xx - yy),
        ]
    if degree >= 3:
        out += [
            -0.5900435899266435 * y * (3 * xx - yy),
            2.890611442640554 * x * y * z,
            -0.4570457994644658 * y * (4 * zz - xx - yy),
            0.3731763325901154 * z * (2 * zz - 3 * xx - 3 * yy),
            -0.4570457994644658 * x * (4 * zz - xx - yy),
            1.445305721320277 * z * (xx - yy),
            -0.5900435899266435 * x * (xx - 3 * yy),
        ]
    return torch.stack(out, dim=-1)


def eval_sh_colors(sh: torch.Tensor, dirs: torch.Tensor, degree: int) -> torch.Tensor:
    """sh (..., K, 3), unit dirs (..., 3) -> RGB (..., 3), offset by 0.5 and clamped at 0."""
    basis = sh_basis(degree, dirs)  # (..., k)
    k = basis.shape[-1]
    rgb = (basis[..., None] * sh[..., :k, :]).sum(-2)
    return torch.clamp_min(rgb + 0.5, 0.0)


@functools.lru_cache(maxsize=None)
def _fibonacci_dirs(n: int) -> torch.Tensor:
    i = torch.arange(n, dtype=torch.float64) + 0.5
    phi = torch.acos(1 - 2 * i / n)
    theta = torch.pi * (1 + 5**0.5) * i
    return torch.stack(
        [torch.cos(theta) * torch.sin(phi), torch.sin(theta) * torch.sin(phi), torch.cos(phi)], -1
    )


def sh_rotation(rotation: torch.Tensor, degree: int) -> torch.Tensor:
    """Block-diagonal matrix D (K, K) that rotates SH coefficients with the object.

    For an object rotated by R, the new colour function is f'(d) = f(R^T d). Because each
    degree band is closed under rotation, Y(R^T d) = D^T Y(d) for a (K, K) matrix D with
    one block per band, found exactly by least squares on well-spread directions:
    f'(d) = sum_k sh_k Y_k(R^T d) = sum_i (D @ sh)_i Y_i(d), so sh' = D @ sh. Using our own basis keeps the rotation consistent with the renderer.
    """
    rot = rotation.detach().to(torch.float64).cpu()
    dirs = _fibonacci_dirs(64)
    y = sh_basis(degree, dirs)  # (n, K)
    y_rot = sh_basis(degree, dirs @ rot)  # rows are R^T d
    k = y.shape[1]
    d = torch.zeros(k, k, dtype=torch.float64)
    d[0, 0] = 1.0
    for band in range(1, degree + 1):
        s = slice(band * band, (band + 1) * (band + 1))
        # Y(R^T d)_j = sum_i Y_i(d) B_ij on band s, so D's block is B itself.
        d[s, s] = torch.linalg.lstsq(y[:, s], y_rot[:, s]).solution
    return d.to(rotation.dtype)

"""The Gaussian splat type every stage passes around."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from gwm.geometry import normalize_quats, quat_multiply, quat_to_rotmat, rotmat_to_quat
from gwm.sh import SH_C0, num_sh_bases, sh_degree_from_bases, sh_rotation


@dataclass
class GaussianSplats:
    """N anisotropic 3D Gaussians with spherical-harmonic colour.

    Stored in the parameterisation the INRIA PLY uses, so PLY round trips are exact:
    means (N,3) metres; quats_wxyz (N,4) (not necessarily unit; normalise on use);
    log_scales (N,3); logit_opacities (N,); sh (N, (d+1)^2, 3), DC first.
    """

    means: torch.Tensor
    quats_wxyz: torch.Tensor
    log_scales: torch.Tensor
    logit_opacities: torch.Tensor
    sh: torch.Tensor

    def __post_init__(self) -> None:
        n = self.means.shape[0]
        expected = {
            "means": (n, 3),
            "quats_wxyz": (n, 4),
            "log_scales": (n, 3),
            "logit_opacities": (n,),
        }
        for name, shape in expected.items():
            got = tuple(getattr(self, name).shape)
            if got != shape:
                raise ValueError(f"GaussianSplats.{name} has shape {got}, expected {shape}")
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            raise ValueError(f"GaussianSplats.sh has shape {tuple(self.sh.shape)}, expected ({n}, K, 3)")
        sh_degree_from_bases(self.sh.shape[1])

    # construction -----------------------------------------------------------------
    @classmethod
    def from_activated(
        cls,
        means: torch.Tensor,
        quats_wxyz: torch.Tensor,
        scales: torch.Tensor,
        opacities: torch.Tensor,
        sh: torch.Tensor | None = None,
        rgb: torch.Tensor | None = None,
    ) -> "GaussianSplats":
        """Build from linear scales, opacities in (0,1), and SH or plain RGB in [0,1]."""
        if (sh is None) == (rgb is None):
            raise ValueError("give exactly one of sh (N,K,3) or rgb (N,3)")
        if sh is None:
            sh = rgb_to_sh_dc(rgb)[:, None, :]
        eps = 1e-6
        return cls(
            means=means,
            quats_wxyz=quats_wxyz,
            log_scales=torch.log(scales.clamp_min(1e-12)),
            logit_opacities=torch.logit(opacities.clamp(eps, 1 - eps)),
            sh=sh,
        )

    @classmethod
    def empty(cls, sh_degree: int = 0, dtype=torch.float32, device="cpu") -> "GaussianSplats":
        z = lambda *s: torch.zeros(*s, dtype=dtype, device=device)  # noqa: E731
        return cls(z(0, 3), z(0, 4), z(0, 3), z(0), z(0, num_sh_bases(sh_degree), 3))

    @classmethod
    def cat(cls, parts: list["GaussianSplats"]) -> "GaussianSplats":
        """Concatenate; lower SH degrees are zero-padded to the highest one."""
        if not parts:
            raise ValueError("GaussianSplats.cat needs at least one part")
        k = max(p.sh.shape[1] for p in parts)
        padded = [p.with_sh_degree(sh_degree_from_bases(k)) for p in parts]
        return cls(**{f.name: torch.cat([getattr(p, f.name) for p in padded]) for f in fields(cls)})

    # views ------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.means.shape[0]

    def __getitem__(self, index) -> "GaussianSplats":
        """Index with an int tensor, bool mask or slice; always returns GaussianSplats."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return GaussianSplats(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @property
    def sh_degree(self) -> int:
        return sh_degree_from_bases(self.sh.shape[1])

    @property
    def scales(self) -> torch.Tensor:
        return torch.exp(self.log_scales)

    @property
    def opacities(self) -> torch.Tensor:
        return torch.sigmoid(self.logit_opacities)

    @property
    def unit_quats_wxyz(self) -> torch.Tensor:
        return normalize_quats(self.quats_wxyz)

    @property
    def rgb_dc(self) -> torch.Tensor:
        """View-independent base colour (N,3) from the DC coefficient."""
        return (0.5 + SH_C0 * self.sh[:, 0, :]).clamp(0.0, 1.0)

    @property
    def device(self) -> torch.device:
        return self.means.device

    def to(self, device=None, dtype=None) -> "GaussianSplats":
        return GaussianSplats(**{f.name: getattr(self, f.name).to(device=device, dtype=dtype) for f in fields(self)})

    def detach(self) -> "GaussianSplats":
        return GaussianSplats(**{f.name: getattr(self, f.name).detach() for f in fields(self)})

    def clone(self) -> "GaussianSplats":
        return GaussianSplats(**{f.name: getattr(self, f.name).clone() for f in fields(self)})

    def with_sh_degree(self, degree: int) -> "GaussianSplats":
        """Truncate or zero-pad the SH coefficients to the given degree."""
        k, have = num_sh_bases(degree), self.sh.shape[1]
        if k == have:
            return self
        if k < have:
            sh = self.sh[:, :k]
        else:
            sh = torch.cat([self.sh, self.sh.new_zeros(len(self), k - have, 3)], dim=1)
        return GaussianSplats(self.means, self.quats_wxyz, self.log_scales, self.logit_opacities, sh)

    # rigid motion -----------------------------------------------------------------
    def transform(self, world_from_local: torch.Tensor, scale: float = 1.0) -> "GaussianSplats":
        """Apply x -> R (s x) + t: moves means, rotates orientations and SH, scales sizes.

        world_from_local is a (4,4) rigid transform (rotation part must be orthonormal).
        """
        t = world_from_local.to(self.means)
        rot, trans = t[:3, :3], t[:3, 3]
        if not torch.allclose(rot @ rot.T, torch.eye(3, dtype=rot.dtype, device=rot.device), atol=1e-4):
            raise ValueError("transform: rotation block is not orthonormal; pass scale separately")
        if scale <= 0:
            raise ValueError(f"transform: scale must be positive, got {scale}")
        q_rot = rotmat_to_quat(rot)
        d = sh_rotation(rot, self.sh_degree).to(self.sh)
        return GaussianSplats(
            means=scale * self.means @ rot.T + trans,
            quats_wxyz=quat_multiply(q_rot.expand_as(self.quats_wxyz), self.quats_wxyz),
            log_scales=self.log_scales + float(torch.log(torch.tensor(scale))),
            logit_opacities=self.logit_opacities,
            sh=torch.einsum("jk,nkc->njc", d, self.sh),
        )

    def covariances(self) -> torch.Tensor:
        """World covariances (N,3,3) = R S S R^T."""
        r = quat_to_rotmat(self.quats_wxyz)
        m = r * self.scales[:, None, :]
        return m @ m.transpose(-1, -2)

    def assert_finite(self, what: str = "splats") -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not torch.isfinite(v).all():
                bad = int((~torch.isfinite(v)).reshape(len(self), -1).any(-1).sum())
                raise ValueError(f"{what}: {bad} Gaussians have NaN or inf in {f.name}")


def rgb_to_sh_dc(rgb: torch.Tensor) -> torch.Tensor:
    return (rgb - 0.5) / SH_C0


__all__ = ["GaussianSplats", "rgb_to_sh_dc", "rotmat_to_quat"]

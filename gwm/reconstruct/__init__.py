"""Reconstruction: a capture (nerfstudio layout) becomes a metric Gaussian splat (INRIA PLY).

    from gwm.reconstruct import reconstruct, train_preset, NerfstudioConfig
    result = reconstruct("datasets/kitchen", "out/kitchen", train_preset("cpu"))   # built-in 3DGS
    result = reconstruct("datasets/kitchen", "out/kitchen", NerfstudioConfig())    # splatfacto (CUDA)
"""

from gwm.reconstruct.api import BACKENDS, ReconstructionResult, reconstruct
from gwm.reconstruct.config import PRESETS, TrainConfig, train_preset
from gwm.reconstruct.nerfstudio_backend import NerfstudioConfig

__all__ = ["BACKENDS", "PRESETS", "NerfstudioConfig", "ReconstructionResult", "TrainConfig", "reconstruct", "train_preset"]

"""Evaluation metrics shared by capture, reconstruction and the world model."""

from gwm.metrics.images import psnr, ssim
from gwm.metrics.poses import PoseErrors, Similarity, pose_errors, rotation_angle_deg, umeyama

__all__ = ["psnr", "ssim", "PoseErrors", "Similarity", "pose_errors", "rotation_angle_deg", "umeyama"]

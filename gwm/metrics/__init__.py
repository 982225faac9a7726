"""Evaluation metrics shared by capture, reconstruction and the world model."""

from gwm.metrics.images import psnr, ssim
from gwm.metrics.poses import PoseErrors, RobustAlignment, Similarity, pose_errors, robust_similarity, rotation_angle_deg, umeyama

__all__ = ["psnr", "ssim", "PoseErrors", "RobustAlignment", "Similarity", "pose_errors", "robust_similarity", "rotation_angle_deg",
           "umeyama"]

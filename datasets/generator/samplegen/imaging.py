"""What a phone camera does to a clean render: sensor noise, then JPEG compression."""

from __future__ import annotations

import numpy as np


def sensor_noise(rgb: np.ndarray, rng: np.random.Generator, read: float, shot: float) -> np.ndarray:
    """Gaussian read noise (std `read` levels) plus photon noise (std sqrt(shot * level)), per
    pixel and channel, on uint8 RGB."""
    x = rgb.astype(np.float32)
    std = np.sqrt(read**2 + shot * x)
    return np.clip(x + std * rng.standard_normal(x.shape, dtype=np.float32) + 0.5, 0, 255).astype(np.uint8)


def jpeg_bytes(rgb: np.ndarray, quality: int) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    assert ok
    return buf.tobytes()


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """The frame as a JPEG of this quality would decode (block artefacts, ringing, chroma loss)."""
    import cv2

    return cv2.imdecode(np.frombuffer(jpeg_bytes(rgb, quality), np.uint8), cv2.IMREAD_COLOR)[..., ::-1].copy()

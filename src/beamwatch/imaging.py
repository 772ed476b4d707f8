"""Image helpers for humans: contrast limits and PNG encoding (Pillow)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def contrast_limits(image: np.ndarray, lo: float = 0.5, hi: float = 99.5, log: bool = False) -> tuple[float, float]:
    """Percentile clip (on a subsample of big images, so it costs ~ms)."""
    flat = image.ravel()
    if flat.size > 1_000_000:
        flat = flat[:: flat.size // 500_000]
    if log:
        flat = flat[flat > 0]
    if flat.size == 0:
        return (0.0, 1.0)
    a, b = np.percentile(flat, [lo, hi])
    if b <= a:
        b = a + 1
    return float(a), float(b)


def to_png(image: np.ndarray, limits: tuple[float, float], log: bool = False) -> bytes:
    a, b = limits
    img = image.astype(np.float32)
    if log:
        a, b = np.log10(max(a, 1e-12)), np.log10(max(b, 1e-12) if b > 0 else 1.0)
        img = np.log10(np.maximum(img, 1e-12))
    scaled = np.clip((img - a) / ((b - a) or 1.0), 0, 1) * 255
    buf = io.BytesIO()
    Image.fromarray(scaled.astype(np.uint8)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()

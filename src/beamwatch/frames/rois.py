"""Rectangular regions of interest and fast, exact ROI sums."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_FIELDS = ("x", "y", "width", "height")


@dataclass(frozen=True)
class ROI:
    """Rectangle in detector pixels: columns ``[x, x+width)``, rows ``[y, y+height)``."""

    name: str
    x: int
    y: int
    width: int
    height: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y, self.y + self.height), slice(self.x, self.x + self.width)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "x": self.x, "y": self.y,
                "width": self.width, "height": self.height}


def validate_rois(items: Any, frame_shape: Sequence[int] | None = None) -> list[ROI]:
    """Check a JSON-ish list of ROI dicts; raise ``ValueError`` with a clear message."""
    if not isinstance(items, list):
        raise ValueError(f"ROIs must be a list of objects, got {type(items).__name__}")
    out: list[ROI] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"ROI #{i}"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be an object, got {type(item).__name__}")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}: 'name' must be a non-empty string")
        where = f"ROI {name!r}"
        if ":" in name:
            raise ValueError(f"{where}: names must not contain ':' (reserved for total:<field>)")
        if name in seen:
            raise ValueError(f"{where}: duplicate name")
        seen.add(name)
        vals: dict[str, int] = {}
        for key in _FIELDS:
            if key not in item:
                raise ValueError(f"{where}: missing field {key!r}")
            v = item[key]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"{where}: {key!r} must be an integer, got {v!r}")
            vals[key] = int(v)
        if vals["width"] <= 0 or vals["height"] <= 0:
            raise ValueError(f"{where}: width and height must be positive")
        if vals["x"] < 0 or vals["y"] < 0:
            raise ValueError(f"{where}: x and y must be >= 0 (outside the frame)")
        roi = ROI(name, vals["x"], vals["y"], vals["width"], vals["height"])
        if frame_shape is not None:
            _check_inside(roi, frame_shape)
        out.append(roi)
    return out


def _check_inside(roi: ROI, frame_shape: Sequence[int]) -> None:
    ny, nx = int(frame_shape[-2]), int(frame_shape[-1])
    if roi.x + roi.width > nx or roi.y + roi.height > ny:
        raise ValueError(
            f"ROI {roi.name!r} (x={roi.x}, y={roi.y}, width={roi.width}, height={roi.height}) "
            f"extends outside the frame ({nx} columns x {ny} rows)"
        )


# dtype -> (narrow accumulator, max rows per block without overflow)
_NARROW: dict[np.dtype, tuple[type, int]] = {
    np.dtype(np.uint8): (np.uint16, 257),   # 255 * 257 = 65535
    np.dtype(np.int8): (np.int16, 256),     # 128 * 256 = 32768 (fits negative side)
    np.dtype(np.uint16): (np.uint32, 65537),
    np.dtype(np.int16): (np.int32, 65536),
}


def _result_dtype(dt: np.dtype) -> type:
    if dt.kind in "ub":
        return np.uint64
    if dt.kind == "i":
        return np.int64
    return np.float64


def _sum2d(a: np.ndarray) -> np.ndarray:
    """Exact sum over the last two axes.

    Narrow integers are first reduced over row blocks in a small
    accumulator (SIMD-friendly, no overflow by construction), then the
    column partials are summed in 64 bit. No float copies are made.
    """
    if a.dtype == np.bool_:
        a = a.view(np.uint8)
    out_dt = _result_dtype(a.dtype)
    narrow = _NARROW.get(a.dtype)
    if narrow is None:
        return a.sum(axis=(-2, -1), dtype=out_dt)
    acc_dt, rows = narrow
    ny = a.shape[-2]
    total = np.zeros(a.shape[:-2], dtype=out_dt)
    for r0 in range(0, ny, rows):
        part = np.add.reduce(a[..., r0 : r0 + rows, :], axis=-2, dtype=acc_dt)
        total += part.sum(axis=-1, dtype=out_dt)
    return total


def roi_sums(frames: np.ndarray, rois: Sequence[ROI]) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame ROI sums and totals.

    ``frames`` is ``(n, ny, nx)`` or one ``(ny, nx)`` frame (treated as n=1).
    Returns ``(sums (n, n_rois), totals (n,))``: uint64 for unsigned/bool,
    int64 for signed, float64 for float input.
    """
    a = np.asarray(frames)
    if a.ndim == 2:
        a = a[np.newaxis]
    if a.ndim != 3:
        raise ValueError(f"frames must be (n, ny, nx) or (ny, nx), got shape {a.shape}")
    totals = _sum2d(a)
    sums = np.empty((a.shape[0], len(rois)), dtype=totals.dtype)
    for j, roi in enumerate(rois):
        _check_inside(roi, a.shape)
        ys, xs = roi.slices
        sums[:, j] = _sum2d(a[:, ys, xs])
    return sums, totals


def point_sums(stack: np.ndarray, rois: Sequence[ROI]) -> tuple[np.ndarray, np.generic]:
    """Sums over all frames of one point: ``(per-ROI sums (n_rois,), total)``."""
    sums, totals = roi_sums(stack, rois)
    return sums.sum(axis=0, dtype=sums.dtype), totals.sum(dtype=totals.dtype)

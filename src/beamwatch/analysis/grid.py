"""Grid placement: the one Python place for bluesky's grid-scan rules.

``grid_scan`` / ``rel_grid_scan`` (with or without ``snake_axes``) describe
their raster in the start document:

* ``shape``   -- ``[ny, nx]``, slow axis first
* ``extents`` -- ``[[y0, y1], [x0, x1]]``, the motors' start and stop
* ``snaking`` -- e.g. ``[False, True]``: the fast axis reverses on odd rows
* ``hints.gridding == "rectilinear"`` (set by ``grid_scan``)

Event ``seq_num`` (1-based) lands, as in bluesky's ``LiveGrid``, at
``(i, j) = unravel_index(seq_num - 1, shape)``, and when ``snaking[1]`` and
``i`` is odd, ``j = nx - 1 - j``. So ``data[i][j]`` of a map is the point at
slow index ``i`` and fast index ``j``: snaking is undone and neighbours in the
array are neighbours on the sample.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True, slots=True)
class GridSpec:
    shape: tuple[int, int]  # (ny, nx), slow axis first
    extents: tuple[tuple[float, float], tuple[float, float]] | None
    snaking: tuple[bool, bool]
    motors: tuple[str, ...]  # slow motor first, as in the start document

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @classmethod
    def from_start(cls, start: dict[str, Any]) -> "GridSpec | None":
        """The grid of a 2-D rectilinear grid scan, else None."""
        shape = start.get("shape")
        if not isinstance(shape, (list, tuple)) or len(shape) != 2:
            return None
        if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
            return None
        hints = start.get("hints") or {}
        gridding = hints.get("gridding") if isinstance(hints, dict) else None
        if gridding not in (None, "rectilinear"):
            return None
        if gridding is None and "extents" not in start:
            return None  # a 2-D shape without grid metadata is not a raster we can place
        extents = start.get("extents")
        ext = None
        try:
            if extents is not None and len(extents) == 2:
                ext = tuple((float(a), float(b)) for a, b in extents)
        except (TypeError, ValueError):
            ext = None
        snaking = start.get("snaking") or (False, False)
        snake = (bool(snaking[0]), bool(snaking[1])) if len(snaking) >= 2 else (False, False)
        motors = tuple(str(m) for m in (start.get("motors") or ()))
        return cls((int(shape[0]), int(shape[1])), ext, snake, motors)

    def place(self, seq_num: int) -> tuple[int, int] | None:
        """``(i, j)`` of event ``seq_num`` (1-based), or None when off the grid."""
        k = seq_num - 1
        if k < 0 or k >= self.size:
            return None
        i, j = divmod(k, self.shape[1])
        if self.snaking[1] and i % 2:
            j = self.shape[1] - 1 - j
        return i, j

    def flat_index(self, seq_nums: np.ndarray) -> np.ndarray:
        """Row-major cell index (``i * nx + j``) per seq_num; -1 when off the grid."""
        ny, nx = self.shape
        k = np.asarray(seq_nums, dtype=np.int64) - 1
        i, j = np.divmod(k, nx)
        if self.snaking[1]:
            odd = (i % 2) == 1
            j = np.where(odd, nx - 1 - j, j)
        out = i * nx + j
        out[(k < 0) | (k >= ny * nx)] = -1
        return out.astype(np.int32)

    def place_values(self, values: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
        """``{seq_num: value}`` -> (values [ny, nx] with NaN unmeasured, measured mask)."""
        seqs = np.fromiter(values.keys(), dtype=np.int64, count=len(values))
        vals = np.fromiter(values.values(), dtype=np.float64, count=len(values))
        idx = self.flat_index(seqs) if len(seqs) else np.zeros(0, dtype=np.int32)
        return self.scatter(idx, vals)

    def scatter(self, idx: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values at flat cell indices (``-1`` = off the grid, skipped) -> (values [ny, nx]
        with NaN unmeasured, measured mask)."""
        ok = idx >= 0
        out = np.full(self.size, np.nan)
        measured = np.zeros(self.size, dtype=bool)
        out[idx[ok]] = values[ok]
        measured[idx[ok]] = True
        return out.reshape(self.shape), measured.reshape(self.shape)

    def as_dict(self) -> dict[str, Any]:
        return {
            "shape": list(self.shape),
            "extents": [list(e) for e in self.extents] if self.extents else None,
            "snaking": list(self.snaking),
            "motors": list(self.motors),
        }

"""Read complete frames from HDF5 files that may still be written (SWMR)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401  (registers bitshuffle/LZ4/blosc/... filters)
import numpy as np

from .errors import FrameError
from .resolver import FrameRef

POLL_INTERVAL = 0.02


class _FileNotReady(FrameError):
    """File missing or not yet openable in SWMR mode (worth waiting for)."""


class SWMRReader:
    """Thread-safe reader with an LRU of open SWMR h5py files.

    All h5py calls happen under one lock (h5py is not concurrency-safe);
    the lock is released while waiting for frames to be written.
    """

    def __init__(self, max_open: int = 16, poll: float = POLL_INTERVAL) -> None:
        self.max_open = max_open
        self.poll = poll
        self._files: OrderedDict[Path, h5py.File] = OrderedDict()
        self._lock = threading.Lock()

    def __enter__(self) -> SWMRReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            while self._files:
                self._files.popitem()[1].close()

    def _drop(self, path: Path) -> None:
        f = self._files.pop(path, None)
        if f is not None:
            f.close()

    def _open(self, path: Path) -> h5py.File:
        f = self._files.get(path)
        if f is not None:
            self._files.move_to_end(path)
            return f
        if not path.is_file():
            raise _FileNotReady(f"file {str(path)!r} not found", status=404)
        try:
            f = h5py.File(path, "r", libver="latest", swmr=True)
        except OSError as exc:  # e.g. writer has not switched to SWMR mode yet
            raise _FileNotReady(f"file {str(path)!r} cannot be opened yet: {exc}", 404) from exc
        self._files[path] = f
        while len(self._files) > self.max_open:
            self._files.popitem(last=False)[1].close()
        return f

    def _dataset(self, ref: FrameRef) -> h5py.Dataset:
        """Open the dataset (reopening a cached file once if it is missing)."""
        for _ in (0, 1):
            f = self._open(ref.path)
            obj = f.get(ref.dataset)
            if isinstance(obj, h5py.Dataset):
                return obj
            self._drop(ref.path)
        raise FrameError(f"dataset {ref.dataset!r} not found in {str(ref.path)!r}", 404)

    def _length(self, ref: FrameRef) -> int:
        """Refreshed first-axis length; the dataset must be an image stack."""
        ds = self._dataset(ref)
        ds.id.refresh()
        if ds.ndim < 3:
            raise FrameError(
                f"dataset {ref.dataset!r} in {str(ref.path)!r} is not an image stack "
                f"(shape {ds.shape})",
                status=422,
            )
        return int(ds.shape[0])

    def length(self, path: Path, dataset: str) -> int:
        """Number of complete entries along the first axis right now."""
        with self._lock:
            return self._length(FrameRef(Path(path), dataset, 0, 0))

    def read(self, ref: FrameRef, wait: float = 2.0) -> np.ndarray:
        """Frames ``ref.start:ref.stop`` as a ``(nframes, ny, nx)`` stack.

        Polls (refresh + sleep, lock released) for up to ``wait`` seconds
        until the dataset is long enough. Only entries below the refreshed
        length are read, so a frame is never partially written.
        """
        if ref.start < 0 or ref.stop <= ref.start:
            raise FrameError(f"bad frame range [{ref.start}, {ref.stop})", status=422)
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            err: FrameError | None = None
            n = 0
            with self._lock:
                try:
                    n = self._length(ref)
                except _FileNotReady as exc:
                    err = exc
                else:
                    if n >= ref.stop:
                        # a new handle, not the one _length refreshed: reading through that one can
                        # return wrong frames (test_waits_for_frame_not_yet_flushed)
                        data = self._dataset(ref)[ref.start : ref.stop]
                        return data.reshape((-1,) + data.shape[-2:])
            if time.monotonic() >= deadline:
                if err is not None:
                    raise err
                raise FrameError(
                    f"frame {ref.stop - 1} not written yet (dataset has {n}) "
                    f"in {str(ref.path)!r}:{ref.dataset}",
                    status=404,
                )
            time.sleep(self.poll)


def squeeze_frames(stack: np.ndarray) -> np.ndarray:
    """``(1, ny, nx)`` -> ``(ny, nx)``; other stacks unchanged."""
    return stack[0] if stack.ndim == 3 and stack.shape[0] == 1 else stack


def auto_bin(shape: tuple[int, ...], max_pixels: int) -> int:
    """Smallest integer bin factor so the binned last two axes fit ``max_pixels``."""
    if max_pixels < 1:
        raise ValueError("max_pixels must be >= 1")
    ny, nx = shape[-2:]
    f = max(1, math.isqrt(max(ny * nx // max_pixels, 1)))
    while (ny // f) * (nx // f) > max_pixels and f < max(ny, nx):
        f += 1
    return f


def bin_frame(frame: np.ndarray, factor: int, mode: str = "mean") -> np.ndarray:
    """Bin the last two axes by ``factor`` (edges that do not fill a bin are cropped).

    ``mode="mean"`` returns float32; ``mode="max"`` keeps dtype and
    single-pixel peaks.
    """
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"bin factor must be a positive integer, got {factor!r}")
    if mode not in ("mean", "max"):
        raise ValueError(f"bin mode must be 'mean' or 'max', got {mode!r}")
    if factor == 1:
        return frame if mode == "max" else frame.astype(np.float32, copy=False)
    *lead, ny, nx = frame.shape
    by, bx = ny // factor, nx // factor
    if by == 0 or bx == 0:
        raise ValueError(f"bin factor {factor} larger than frame {frame.shape[-2:]}")
    v = frame[..., : by * factor, : bx * factor].reshape(*lead, by, factor, bx, factor)
    if mode == "max":
        return v.max(axis=(-3, -1))
    acc = np.float64 if frame.dtype.kind == "f" else np.int64
    return (v.sum(axis=(-3, -1), dtype=acc) / (factor * factor)).astype(np.float32)

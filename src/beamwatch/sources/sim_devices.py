"""Simulated devices behind :mod:`beamwatch.sources.simulated`.

* :class:`SpotSample` -- the "physics": a frame with three Gaussian spots on a
  noisy background; each spot's brightness is a different smooth function of
  the sample position (x, y), so three ROIs give three different maps.
* :class:`SpotDetector` -- an ophyd-async ``StandardDetector`` that writes
  frames of the :class:`SpotSample` into an HDF5 file in SWMR mode (one flush
  per frame) and emits ``stream_resource`` / ``stream_datum`` documents.
* :class:`SpotCounter` -- an ophyd-async point detector (scalar ROI sums).
* :class:`V1SpotDetector` -- a classic ophyd (v1) device writing the same kind
  of frames to HDF5 and emitting ``resource`` (spec ``AD_HDF5``) / ``datum``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
from ophyd import Device as _V1Device
from ophyd.sim import NullStatus as _NullStatus
from ophyd_async.core import (
    AsyncStatus,
    DetectorAcquireLogic,
    DetectorDataLogic,
    DetectorTriggerLogic,
    PathProvider,
    StandardDetector,
    StandardReadable,
    StreamableDataProvider,
    StreamResourceDataProvider,
    StreamResourceInfo,
    TriggerInfo,
    soft_signal_r_and_setter,
    soft_signal_rw,
)
from ophyd_async.core import StandardReadableFormat as Format

logger = logging.getLogger(__name__)

#: HDF5 dataset holding the frames (both detectors), shape (n, ny, nx)
DATA_PATH = "/entry/data/data"
#: HDF5 dataset holding the per-frame pixel sum (ophyd-async detector only), shape (n,)
SUM_PATH = "/entry/sum"

#: Spot centres and widths as fractions of the frame: (row, col, sigma/min(ny, nx))
SPOTS: tuple[tuple[float, float, float], ...] = (
    (0.30, 0.28, 0.035),
    (0.34, 0.72, 0.045),
    (0.72, 0.50, 0.040),
)


def spot_intensities(x: float, y: float) -> np.ndarray:
    """Relative brightness (roughly 0..1.2) of the three spots at sample (x, y).

    Designed for the default scan extents x, y in [-5, 5]:

    * spot 0: a single round "grain" centred at (1.5, -1.0)
    * spot 1: diagonal stripes, ``0.5 + 0.45 sin(0.9 x + 0.4 y)``
    * spot 2: a ring of radius 3 around (-0.5, 0.5)
    """
    g = np.exp(-((x - 1.5) ** 2 + (y + 1.0) ** 2) / (2 * 1.6**2))
    s = 0.5 + 0.45 * np.sin(0.9 * x + 0.4 * y)
    r = np.hypot(x + 0.5, y - 0.5)
    ring = np.exp(-((r - 3.0) ** 2) / (2 * 0.7**2))
    return np.array([0.1 + g, s, 0.05 + ring], dtype=float)


class SpotSample:
    """Current sample position plus the frame model.

    Thread-safe enough for our use: ``x``/``y`` are plain floats updated from
    the motors' readback subscriptions in the RunEngine loop.
    """

    def __init__(
        self,
        frame_shape: tuple[int, int] = (256, 256),
        dtype: str | np.dtype = "uint16",
        noise: bool = True,
        seed: int | None = None,
    ) -> None:
        ny, nx = (int(v) for v in frame_shape)
        if ny < 8 or nx < 8:
            raise ValueError(f"frame_shape too small: {frame_shape}")
        self.frame_shape = (ny, nx)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype("uint8"), np.dtype("uint16")):
            raise ValueError(f"dtype must be uint8 or uint16, got {self.dtype}")
        self.noise = noise
        self.x = 0.0
        self.y = 0.0
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        if self.dtype == np.dtype("uint8"):
            self.background, self.peak = 4.0, 180.0
        else:
            self.background, self.peak = 20.0, 3000.0
        rows = np.arange(ny, dtype=np.float32)[:, None]
        cols = np.arange(nx, dtype=np.float32)[None, :]
        size = min(ny, nx)
        profiles = []
        for fr, fc, fs in SPOTS:
            r0, c0, s = fr * (ny - 1), fc * (nx - 1), max(fs * size, 1.0)
            profiles.append(
                np.exp(-((rows - r0) ** 2 + (cols - c0) ** 2) / (2 * s * s)).astype(np.float32)
            )
        self._profiles = np.stack(profiles)

    def rois(self) -> list[tuple[int, int, int, int]]:
        """A box (row0, row1, col0, col1) of +-2.5 sigma around each spot."""
        ny, nx = self.frame_shape
        size = min(ny, nx)
        out = []
        for fr, fc, fs in SPOTS:
            r0, c0, h = fr * (ny - 1), fc * (nx - 1), max(2.5 * fs * size, 1.0)
            out.append(
                (
                    max(int(r0 - h), 0),
                    min(int(r0 + h) + 1, ny),
                    max(int(c0 - h), 0),
                    min(int(c0 + h) + 1, nx),
                )
            )
        return out

    def intensities(self, x: float | None = None, y: float | None = None) -> np.ndarray:
        return spot_intensities(self.x if x is None else x, self.y if y is None else y)

    def counts(self, x: float | None = None, y: float | None = None) -> np.ndarray:
        """Noise-free integrated counts of each spot (for the point detector)."""
        sums = self._profiles.sum(axis=(1, 2))
        return self.intensities(x, y) * self.peak * sums

    def frame(self, x: float | None = None, y: float | None = None) -> np.ndarray:
        """One frame at (x, y) (default: the current position)."""
        inten = self.intensities(x, y).astype(np.float32) * np.float32(self.peak)
        img = np.tensordot(inten, self._profiles, axes=1) + np.float32(self.background)
        if self.noise:
            with self._lock:
                img = self._rng.poisson(img).astype(np.float32)
        info = np.iinfo(self.dtype)
        return np.clip(img, 0, info.max).astype(self.dtype)


def _open_swmr(path: Path, frame_shape: tuple[int, int], dtype: np.dtype, with_sum: bool):
    path.parent.mkdir(parents=True, exist_ok=True)
    f = h5py.File(path, "w", libver="latest")
    ny, nx = frame_shape
    data = f.create_dataset(
        DATA_PATH, shape=(0, ny, nx), maxshape=(None, ny, nx), chunks=(1, ny, nx), dtype=dtype
    )
    data.attrs["signal"] = 1
    total = None
    if with_sum:
        total = f.create_dataset(SUM_PATH, shape=(0,), maxshape=(None,), chunks=(1024,), dtype=np.int64)
    f.swmr_mode = True
    return f, data, total


class SpotFile:
    """An HDF5 file being written in SWMR mode, flushed after every frame."""

    def __init__(self, path: Path, frame_shape, dtype, with_sum: bool = True) -> None:
        self.path = path
        self.file, self.data, self.sum = _open_swmr(path, frame_shape, np.dtype(dtype), with_sum)
        self.count = 0

    def append(self, frame: np.ndarray) -> int:
        n = self.count
        self.data.resize(n + 1, axis=0)
        self.data[n] = frame
        self.data.flush()
        if self.sum is not None:
            self.sum.resize(n + 1, axis=0)
            self.sum[n] = int(frame.sum(dtype=np.int64))
            self.sum.flush()
        self.count = n + 1
        return self.count

    def close(self) -> None:
        if self.file.id.valid:
            self.file.close()


# ---------------------------------------------------------------- ophyd-async


class _SpotWriter:
    """State shared by the trigger, acquire and data logics of SpotDetector."""

    def __init__(self, sample: SpotSample) -> None:
        self.sample = sample
        self.file: SpotFile | None = None
        self.frames_to_take = 1
        self.period = 0.0
        self.images_written, self.set_images_written = soft_signal_r_and_setter(int, 0)

    async def acquire(self) -> None:
        f = self.file
        if f is None:
            raise RuntimeError("SpotDetector file not open (prepare not run)")
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(1, self.frames_to_take + 1):
            if self.period > 0:
                await asyncio.sleep(max(start + i * self.period - loop.time(), 0))
            self.set_images_written(f.append(self.sample.frame()))


class _SpotTriggerLogic(DetectorTriggerLogic):
    def __init__(self, writer: _SpotWriter, acquire_time) -> None:
        self.writer = writer
        self.acquire_time = acquire_time

    def config_sigs(self):
        return {self.acquire_time}

    async def prepare_internal(self, num: int, livetime: float, deadtime: float):
        if livetime:
            await self.acquire_time.set(livetime)
        self.writer.frames_to_take = num
        self.writer.period = (livetime or await self.acquire_time.get_value()) + deadtime

    async def default_trigger_info(self):
        return TriggerInfo()


class _SpotAcquireLogic(DetectorAcquireLogic):
    def __init__(self, writer: _SpotWriter) -> None:
        self.writer = writer
        self.task: asyncio.Task | None = None

    async def start_acquiring(self):
        self.task = asyncio.create_task(self.writer.acquire())

    async def wait_for_idle(self):
        if self.task:
            await self.task

    async def ensure_stopped(self):
        if self.task:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None


class _SpotDataLogic(DetectorDataLogic):
    def __init__(self, writer: _SpotWriter, path_provider: PathProvider) -> None:
        self.writer = writer
        self.path_provider = path_provider

    async def prepare_unbounded(self, datakey_name: str) -> StreamableDataProvider:
        info = self.path_provider(datakey_name)
        path = Path(str(info.directory_path)) / f"{info.filename}.h5"
        sample = self.writer.sample
        self.writer.file = SpotFile(path, sample.frame_shape, sample.dtype, with_sum=True)
        self.writer.set_images_written(0)
        logger.debug("SpotDetector writing %s", path)
        ny, nx = sample.frame_shape
        return StreamResourceDataProvider(
            uri=f"{info.directory_uri}{info.filename}.h5",
            resources=[
                StreamResourceInfo(
                    data_key=f"{datakey_name}-image",
                    shape=(ny, nx),
                    chunk_shape=(1, ny, nx),
                    dtype_numpy=sample.dtype.str,
                    parameters={"dataset": DATA_PATH},
                ),
                StreamResourceInfo(
                    data_key=f"{datakey_name}-sum",
                    shape=(),
                    chunk_shape=(1024,),
                    dtype_numpy=np.dtype(np.int64).str,
                    parameters={"dataset": SUM_PATH},
                ),
            ],
            mimetype="application/x-hdf5",
            collections_written_signal=self.writer.images_written,
        )

    async def stop(self) -> None:
        if self.writer.file is not None:
            self.writer.file.close()
            self.writer.file = None

    def get_hinted_fields(self, datakey_name: str) -> Sequence[str]:
        return [f"{datakey_name}-image"]


class SpotDetector(StandardDetector):
    """ophyd-async area detector writing :class:`SpotSample` frames to SWMR HDF5.

    Data keys: ``<name>-image`` (frame, dataset ``/entry/data/data``) and
    ``<name>-sum`` (int64 pixel sum, dataset ``/entry/sum``), both external
    ``STREAM:``. Configuration: ``<name>-acquire_time`` (s per frame, 0 = as
    fast as possible).
    """

    def __init__(self, sample: SpotSample, path_provider: PathProvider, name: str = "") -> None:
        self.sample = sample
        self.acquire_time = soft_signal_rw(float, 0.0, units="s")
        self._writer = _SpotWriter(sample)
        self.add_detector_logics(
            _SpotTriggerLogic(self._writer, self.acquire_time),
            _SpotAcquireLogic(self._writer),
            _SpotDataLogic(self._writer, path_provider),
        )
        super().__init__(name=name)


class SpotCounter(StandardReadable):
    """Point detector: noise-free integrated counts of the three spots.

    Data keys ``<name>-spot0``, ``<name>-spot1``, ``<name>-spot2`` (all hinted)
    and ``<name>-total``.
    """

    def __init__(self, sample: SpotSample, name: str = "") -> None:
        self.sample = sample
        with self.add_children_as_readables(Format.HINTED_UNCACHED_SIGNAL):
            self.spot0, self._set0 = soft_signal_r_and_setter(float, 0.0, units="counts")
            self.spot1, self._set1 = soft_signal_r_and_setter(float, 0.0, units="counts")
            self.spot2, self._set2 = soft_signal_r_and_setter(float, 0.0, units="counts")
        with self.add_children_as_readables(Format.UNCACHED_SIGNAL):
            self.total, self._set_total = soft_signal_r_and_setter(float, 0.0, units="counts")
        super().__init__(name=name)

    @property
    def hints(self):
        # StandardReadable's order is not stable; plot spot0, spot1, spot2 in order.
        return {"fields": [f"{self.name}-spot{k}" for k in range(3)]}

    @AsyncStatus.wrap
    async def trigger(self):
        c = self.sample.counts()
        self._set0(float(c[0]))
        self._set1(float(c[1]))
        self._set2(float(c[2]))
        self._set_total(float(c.sum()))


# ---------------------------------------------------------------- ophyd v1



class V1SpotDetector(_V1Device):
    """Classic ophyd (v1) area detector with an ``AD_HDF5`` resource.

    On stage it opens ``<data_dir>/<subdir>/<uuid>.h5`` (SWMR) and queues a
    ``resource`` document (``root`` = data_dir, ``resource_path`` relative to
    it, ``resource_kwargs={"frame_per_point": N}``). Each trigger appends N
    frames to ``/entry/data/data`` and queues a ``datum`` with
    ``datum_kwargs={"point_number": i}``; the event value of ``<name>_image``
    is the datum_id.
    """

    def __init__(
        self,
        sample: SpotSample,
        root: Path,
        *,
        subdir: str = "frames",
        frame_per_point: int = 1,
        name: str = "v1det",
        **kwargs,
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.sample = sample
        self.data_root = Path(root)
        self.subdir = subdir
        self.frame_per_point = int(frame_per_point)
        self._file: SpotFile | None = None
        self._resource_uid: str | None = None
        self._counter = None
        self._assets: deque = deque()
        self._reading: dict = {}

    @property
    def image_key(self) -> str:
        return f"{self.name}_image"

    @property
    def hints(self):
        return {"fields": []}

    def stage(self):
        if self.frame_per_point < 1:
            raise ValueError("frame_per_point must be >= 1")
        rel = f"{self.subdir}/{uuid.uuid4()}.h5"
        self._file = SpotFile(self.data_root / rel, self.sample.frame_shape, self.sample.dtype, with_sum=False)
        self._resource_uid = str(uuid.uuid4())
        self._counter = itertools.count()
        self._assets.append(
            (
                "resource",
                {
                    "uid": self._resource_uid,
                    "spec": "AD_HDF5",
                    "root": str(self.data_root),
                    "resource_path": rel,
                    "resource_kwargs": {"frame_per_point": self.frame_per_point},
                    "path_semantics": {"nt": "windows"}.get(os.name, "posix"),
                },
            )
        )
        return [self]

    def unstage(self):
        if self._file is not None:
            self._file.close()
        self._file = None
        self._resource_uid = None
        self._counter = None
        self._assets.clear()
        self._reading = {}
        return [self]

    def trigger(self):
        if self._file is None:
            raise RuntimeError(f"{self.name} is not staged")
        for _ in range(self.frame_per_point):
            self._file.append(self.sample.frame())
        i = next(self._counter)
        datum_id = f"{self._resource_uid}/{i}"
        self._assets.append(
            (
                "datum",
                {
                    "resource": self._resource_uid,
                    "datum_id": datum_id,
                    "datum_kwargs": {"point_number": i},
                },
            )
        )
        self._reading = {self.image_key: {"value": datum_id, "timestamp": time.time()}}
        return _NullStatus()

    def read(self):
        return dict(self._reading)

    def describe(self):
        ny, nx = self.sample.frame_shape
        shape = [ny, nx] if self.frame_per_point == 1 else [self.frame_per_point, ny, nx]
        return {
            self.image_key: {
                "source": f"SIM:{self.name}",
                "dtype": "array",
                "dtype_numpy": self.sample.dtype.str,
                "shape": shape,
                "external": "FILESTORE:",
            }
        }

    def read_configuration(self):
        return {}

    def describe_configuration(self):
        return {}

    def collect_asset_docs(self):
        while self._assets:
            yield self._assets.popleft()

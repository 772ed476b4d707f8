"""A simulated beamline: a real bluesky RunEngine driving simulated devices.

Used by ``beamwatch demo`` and by the tests. :class:`SimulatedBeamline` owns a
``RunEngine`` (usable from any thread; it installs no signal handlers) and
these devices (see :mod:`beamwatch.sources.sim_devices`):

=============  ===============================================================
``sx``, ``sy`` ophyd-async ``SimMotor`` (instant moves, mm); data keys ``sx``,
               ``sy``
``pd``         ophyd-async point detector; data keys ``pd-spot0``,
               ``pd-spot1``, ``pd-spot2`` (hinted) and ``pd-total``
``det``        ophyd-async area detector (``StandardDetector``) writing SWMR
               HDF5 ``<data_dir>/frames/<uuid>.h5``; emits ``stream_resource``
               / ``stream_datum`` for data keys ``det-image`` (frames, dataset
               ``/entry/data/data``, shape (n, ny, nx), uint16 by default,
               hinted) and ``det-sum`` (int64, dataset ``/entry/sum``);
               ``stream_resource.uri`` is ``file://localhost/<abs path>``
``v1det``      classic ophyd (v1) area detector writing
               ``<data_dir>/frames/v1/<uuid>.h5``; emits ``resource`` (spec
               ``AD_HDF5``, ``root`` = data_dir, ``resource_path`` relative,
               ``resource_kwargs={"frame_per_point": N}``) and ``datum``
               (``datum_kwargs={"point_number": i}``); event key
               ``v1det_image`` holds the datum_id; dataset
               ``/entry/data/data`` has shape (n_points * N, ny, nx)
=============  ===============================================================

Frames show three Gaussian spots (``sim_devices.SPOTS``; ROI boxes from
``beamline.sample.rois()``) whose brightness varies smoothly and differently
with (sx, sy) over the default extents [-5, 5] x [-5, 5].

Scan kinds (``SimulatedBeamline.SCAN_KINDS``) and ``run()`` keyword arguments:

* ``line``: ``bp.scan([pd, det], sx, -5, 5, num)``; kwargs ``num`` (default
  grid_shape[1]), ``y`` (sy position, default 0.5), ``area_detector`` (default
  True).
* ``snake_grid`` / ``grid``: ``bp.grid_scan([pd, det], sy, ..., sx, ...,
  snake_axes=...)``; kwargs ``shape`` ((ny, nx), default grid_shape),
  ``snake`` (default True for snake_grid, False for grid), ``extents``
  (((y0, y1), (x0, x1)), default ((-5, 5), (-5, 5))).
* ``spiral``: ``bp.spiral_fermat([pd, det], sx, sy, 0, 0, 10, 10, dr,
  factor)`` (125 points by default, within [-5, 5]^2; start ``extents`` is
  [[x0, x1], [y0, y1]], corrected from bluesky's doubled values); kwargs
  ``dr`` (default 0.5), ``factor`` (default 1.0), ``x_range``/``y_range``.
* ``ophyd_v1``: ``bp.scan([pd, v1det], sx, -5, 5, num)`` (or a grid scan when
  ``shape`` is given); kwargs ``num``, ``shape``, ``frame_per_point``
  (default 1), ``snake``.

Every scan also has a ``baseline`` stream (``sx``, ``sy`` read before and
after). All kinds accept ``exposure`` (seconds per frame of ``det``; default the
constructor's ``exposure``, 0 = as fast as possible: ~90 points/s for 256x256
uint16 frames on 2 cores) and ``md`` (extra start-document metadata). Every start document
carries ``beamwatch_sim: {"kind": ..., "frame_shape": [...], "rois": [...]}``.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

import bluesky.plan_stubs as bps
import bluesky.plans as bp
import bluesky.preprocessors as bpp
from bluesky import RunEngine
from bluesky.utils import RequestStop
from ophyd_async.core import StaticPathProvider, UUIDFilenameProvider
from ophyd_async.sim import SimMotor

from .sim_devices import SpotCounter, SpotDetector, SpotSample, V1SpotDetector

logger = logging.getLogger(__name__)

__all__ = ["SimulatedBeamline"]


class _Stopped(RequestStop):
    """Thrown into a running plan when run_forever's stop event is set."""


def _stoppable(plan, stop: threading.Event | None):
    """Forward ``plan``; at the next checkpoint after ``stop`` is set, end it cleanly."""
    if stop is None:
        return (yield from plan)
    try:
        msg = plan.send(None)
    except StopIteration as e:
        return e.value
    while True:
        try:
            reply = yield msg
        except BaseException as exc:  # RunEngine threw into the plan: forward it
            try:
                msg = plan.throw(exc)
            except StopIteration as e:
                return e.value
            continue
        try:
            if stop.is_set() and msg.command == "checkpoint":
                msg = plan.throw(_Stopped())
            else:
                msg = plan.send(reply)
        except StopIteration as e:
            return e.value


class SimulatedBeamline:
    """A RunEngine plus simulated motors/detectors running a mix of scans.

    ``callback(name, doc)`` receives every document, as ``RE.subscribe`` would
    (it is called in the RunEngine's event-loop thread; exceptions it raises
    are logged and swallowed so a broken consumer does not abort the scan).
    """

    SCAN_KINDS: tuple[str, ...] = ("line", "snake_grid", "grid", "spiral", "ophyd_v1")

    def __init__(
        self,
        data_dir: pathlib.Path,
        callback: Callable[[str, dict], None],
        *,
        frame_shape: tuple[int, int] = (256, 256),
        grid_shape: tuple[int, int] = (20, 20),
        dtype: str = "uint16",
        seed: int | None = None,
        exposure: float = 0.0,
    ) -> None:
        self.data_dir = pathlib.Path(data_dir).resolve()
        self.frames_dir = self.data_dir / "frames"
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        self.callback = callback
        self.grid_shape = (int(grid_shape[0]), int(grid_shape[1]))
        #: default seconds per frame for every scan (0 = as fast as possible)
        self.exposure = float(exposure)
        self.sample = SpotSample(frame_shape, dtype=dtype, seed=seed)
        self._lock = threading.Lock()

        self.RE = RunEngine(context_managers=[], call_returns_result=True)
        self.RE.subscribe(self._emit)

        self.sx = SimMotor(name="sx", instant=True)
        self.sy = SimMotor(name="sy", instant=True)
        self.pd = SpotCounter(self.sample, name="pd")
        self.det = SpotDetector(
            self.sample,
            StaticPathProvider(UUIDFilenameProvider(), self.frames_dir),
            name="det",
        )
        self.v1det = V1SpotDetector(self.sample, self.data_dir, subdir="frames/v1", name="v1det")
        self._call(self._connect())

    # ---------------------------------------------------------------- plumbing

    def _call(self, coro, timeout: float | None = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.RE.loop).result(timeout)

    async def _connect(self) -> None:
        await asyncio.gather(
            self.sx.connect(), self.sy.connect(), self.pd.connect(), self.det.connect()
        )

        def follow(attr):
            def cb(readings):
                (reading,) = readings.values()
                setattr(self.sample, attr, float(reading["value"]))

            return cb

        # Keep references so the subscriptions live as long as we do.
        self._subs = (follow("x"), follow("y"))
        self.sx.user_readback.subscribe_reading(self._subs[0])
        self.sy.user_readback.subscribe_reading(self._subs[1])

    def _emit(self, name: str, doc: dict) -> None:
        try:
            self.callback(name, doc)
        except Exception:
            logger.exception("simulated beamline: document callback failed on %s", name)

    # ---------------------------------------------------------------- plans

    def _md(self, kind: str, extra: dict | None) -> dict:
        md = {
            "beamwatch_sim": {
                "kind": kind,
                "frame_shape": list(self.sample.frame_shape),
                "rois": [list(r) for r in self.sample.rois()],
            },
            "sample": "simulated three-spot sample",
        }
        md.update(extra or {})
        return md

    def _plan(self, kind: str, kw: dict[str, Any]):
        md = self._md(kind, kw.pop("md", None))
        exposure = float(kw.pop("exposure", self.exposure))
        ny_def, nx_def = self.grid_shape
        sx, sy, pd, det = self.sx, self.sy, self.pd, self.det

        def grid(dets, shape, snake, extents):
            (y0, y1), (x0, x1) = extents
            ny, nx = (int(v) for v in shape)
            return bp.grid_scan(dets, sy, y0, y1, ny, sx, x0, x1, nx, snake_axes=snake, md=md)

        if kind == "line":
            num = int(kw.pop("num", nx_def))
            y = float(kw.pop("y", 0.5))
            dets = [pd, det] if kw.pop("area_detector", True) else [pd]
            inner = bp.scan(dets, sx, -5.0, 5.0, num, md=md)
            pre = [bps.mv(sy, y)]
        elif kind in ("snake_grid", "grid"):
            shape = kw.pop("shape", self.grid_shape)
            snake = bool(kw.pop("snake", kind == "snake_grid"))
            extents = kw.pop("extents", ((-5.0, 5.0), (-5.0, 5.0)))
            inner = grid([pd, det], shape, snake, extents)
            pre = []
        elif kind == "spiral":
            dr = float(kw.pop("dr", 0.5))
            factor = float(kw.pop("factor", 1.0))
            xr = float(kw.pop("x_range", 10.0))
            yr = float(kw.pop("y_range", 10.0))
            # bluesky's own "extents" for spirals is twice the real range; correct it.
            md.setdefault("extents", [[-xr / 2, xr / 2], [-yr / 2, yr / 2]])
            inner = bp.spiral_fermat([pd, det], sx, sy, 0.0, 0.0, xr, yr, dr, factor, md=md)
            pre = []
        elif kind == "ophyd_v1":
            fpp = int(kw.pop("frame_per_point", 1))
            if fpp < 1:
                raise ValueError("frame_per_point must be >= 1")
            self.v1det.frame_per_point = fpp
            md["beamwatch_sim"]["frame_per_point"] = fpp
            shape = kw.pop("shape", None)
            snake = bool(kw.pop("snake", True))
            if shape is None:
                num = int(kw.pop("num", nx_def))
                inner = bp.scan([pd, self.v1det], sx, -5.0, 5.0, num, md=md)
                pre = [bps.mv(sy, 0.5)]
            else:
                inner = grid([pd, self.v1det], shape, snake, ((-5.0, 5.0), (-5.0, 5.0)))
                pre = []
        else:
            raise ValueError(f"unknown scan kind {kind!r}; expected one of {self.SCAN_KINDS}")
        if kw:
            raise TypeError(f"unexpected arguments for {kind!r} scan: {sorted(kw)}")

        def plan():
            yield from bps.mv(det.acquire_time, exposure)
            for p in pre:
                yield from p
            return (yield from bpp.baseline_wrapper(inner, [sx, sy]))

        return plan()

    # ---------------------------------------------------------------- public

    def run(self, kind: str, _stop: threading.Event | None = None, **kwargs) -> str:
        """Run one scan of ``kind`` to completion (blocking); return its start uid.

        Only one scan runs at a time; concurrent callers wait their turn.
        """
        plan = self._plan(kind, dict(kwargs))
        with self._lock:
            logger.info("simulated beamline: starting %s scan %s", kind, kwargs or "")
            result = self.RE(_stoppable(plan, _stop))
        if result.exit_status not in ("success",):
            raise RuntimeError(
                f"{kind} scan ended with {result.exit_status}: {result.reason}"
            ) from result.exception
        if not result.run_start_uids:
            raise RuntimeError(f"{kind} scan produced no run")
        return result.run_start_uids[0]

    def run_forever(
        self,
        stop: threading.Event,
        kinds: Sequence[str] | None = None,
        pause: float = 2.0,
    ) -> None:
        """Cycle through ``kinds`` (default: all) until ``stop`` is set.

        A running scan is ended at its next point (cleanly, exit_status
        "success") once ``stop`` is set. Failing scans are logged, not raised.
        """
        kinds = tuple(kinds or self.SCAN_KINDS)
        for k in kinds:
            if k not in self.SCAN_KINDS:
                raise ValueError(f"unknown scan kind {k!r}")
        i = 0
        while not stop.is_set():
            kind = kinds[i % len(kinds)]
            i += 1
            try:
                self.run(kind, _stop=stop)
            except Exception:
                logger.exception("simulated beamline: %s scan failed", kind)
                if stop.wait(max(pause, 1.0)):
                    break
                continue
            if stop.wait(pause):
                break

"""ROI sums: for every detector frame, the sum inside each ROI and the total.

Follows the live document stream; when frames of a detector field arrive
(stream_datum, or an event carrying a datum id) it reads them from the HDF5
file (SWMR) and adds the point's sums. Changing the ROIs of a field
recomputes the sums over every frame of the running runs so far, then
continues live; archived runs are computed on first request. With several
frames per point the sums add over the point's frames.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import threading
from typing import Callable

import numpy as np

from beamwatch.analysis.roi_stage import detector_keys
from beamwatch.follow import follow
from beamwatch.frames import ROI, FrameError, point_sums, validate_rois

log = logging.getLogger(__name__)

_TRIGGERS = {"stream_datum", "event", "event_page"}
_GENERATIONS = itertools.count(1)


@dataclasses.dataclass
class FieldSums:
    """Sums of one detector field of one run, for one ROI set."""

    rois: list[ROI]
    stream: str
    sums: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)  # seq_num -> (n_rois,)
    totals: dict[int, float] = dataclasses.field(default_factory=dict)
    errors: dict[int, str] = dataclasses.field(default_factory=dict)  # seq_num -> why it has no sums
    order: list[int] = dataclasses.field(default_factory=list)  # seq_nums in the order their sums were added
    gen: int = dataclasses.field(default_factory=lambda: next(_GENERATIONS))  # new table = new generation
    checked: int = 0  # every seq_num up to here was tried once (it has sums or an error)
    # held while the table is filled, so two fills never both append a seq_num
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, compare=False, repr=False)

    def values(self, name: str) -> dict[int, float]:
        if name.startswith("total:"):
            return dict(self.totals)
        j = [r.name for r in self.rois].index(name)
        return {s: float(v[j]) for s, v in self.sums.items()}


class RoiSums:
    """ROI sums of every run's 2-D detector fields; the 'rois' stage
    (:class:`beamwatch.analysis.roi_stage.RoiStage`) shows them to clients."""

    def __init__(self, core, frames):
        self.core = core
        self.frames = frames
        self._tables: dict[tuple[str, str], FieldSums] = {}
        self._lock = threading.RLock()  # guards `_tables` only; a fill holds its table's own lock
        self._dirty: set[tuple[str, str]] = set()
        self._wake = asyncio.Event()
        # f(run_uid, field, table) after new sums were added
        self.on_update: list[Callable[[str, str, FieldSums], None]] = []
        core.listeners.setdefault("rois", []).append(self._rois_changed)

    # ------------------------------------------------------------- queries
    def detector_fields(self, run_uid: str) -> dict[str, str]:
        """{field: stream} of the run's external 2-D (or more) data keys."""
        state = self.core.registry.peek(run_uid)  # read-only: never mutates the registry off the ingest thread
        if state is None:
            return {}
        return {k: v["stream"] for k, v in detector_keys(state.descriptors.values()).items()}

    def rois_for(self, field: str) -> list[ROI]:
        return validate_rois(self.core.archive.kv_get(f"rois:{field}") or [])

    def table(self, run_uid: str, field: str) -> FieldSums:
        """Sums for every frame of the run so far (computing what is missing)."""
        fields = self.detector_fields(run_uid)
        if field not in fields:
            raise KeyError(f"run {run_uid[:8]} has no detector field {field!r} (fields: {', '.join(fields) or 'none'})")
        with self._lock:
            table = self._tables.get((run_uid, field))
            if table is None:  # ROIs read under the lock: a concurrent _rois_changed cannot leave a stale table
                table = FieldSums(self.rois_for(field), fields[field])
                self._tables[(run_uid, field)] = table
        with table.lock:
            self._fill(run_uid, field, table)
        return table

    def resolve_name(self, run_uid: str, name: str) -> tuple[str, str]:
        """ROI name or ``total:<field>`` -> (field, name); KeyError if unknown."""
        fields = self.detector_fields(run_uid)
        if name.startswith("total:"):
            field = name.split(":", 1)[1]
            if field not in fields:
                raise KeyError(f"run {run_uid[:8]} has no detector field {field!r} (fields: {', '.join(fields) or 'none'})")
            return field, name
        for field in fields:
            if any(r.name == name for r in self.rois_for(field)):
                return field, name
        raise KeyError(name)

    def values(self, run_uid: str, name: str) -> dict[int, float]:
        field, name = self.resolve_name(run_uid, name)
        return self.table(run_uid, field).values(name)

    # ------------------------------------------------------------- compute
    def _fill(self, run_uid: str, field: str, table: FieldSums) -> list[int]:
        """Add the sums of the frames not summed yet (call with ``table.lock`` held)."""
        index = self.frames.index(run_uid)
        state = self.core.registry.peek(run_uid)
        n = self.core.archive.event_counts(run_uid)
        n_events = sum(n.get(d, 0) for d in state.streams.get(table.stream, []))
        added = []
        # earlier failures, then the seq_nums not tried yet: ascending, as one pass over 1..n_events
        retry = sorted(s for s in table.errors if s <= min(table.checked, n_events))
        for seq in itertools.chain(retry, range(table.checked + 1, n_events + 1)):
            if seq in table.totals:  # summed by a pass an exception cut short
                continue
            try:
                ref = index.locate(field, seq, table.stream)
                stack = self.frames.reader.read(ref, wait=0.0 if seq in table.errors else 0.2)
                sums, total = point_sums(stack, table.rois)
            except FrameError as exc:
                table.errors[seq] = exc.message
                continue
            except ValueError as exc:  # an ROI outside this detector's frame
                table.errors[seq] = str(exc)
                continue
            table.errors.pop(seq, None)
            table.sums[seq] = sums
            table.totals[seq] = float(total)
            table.order.append(seq)  # last: readers on other threads slice `order`
            added.append(seq)
        table.checked = max(table.checked, n_events)
        return added

    def _rois_changed(self, field: str, rois: list[ROI]) -> None:
        # on the event loop: takes only the dict lock, never waits for a fill
        with self._lock:
            stale = [k for k in self._tables if k[1] == field]
            for key in stale:
                del self._tables[key]
        self._dirty.update(stale)  # recompute what someone looked at, with the new ROIs
        for state in self.core.registry.open_runs():
            if field in self.detector_fields(state.uid):
                self._dirty.add((state.uid, field))
        self._wake.set()

    def request(self, run_uid: str) -> None:
        """Compute (in the background) the sums of every detector field of a run; updates follow."""
        self._dirty.add((run_uid, "*"))
        self._wake.set()

    # ----------------------------------------------------------------- live
    async def run(self, core) -> None:
        worker = asyncio.get_running_loop().create_task(self._work())
        try:
            after = await core.read(core.archive.max_id)
            async for items in follow(core, None, after):
                # the worker looks the runs' detector fields up off the loop
                for run_uid in {i.run_uid for i in items if i.name in _TRIGGERS}:
                    self.request(run_uid)
        finally:
            worker.cancel()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                run_uid, field = self._dirty.pop()
                if field == "*":  # every detector field of the run (looked up off the loop)
                    fields = await self.core.read(self.detector_fields, run_uid)
                    self._dirty.update((run_uid, f) for f in fields)
                    continue
                try:
                    table = await self.core.read(self.table, run_uid, field)
                except KeyError:
                    continue  # the run has no such field (any more)
                except Exception:
                    log.exception("ROI sums of %s %s failed", run_uid[:8], field)
                    continue
                for cb in list(self.on_update):
                    cb(run_uid, field, table)


async def set_rois(core, field: str, rois: list[ROI]) -> list[dict]:
    """Store the (validated) ROIs of a detector field and tell the listeners; the stored value."""
    value = [r.to_dict() for r in rois]
    await core.read(core.archive.kv_set, f"rois:{field}", value)
    for listener in list(core.listeners.get("rois", [])):
        listener(field, rois)
    return value

"""The per-run view model behind the dashboard, and the built-in stages.

A :class:`RunModel` replays one run's documents (from the archive for an
archived run, then live for a running one -- both through
:func:`beamwatch.follow.follow`) into its registered stages. The built-in
stages are:

``run``      start / stop / descriptors, and what kind of plot suits the run
             (``grid`` map, 2-D ``scatter`` of motor positions, or ``line``)
``columns``  numeric scalar fields of every stream as append-only columns
``grid``     the map cell of every primary event of a grid scan
             (:mod:`beamwatch.analysis.grid`), and the maps themselves
``log``      the most recent documents, for the document log

Clients hold per-stage cursors; :meth:`RunModel.frames` turns cursors into
encoded msgpack frames and caches them so clients at the same cursor share
one encoding.
"""

from __future__ import annotations

import array
import collections
import time
from typing import Any, Iterable

import msgpack
import numpy as np

from beamwatch import documents as docs
from beamwatch.analysis.grid import GridSpec
from beamwatch.analysis.stages import Message, Stage, register, registered

NUMERIC = ("number", "integer", "boolean")


def pack(msg: Message) -> bytes:
    return msgpack.packb(msg, use_bin_type=True)


class RunModel:
    """Derived per-run state, fed documents in archive-id order."""

    def __init__(self, uid: str):
        self.uid = uid
        self.start: dict | None = None
        self.stop: dict | None = None
        self.descriptors: dict[str, dict] = {}
        self.last_id = 0
        self.stages: list[Stage] = []
        self._by_key: dict[str, Stage] = {}
        self.fed_at = 0.0  # wall time of the last feed (ingest-to-paint latency)
        self._cache: collections.OrderedDict[Any, bytes] = collections.OrderedDict()
        self._listeners: list = []

    # ------------------------------------------------------------- documents
    def feed(self, items: Iterable[Any]) -> int:
        """Apply accepted documents (objects with id, name, doc); skip ids seen."""
        n = 0
        for item in items:
            if item.id <= self.last_id:
                continue
            self.dispatch(item.name, item.doc)
            self.last_id = item.id
            n += 1
        if n:
            self.fed_at = time.time()
            for listener in list(self._listeners):
                listener()
        return n

    def dispatch(self, name: str, doc: dict) -> None:
        if name == "start":
            self.start = doc
            self.stages = [spec.factory(self) for spec in registered() if spec.applies(doc)]
            self._by_key = {s.key: s for s in self.stages}
        elif self.start is None:
            return
        elif name == "descriptor":
            self.descriptors[doc["uid"]] = doc
        elif name == "stop":
            self.stop = doc
        elif name == "event":
            name, doc = "event_page", docs.as_event_page("event", doc)
        for stage in self.stages:
            stage(name, doc)

    def stage(self, key: str) -> Stage | None:
        return self._by_key.get(key)

    def stream_of(self, descriptor_uid: str) -> str:
        return self.descriptors[descriptor_uid].get("name", "primary")

    def add_listener(self, fn) -> None:
        self._listeners.append(fn)

    # ----------------------------------------------------------------- views
    def snapshot(self) -> Message:
        return {
            "t": "snapshot",
            "uid": self.uid,
            "last_id": self.last_id,
            "stages": {s.key: s.snapshot() for s in self.stages},
        }

    def frames(self, cursors: dict[str, Any]) -> tuple[list[bytes], dict[str, Any]]:
        """Encoded delta frames bringing a client at ``cursors`` up to date."""
        out: list[bytes] = []
        new: dict[str, Any] = {}
        for stage in self.stages:
            cur = cursors.get(stage.key)
            key = (stage.key, cur, stage.version)
            hit = self._cache.get(key)
            if hit is None:
                messages, nxt = stage.delta(cur)
                blobs = [pack(m) for m in messages]
                hit = (blobs, nxt)
                self._cache[key] = hit
                if len(self._cache) > 256:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(key)
            blobs, nxt = hit
            out.extend(blobs)
            new[stage.key] = nxt
        return out, new


def _numeric_scalar(key: dict) -> bool:
    return key.get("dtype") in NUMERIC and not key.get("shape")


# ---------------------------------------------------------------- built-ins
@register("run", order=0)
class RunInfo(Stage):
    """Start, stop, descriptors, and the plot layout that suits the run."""

    def layout(self) -> dict:
        start = self.run.start or {}
        spec = GridSpec.from_start(start)
        hints = start.get("hints") or {}
        dims = hints.get("dimensions") if isinstance(hints, dict) else None
        fields = _dimension_fields(dims)
        if spec is not None:
            return {"kind": "grid", "grid": spec.as_dict(),
                    "axes": fields if len(fields) == 2 else list(spec.motors[:2])}
        motors = [str(m) for m in (start.get("motors") or [])]
        axes = fields if len(fields) == 2 else (motors if len(motors) == 2 else [])
        if len(axes) == 2:
            return {"kind": "scatter", "axes": axes}  # spiral, list and other 2-D scans
        return {"kind": "line"}

    def start(self, doc):
        self.touch()

    def descriptor(self, doc):
        self.touch()

    def stop(self, doc):
        self.touch()

    def snapshot(self):
        return {"start": self.run.start, "stop": self.run.stop, "layout": self.layout(),
                "descriptors": [{"uid": d["uid"], "name": d.get("name", "primary"),
                                 "hints": d.get("hints") or {}, "data_keys": d.get("data_keys", {}),
                                 "object_keys": d.get("object_keys", {})}
                                for d in self.run.descriptors.values()]}

    def delta(self, cursor):
        if cursor is not None and cursor == self.version:
            return [], cursor
        return [{"t": "run", **self.snapshot()}], self.version


def _dimension_fields(dims) -> list[str]:
    """Fields of ``hints.dimensions`` (``[[[fields], stream], ...]``), primary stream only."""
    out: list[str] = []
    for dim in dims or []:
        try:
            fields, stream = dim
        except (TypeError, ValueError):
            continue
        if stream == "primary" and fields:
            out.append(str(fields[0]))
    return out


class _Stream:
    __slots__ = ("name", "fields", "seq", "time", "cols", "n")

    def __init__(self, name: str):
        self.name = name
        self.fields: list[str] = []
        self.seq = array.array("i")
        self.time = array.array("d")
        self.cols: dict[str, array.array] = {}
        self.n = 0


@register("columns", order=10)
class Columns(Stage):
    """Numeric scalar fields of every stream, as append-only float64 columns.

    Message ``rows``: ``{"t": "rows", "stream", "start", "n", "seq_num": <int32 LE>,
    "time": <float64 LE>, "cols": {field: <float64 LE>}, "ti": wall time fed}``.
    Missing or non-numeric values are NaN.
    """

    def __init__(self, run):
        super().__init__(run)
        self.streams: dict[str, _Stream] = {}
        self.meta_version = 0

    def descriptor(self, doc):
        name = doc.get("name", "primary")
        s = self.streams.get(name) or _Stream(name)
        self.streams[name] = s
        for field, key in doc.get("data_keys", {}).items():
            if _numeric_scalar(key) and field not in s.cols:
                s.fields.append(field)
                s.cols[field] = array.array("d", [np.nan]) * s.n
        self.meta_version += 1
        self.touch()

    def event_page(self, doc):
        s = self.streams.get(self.run.stream_of(doc["descriptor"]))
        if s is None:
            return
        k = len(doc["seq_num"])
        s.seq.extend(int(v) for v in doc["seq_num"])
        s.time.extend(float(v) for v in doc["time"])
        data = doc.get("data", {})
        for field, col in s.cols.items():
            vals = data.get(field)
            if vals is None:
                col.extend([np.nan] * k)
            else:
                col.extend(_float(v) for v in vals)
        s.n += k
        self.touch()

    def column(self, stream: str, field: str) -> np.ndarray:
        s = self.streams[stream]
        if field == "seq_num":
            return np.frombuffer(s.seq, dtype=np.int32).astype(np.float64)
        if field == "time":
            return np.frombuffer(s.time, dtype=np.float64).copy()
        return np.frombuffer(s.cols[field], dtype=np.float64).copy()

    def meta(self) -> dict:
        return {name: {"fields": list(s.fields), "rows": s.n} for name, s in self.streams.items()}

    def snapshot(self):
        return {"streams": self.meta()}

    def delta(self, cursor):
        meta_v, counts = cursor if cursor is not None else (-1, ())
        have = dict(counts)
        messages: list[Message] = []
        if meta_v != self.meta_version:
            messages.append({"t": "streams", "streams": self.meta()})
        for name, s in self.streams.items():
            a = have.get(name, 0)
            if s.n > a:
                messages.append({
                    "t": "rows", "stream": name, "start": a, "n": s.n - a,
                    "seq_num": s.seq[a:].tobytes(), "time": s.time[a:].tobytes(),
                    "cols": {f: c[a:].tobytes() for f, c in s.cols.items()},
                    "ti": self.run.fed_at,
                })
        return messages, (self.meta_version, tuple((n, s.n) for n, s in self.streams.items()))


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return np.nan


@register("grid", order=20, applies=lambda start: GridSpec.from_start(start) is not None)
class GridMap(Stage):
    """Cell of every primary event of a grid scan; maps of any numeric field.

    Message ``cells``: ``{"t": "cells", "stream": "primary", "start", "n",
    "idx": <int32 LE flat index i*nx+j per row, -1 off the grid>}``, aligned
    with the rows of the ``columns`` stage.
    """

    STREAM = "primary"

    def __init__(self, run):
        super().__init__(run)
        self.spec = GridSpec.from_start(run.start)
        self.cells = array.array("i")

    def event_page(self, doc):
        if self.run.stream_of(doc["descriptor"]) != self.STREAM:
            return
        self.cells.extend(self.spec.flat_index(np.asarray(doc["seq_num"])).tolist())
        self.touch()

    def map(self, field: str) -> tuple[np.ndarray, np.ndarray]:
        """(values [ny, nx] float64 with NaN unmeasured, measured mask)."""
        cols: Columns = self.run.stage("columns")
        values = cols.column(self.STREAM, field)
        idx = np.frombuffer(self.cells, dtype=np.int32)[: len(values)]
        return self.spec.scatter(idx, values[: len(idx)])

    def snapshot(self):
        return {**self.spec.as_dict(), "stream": self.STREAM}

    def delta(self, cursor):
        a = cursor or 0
        n = len(self.cells)
        if n <= a:
            return [], a
        return [{"t": "cells", "stream": self.STREAM, "start": a, "n": n - a,
                 "idx": self.cells[a:].tobytes()}], n


@register("log", order=90)
class DocumentLog(Stage):
    """The most recent documents of the run (bounded), for the document log.

    Message ``docs``: ``{"t": "docs", "items": [{"i": archive id, "name",
    "doc"}], "skipped": k}``; events are abridged to seq_num, time and scalar
    data; a client that fell behind gets the newest ``MAX_DELTA`` and a count
    of what it skipped.
    """

    KEEP = 2000
    MAX_DELTA = 300

    def __init__(self, run):
        super().__init__(run)
        self.items: collections.deque[dict] = collections.deque(maxlen=self.KEEP)
        self.count = 0

    def _add(self, name, doc):
        self.count += 1
        self.items.append({"n": self.count, "name": name, "doc": doc})
        self.touch()

    def __call__(self, name, doc, validate=False):
        if name == "event_page":
            for ev in docs.events_of("event_page", doc):
                self._add("event", {"seq_num": ev["seq_num"], "time": ev["time"], "uid": ev.get("uid"),
                                    "descriptor": ev["descriptor"],
                                    "data": {k: v for k, v in ev["data"].items()
                                             if isinstance(v, (int, float, str, bool)) or v is None}})
        else:
            self._add(name, doc)

    def delta(self, cursor):
        a = cursor or 0
        if self.count <= a:
            return [], a
        new = self.count - a
        take = min(new, self.MAX_DELTA, len(self.items))
        items = list(self.items)[-take:]
        return [{"t": "docs", "items": items, "skipped": new - take}], self.count

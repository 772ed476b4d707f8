"""Per-run state and the rules that decide whether a document is accepted.

Rules (also in docs/documents.md):

* ``start`` opens a run. Its uid must not have been used by another document.
* ``descriptor``, ``resource``, ``stream_resource`` and ``stop`` must name a
  known run (``run_start``) that has not stopped. A ``resource`` or
  ``stream_resource`` without ``run_start`` belongs to the only open run;
  with several open runs it is rejected.
* ``event`` / ``event_page`` must name a known descriptor of an open run;
  ``datum`` / ``datum_page`` a known resource; ``stream_datum`` a known
  stream_resource and descriptor.
* The same document delivered again (same identity, same content) is accepted
  once and counted as a duplicate; a different document reusing an identity
  is rejected.
* seq_num gaps per descriptor are counted, logged and shown in the run status.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from typing import Callable

from beamwatch.archive import Archive

log = logging.getLogger(__name__)

_MAX_CLOSED_RUNS = 32


@dataclasses.dataclass
class RunState:
    start: dict
    descriptors: dict[str, dict] = dataclasses.field(default_factory=dict)
    streams: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    last_seq: dict[str, int] = dataclasses.field(default_factory=dict)
    gaps: dict[str, int] = dataclasses.field(default_factory=dict)
    resources: set[str] = dataclasses.field(default_factory=set)
    stream_resources: set[str] = dataclasses.field(default_factory=set)
    stop: dict | None = None
    last_doc_time: float = 0.0
    active: bool = False  # a document for it was accepted by this process

    @property
    def uid(self) -> str:
        return self.start["uid"]

    def add_descriptor(self, doc: dict) -> None:
        self.descriptors[doc["uid"]] = doc
        name = doc.get("name", "primary")
        self.streams.setdefault(name, []).append(doc["uid"])

    def stream_of(self, descriptor_uid: str) -> str:
        return self.descriptors[descriptor_uid].get("name", "primary")

    def add_events(self, descriptor_uid: str, seq_nums: list[int]) -> int:
        """Count events; return the number of seq_num gaps they reveal."""
        stream = self.stream_of(descriptor_uid)
        last = self.last_seq.get(descriptor_uid, 0)
        gaps = 0
        for s in seq_nums:
            if s > last + 1:
                gaps += 1
                log.warning("run %s stream %s: seq_num gap, %d follows %d", self.uid[:8], stream, s, last)
            last = max(last, s)
        self.last_seq[descriptor_uid] = last
        if gaps:
            self.gaps[descriptor_uid] = self.gaps.get(descriptor_uid, 0) + gaps
        return gaps


class Rejected(Exception):
    """Raised by the rules with the reason a document is refused."""


class RunRegistry:
    """In-memory state of open and recent runs, backed by the archive."""

    def __init__(self, archive: Archive, clock: Callable[[], float] = time.time):
        self.archive = archive
        self.clock = clock
        self.runs: dict[str, RunState] = {}
        self._closed: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.descriptor_run: dict[str, str] = {}
        self.resource_run: dict[str, str] = {}
        self.stream_resource_run: dict[str, str] = {}

    # ---------------------------------------------------------------- lookup
    def get(self, run_uid: str) -> RunState | None:
        """The run's state, loaded from the archive and kept if not in memory.

        Mutates the registry: only for the ingest writer thread.
        """
        state = self.runs.get(run_uid)
        if state is None:
            state = self._load(run_uid)
            if state is not None:
                self._remember(state)
        return state

    def peek(self, run_uid: str) -> RunState | None:
        """Like :meth:`get`, but a run not in memory is built from the archive
        without being kept: safe from reader threads, the registry is not touched."""
        state = self.runs.get(run_uid)
        return state if state is not None else self._load(run_uid)

    def open_runs(self) -> list[RunState]:
        # list() first: one C-level copy, so a reader thread never iterates the dict while the writer resizes it
        return [s for s in list(self.runs.values()) if s.stop is None and s.active]

    def _load(self, run_uid: str) -> RunState | None:
        found = self.archive.run_documents(
            run_uid, ["start", "descriptor", "resource", "stream_resource", "stop"]
        )
        if not found or found[0][0] != "start":
            return None
        state = RunState(start=found[0][1])
        for name, doc in found[1:]:
            if name == "descriptor":
                state.add_descriptor(doc)
            elif name == "resource":
                state.resources.add(doc["uid"])
            elif name == "stream_resource":
                state.stream_resources.add(doc["uid"])
            elif name == "stop":
                state.stop = doc
        if state.stop is None:  # a stopped run takes no more events: no seq_num to continue from
            state.last_seq = self.archive.last_seq(run_uid)
        # last_doc_time stays 0 and active False: check() sets both before status() reads them.
        return state

    def _remember(self, state: RunState) -> None:
        self.runs[state.uid] = state
        for d in state.descriptors:
            self.descriptor_run[d] = state.uid
        for r in state.resources:
            self.resource_run[r] = state.uid
        for r in state.stream_resources:
            self.stream_resource_run[r] = state.uid
        if state.stop is not None:
            self._mark_closed(state.uid)

    def _mark_closed(self, uid: str) -> None:
        self._closed[uid] = None
        self._closed.move_to_end(uid)
        while len(self._closed) > _MAX_CLOSED_RUNS:
            old, _ = self._closed.popitem(last=False)
            self.forget(old)

    def forget(self, run_uid: str) -> None:
        """Drop a run from memory; it is reloaded from the archive on demand."""
        state = self.runs.pop(run_uid, None)
        self._closed.pop(run_uid, None)
        if state is None:
            return
        for table, keys in ((self.descriptor_run, state.descriptors), (self.resource_run, state.resources),
                            (self.stream_resource_run, state.stream_resources)):
            for key in keys:
                if table.get(key) == run_uid:
                    del table[key]

    def _run_via(self, table: dict[str, str], name: str, key: str) -> RunState | None:
        uid = table.get(key)
        if uid is None:
            uid = self.archive.owner(name, key)
        return self.get(uid) if uid else None

    # ----------------------------------------------------------------- rules
    def _open_run(self, run_uid: str | None, what: str) -> RunState:
        if run_uid is None:
            raise Rejected(f"{what} has no run_start")
        state = self.get(run_uid)
        if state is None:
            raise Rejected(f"{what} refers to unknown run {run_uid!r} (send its start document first)")
        if state.stop is not None:
            raise Rejected(f"{what} refers to run {run_uid!r} which has already stopped")
        return state

    def _implicit_run(self, doc: dict, what: str) -> RunState:
        if doc.get("run_start"):
            return self._open_run(doc["run_start"], what)
        open_runs = self.open_runs()
        if len(open_runs) == 1:
            return open_runs[0]
        raise Rejected(f"{what} has no run_start and {len(open_runs)} runs are open, so its run is ambiguous")

    def check(self, name: str, doc: dict) -> RunState:
        """Apply the rules to one document; return its run. Mutates state."""
        if name == "start":
            state = RunState(start=doc)
            self._remember(state)
        elif name == "descriptor":
            state = self._open_run(doc.get("run_start"), "descriptor")
            state.add_descriptor(doc)
            self.descriptor_run[doc["uid"]] = state.uid
        elif name in ("event", "event_page"):
            state = self._run_via(self.descriptor_run, "descriptor", doc["descriptor"])
            if state is None:
                raise Rejected(f"{name} refers to unknown descriptor {doc['descriptor']!r} (send the descriptor first)")
            if state.stop is not None:
                raise Rejected(f"{name} belongs to run {state.uid!r} which has already stopped")
        elif name == "resource":
            state = self._implicit_run(doc, "resource")
            state.resources.add(doc["uid"])
            self.resource_run[doc["uid"]] = state.uid
        elif name in ("datum", "datum_page"):
            res = doc["resource"]
            state = self._run_via(self.resource_run, "resource", res)
            if state is None:
                raise Rejected(f"{name} refers to unknown resource {res!r} (send the resource first)")
        elif name == "stream_resource":
            state = self._implicit_run(doc, "stream_resource")
            state.stream_resources.add(doc["uid"])
            self.stream_resource_run[doc["uid"]] = state.uid
        elif name == "stream_datum":
            sr = doc["stream_resource"]
            state = self._run_via(self.stream_resource_run, "stream_resource", sr)
            if state is None:
                raise Rejected(f"stream_datum refers to unknown stream_resource {sr!r} (send it first)")
            if doc["descriptor"] not in state.descriptors:
                raise Rejected(f"stream_datum refers to unknown descriptor {doc['descriptor']!r}")
            if state.stop is not None:
                raise Rejected(f"stream_datum belongs to run {state.uid!r} which has already stopped")
        elif name == "stop":
            state = self._open_run(doc.get("run_start"), "stop")
            state.stop = doc
        else:  # pragma: no cover - names are validated before
            raise Rejected(f"unknown document name {name!r}")
        state.active = state.stop is None
        state.last_doc_time = self.clock()
        if name == "stop":
            self._mark_closed(state.uid)
        return state

    # ---------------------------------------------------------------- status
    def status(self, row: dict, stale_after: float) -> str:
        """running | success | abort | fail | interrupted (see docs)."""
        if row.get("exit_status"):
            return row["exit_status"]
        state = self.runs.get(row["uid"])
        if state is not None and state.active and self.clock() - state.last_doc_time < stale_after:
            return "running"
        return "interrupted"

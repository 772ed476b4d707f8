"""Ingest: the one path every source uses.

validate (event-model schemas) -> run rules -> archive (one transaction per
batch) -> acknowledge -> publish on the hub. A batch is processed in order;
a bad document is reported with its index and never affects the good ones
around it. Everything acknowledged has been committed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
from typing import Any, Sequence

from beamwatch import documents as docs
from beamwatch.archive import Archive, DocRow
from beamwatch.hub import Accepted, Hub
from beamwatch.runs import Rejected, RunRegistry

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Rejection:
    index: int
    name: str | None
    reason: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = dataclasses.field(default_factory=list)
    items: list[Accepted] = dataclasses.field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [r.as_dict() for r in self.rejected],
        }


class Ingestor:
    def __init__(self, archive: Archive, hub: Hub, registry: RunRegistry):
        self.archive = archive
        self.hub = hub
        self.registry = registry
        # One writer thread: batches are applied strictly in arrival order.
        self._writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="beamwatch-ingest")
        self._lock = asyncio.Lock()
        self.counts = {"accepted": 0, "duplicates": 0, "rejected": 0}

    async def ingest(self, items: Sequence[Any], source: str = "api") -> IngestResult:
        """Ingest ``(name, doc)`` pairs; return what was accepted and why not."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            result = await loop.run_in_executor(self._writer, self.ingest_sync, items)
            if result.items:  # in commit order, before the next batch
                self.hub.publish(result.items)
        self.counts["accepted"] += result.accepted
        self.counts["duplicates"] += result.duplicates
        self.counts["rejected"] += len(result.rejected)
        for r in result.rejected[:5]:
            log.warning("%s: rejected %s #%d: %s", source, r.name, r.index, r.reason)
        return result

    def close(self) -> None:
        self._writer.shutdown(wait=True)

    # ------------------------------------------------------------ worker side
    def ingest_sync(self, items: Sequence[Any]) -> IngestResult:
        result = IngestResult()
        valid: list[tuple[int, str, dict, str | None]] = []
        for index, item in enumerate(items):
            name, doc = _unpack(item)
            try:
                if not isinstance(name, str):
                    raise docs.DocumentError("each item needs a string 'name' and an object 'doc'")
                docs.validate(name, doc)
            except docs.DocumentError as exc:
                result.rejected.append(Rejection(index, name if isinstance(name, str) else None, str(exc)))
                continue
            valid.append((index, name, doc, docs.dedupe_key(name, doc)))

        stored = self.archive.existing([k for *_, k in valid if k]) if valid else {}
        seen_in_batch: dict[str, bytes] = {}
        rows: list[DocRow] = []
        starts: list[dict] = []
        stops: list[dict] = []
        counts: dict[str, list] = {}
        touched: set[str] = set()
        for index, name, doc, key in valid:
            if key is not None:
                previous = seen_in_batch.get(key) or stored.get(key)
                if previous is not None:
                    if docs.loads(previous) == docs.jsonable(doc):
                        result.duplicates += 1
                    else:
                        result.rejected.append(
                            Rejection(index, name, f"identity {key!r} is already used by a different document")
                        )
                    continue
            try:
                state = self.registry.check(name, doc)
            except Rejected as exc:
                result.rejected.append(Rejection(index, name, str(exc)))
                continue
            touched.add(state.uid)
            blob = docs.dumps(doc)
            descriptor = seq_first = seq_last = None
            if name == "event":
                descriptor, seq_first, seq_last = doc["descriptor"], doc["seq_num"], doc["seq_num"]
                n_ev, gaps = 1, state.add_events(descriptor, [seq_first])
            elif name == "event_page":
                seqs = doc["seq_num"]
                descriptor = doc["descriptor"]
                seq_first, seq_last = (min(seqs), max(seqs)) if seqs else (None, None)
                n_ev, gaps = len(seqs), state.add_events(descriptor, list(seqs))
            else:
                n_ev = gaps = 0
                if name in ("descriptor", "stream_datum"):
                    descriptor = doc["uid"] if name == "descriptor" else doc["descriptor"]
            if name == "start":
                starts.append(doc)
            elif name == "stop":
                stops.append(doc)
            c = counts.setdefault(state.uid, [0, 0, 0.0])
            if n_ev and state.stream_of(descriptor) == "primary":  # progress counts the primary stream
                c[0] += n_ev
            c[1] += gaps
            c[2] = state.last_doc_time
            rows.append(DocRow(state.uid, name, key, descriptor, seq_first, seq_last, blob))
            if key is not None:
                seen_in_batch[key] = blob
        if rows:
            try:
                self.archive.append(rows, starts, stops, {k: tuple(v) for k, v in counts.items()})
            except Exception:
                # Nothing of this batch was committed: forget the optimistic
                # state so it is reloaded from the archive.
                for uid in touched:
                    self.registry.forget(uid)
                raise
        result.rejected.sort(key=lambda r: r.index)
        result.accepted = len(rows)
        result.items = [Accepted(r.id, r.run_uid, r.name, r.blob) for r in rows]
        return result


def _unpack(item: Any) -> tuple[Any, Any]:
    if isinstance(item, dict):
        return item.get("name"), item.get("doc")
    if isinstance(item, (list, tuple)) and len(item) == 2:
        return item[0], item[1]
    return None, None

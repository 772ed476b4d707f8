"""The hub: publish/subscribe between ingest and everything downstream.

``InProcessHub`` serves one process. The interface (``publish`` never waits
for a subscriber; ``subscribe`` gives a bounded queue that says when it
overflowed) is the seam where a Redis-backed hub plugs in for several
replicas: every subscriber can resynchronise from the archive, because every
published document already has its global archive id.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from typing import Iterable, Protocol

from beamwatch import documents as docs


@dataclasses.dataclass(slots=True)
class Accepted:
    """A document that has been archived; ``id`` is its global order."""

    id: int
    run_uid: str
    name: str
    blob: bytes  # JSON encoding of the document
    _doc: dict | None = None

    @property
    def doc(self) -> dict:
        if self._doc is None:
            self._doc = docs.loads(self.blob)
        return self._doc

    def frame(self) -> bytes:
        """``{"name": ..., "doc": ...}`` as JSON without re-encoding the doc."""
        return docs.frame(self.name, self.blob)


class Overflow(Exception):
    """The subscriber fell behind; its queue was dropped."""


class Subscription:
    """A bounded queue of accepted documents for one consumer."""

    def __init__(self, hub: "Hub", max_docs: int, runs: frozenset[str] | None):
        self.hub = hub
        self.max_docs = max_docs
        self.runs = runs
        self._queue: collections.deque[Accepted] = collections.deque()
        self._wake = asyncio.Event()
        self.overflowed = False
        self.overflows = 0
        self.closed = False

    def offer(self, items: Iterable[Accepted]) -> None:
        if self.overflowed or self.closed:
            return
        if self.runs is not None:
            items = [a for a in items if a.run_uid in self.runs]
        self._queue.extend(items)
        if len(self._queue) > self.max_docs:
            self._queue.clear()
            self.overflowed = True
            self.overflows += 1
        self._wake.set()

    async def get(self, max_items: int = 10_000) -> list[Accepted]:
        """Wait for documents; raise Overflow once if the queue was dropped."""
        while not self._queue and not self.overflowed:
            if self.closed:
                raise asyncio.CancelledError("subscription closed")
            self._wake.clear()
            await self._wake.wait()
        if self.overflowed:
            self.overflowed = False
            raise Overflow()
        n = min(max_items, len(self._queue))
        return [self._queue.popleft() for _ in range(n)]

    def close(self) -> None:
        self.closed = True
        self._wake.set()
        self.hub.unsubscribe(self)


class Hub(Protocol):
    def publish(self, items: list[Accepted]) -> None: ...
    def subscribe(self, max_docs: int = 100_000, runs: Iterable[str] | None = None) -> Subscription: ...
    def unsubscribe(self, sub: Subscription) -> None: ...


class InProcessHub:
    """Fan-out inside one event loop; ``publish`` is O(subscribers), never blocks."""

    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self.published = 0

    def publish(self, items: list[Accepted]) -> None:
        self.published += len(items)
        for sub in list(self._subs):
            sub.offer(items)

    def subscribe(self, max_docs: int = 100_000, runs: Iterable[str] | None = None) -> Subscription:
        sub = Subscription(self, max_docs, frozenset(runs) if runs is not None else None)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

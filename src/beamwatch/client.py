"""HTTP client usable as a RunEngine callback.

    from beamwatch.client import Publisher
    RE.subscribe(Publisher("http://127.0.0.1:8000"))

``__call__`` only appends to a queue (the RunEngine is never blocked by the
network); a background thread sends batches, retries connection errors with
exponential backoff, and on a ``stop`` document waits (at most
``flush_timeout``) until everything so far was delivered. Documents it
finally could not deliver, or that the server rejected, are logged and kept
in ``undelivered`` / ``rejected``.
"""

from __future__ import annotations

import collections
import logging
import threading
import time

import httpx

from beamwatch import documents as docs

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, url: str = "http://127.0.0.1:8000", *, batch_size: int = 1000,
                 max_latency: float = 0.05, flush_timeout: float = 30.0, give_up_after: float = 120.0,
                 timeout: float = 30.0):
        self.endpoint = url.rstrip("/") + "/api/v1/documents"
        self.batch_size = batch_size
        self.max_latency = max_latency
        self.flush_timeout = flush_timeout
        self.give_up_after = give_up_after
        self._queue: collections.deque[tuple[str, dict]] = collections.deque()
        self._cond = threading.Condition()
        self._inflight = 0
        self._closed = False
        self.sent = 0
        self.duplicates = 0
        self.rejected: list[dict] = []
        self.undelivered: list[tuple[str, dict]] = []
        self._http = httpx.Client(timeout=timeout)
        self._thread = threading.Thread(target=self._run, name="beamwatch-publisher", daemon=True)
        self._thread.start()

    # RunEngine side ---------------------------------------------------------
    def __call__(self, name: str, doc: dict) -> None:
        with self._cond:
            self._queue.append((name, doc))
            self._cond.notify_all()
        if name == "stop":
            self.flush(self.flush_timeout)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far was sent (or given up)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._inflight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    log.warning("beamwatch Publisher: %d documents still queued after %.0f s",
                                len(self._queue) + self._inflight, timeout)
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        self._http.close()

    # sender thread ----------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed and not self._queue:
                    return
            time.sleep(self.max_latency if len(self._queue) < self.batch_size else 0)
            with self._cond:
                n = min(self.batch_size, len(self._queue))
                batch = [self._queue.popleft() for _ in range(n)]
                self._inflight = n
            try:
                self._send(batch)
            finally:
                with self._cond:
                    self._inflight = 0
                    self._cond.notify_all()

    def _send(self, batch: list[tuple[str, dict]]) -> None:
        body = docs.dumps([{"name": n, "doc": d} for n, d in batch])
        delay, started = 0.1, time.monotonic()
        while True:
            try:
                resp = self._http.post(self.endpoint, content=body, headers={"content-type": "application/json"})
                if resp.status_code in (200, 422):
                    result = resp.json()
                    self.sent += result.get("accepted", 0)
                    self.duplicates += result.get("duplicates", 0)
                    for r in result.get("rejected", []):
                        log.error("beamwatch rejected %s #%s: %s", r.get("name"), r.get("index"), r.get("reason"))
                        self.rejected.append(r)
                    return
                if resp.status_code < 500 and resp.status_code != 429:
                    log.error("beamwatch refused a batch of %d documents: HTTP %d %s",
                              len(batch), resp.status_code, resp.text[:200])
                    self.undelivered.extend(batch)
                    return
                reason = f"HTTP {resp.status_code}"
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if time.monotonic() - started > self.give_up_after:
                log.error("beamwatch Publisher gave up on %d documents after %.0f s (%s)",
                          len(batch), self.give_up_after, reason)
                self.undelivered.extend(batch)
                return
            log.warning("beamwatch Publisher: %s; retrying in %.1f s", reason, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

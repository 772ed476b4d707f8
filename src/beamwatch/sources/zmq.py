"""0MQ source: a SUB socket on a bluesky ``Proxy`` out-port.

Wire format of ``bluesky.callbacks.zmq.Publisher``: one frame per document,
``prefix + b" " + name + b" " + payload``. A dedicated thread does nothing
but receive (SUB high-water mark raised, so a burst is buffered, not
dropped); the event loop takes what arrived in batches and ingests them.
seq_num gaps are counted per descriptor by the run rules (log + run status).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading

import zmq

from beamwatch.sources import register
from beamwatch.sources.codecs import DECODERS, DecodeError

log = logging.getLogger(__name__)

_BATCH = 2_000


class ZmqSource:
    def __init__(self, address: str, prefix: bytes = b"", fmt: str = "msgpack"):
        if fmt not in DECODERS:
            raise ValueError(f"unknown 0MQ format {fmt!r}; use msgpack, json or pickle")
        self.address = address if "://" in address else f"tcp://{address}"
        self.name = f"zmq:{self.address}"
        self.prefix = prefix
        self.fmt = fmt
        self.decode = DECODERS[fmt]
        self.received = 0
        self.undecodable = 0
        self._frames: collections.deque[bytes] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ctx = zmq.Context()

    # receive thread ---------------------------------------------------------
    def _recv_loop(self, wake) -> None:
        sock = self._ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.RCVHWM, 0)  # no limit: never drop on a burst
        sock.setsockopt(zmq.RCVBUF, 8 * 1024 * 1024)
        sock.setsockopt(zmq.SUBSCRIBE, self.prefix + b" " if self.prefix else b"")
        sock.connect(self.address)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        frames = self._frames
        try:
            while not self._stop.is_set():
                if not poller.poll(100):
                    continue
                while True:
                    try:
                        frames.append(sock.recv(zmq.NOBLOCK, copy=True))
                    except zmq.Again:
                        break
                wake()
        finally:
            sock.close(linger=0)

    # event loop side -------------------------------------------------------
    def _split(self, frame: bytes) -> tuple[str, object] | None:
        try:
            prefix, name, payload = frame.split(b" ", 2)
            if prefix != self.prefix:
                return None
            return name.decode(), self.decode(payload)
        except (ValueError, DecodeError, UnicodeDecodeError) as exc:
            self.undecodable += 1
            log.warning("%s: dropped an undecodable frame (%d bytes): %s", self.name, len(frame), exc)
            return None

    async def run(self, core) -> None:
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()

        def wake():
            loop.call_soon_threadsafe(ready.set)

        if self.fmt == "pickle":
            log.warning("%s: UNSAFE pickle deserialisation enabled: anyone who can publish to %s can run code here",
                        self.name, self.address)
        self._thread = threading.Thread(target=self._recv_loop, args=(wake,), name=self.name, daemon=True)
        self._thread.start()
        log.info("%s: subscribed (format %s)", self.name, self.fmt)
        try:
            while True:
                await ready.wait()
                ready.clear()
                while self._frames:
                    n = min(_BATCH, len(self._frames))
                    raw = [self._frames.popleft() for _ in range(n)]
                    self.received += n
                    items = [x for x in map(self._split, raw) if x is not None]
                    if items:
                        await self._ingest(core, items)
        finally:
            self._stop.set()
            await asyncio.to_thread(self._thread.join, 2)
            self._ctx.term()


    async def _ingest(self, core, items) -> None:
        """Ingest; while the archive cannot commit, keep the batch and retry."""
        delay = 0.5
        while True:
            try:
                await core.ingest(items, source=self.name)
                return
            except Exception as exc:  # archive down: nothing of the batch was accepted
                log.error("%s: archive unavailable (%s); retrying %d documents in %.1f s",
                          self.name, exc, len(items), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)


@register("zmq")
def from_settings(settings) -> list[ZmqSource]:
    fmt = settings.zmq_format
    if fmt == "pickle" and not settings.zmq_unsafe_pickle:
        raise ValueError("pickle over 0MQ runs arbitrary code: pass --zmq-unsafe-pickle to allow it")
    return [ZmqSource(a, settings.zmq_prefix, fmt) for a in settings.zmq]

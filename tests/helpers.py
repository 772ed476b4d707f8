"""Helpers shared by the streaming-core tests and the benchmarks.

Real servers (uvicorn in a thread, or ``beamwatch serve`` in a subprocess),
a real bluesky RunEngine with ophyd-async simulated devices, a bluesky 0MQ
``Proxy`` in a subprocess, synthetic runs built with event-model, and small
waiting / normalisation utilities.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

import event_model
import httpx

from beamwatch import documents as docs
from beamwatch.config import Settings

VENV_BIN = Path(sys.executable).parent
BEAMWATCH = str(VENV_BIN / "beamwatch")


# --------------------------------------------------------------------------- generic
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond: Callable[[], Any], timeout: float = 20.0, interval: float = 0.02, what: str = "condition") -> Any:
    """Poll ``cond`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def norm(name: str, doc: dict) -> tuple[str, dict]:
    """A document as the archive serves it back (JSON types only)."""
    return name, docs.jsonable(doc)


def norm_all(items: Iterable[tuple[str, dict]]) -> list[tuple[str, dict]]:
    return [norm(n, d) for n, d in items]


# --------------------------------------------------------------------------- HTTP API
def get_documents(url: str, run: str, timeout: float = 60.0) -> list[tuple[str, dict]]:
    """``GET /api/v1/runs/{run}/documents`` as (name, doc) pairs."""
    resp = httpx.get(f"{url}/api/v1/runs/{run}/documents", timeout=timeout)
    resp.raise_for_status()
    out = []
    for line in resp.content.splitlines():
        if line.strip():
            item = docs.loads(line)
            out.append((item["name"], item["doc"]))
    return out


def post_documents(url: str, items: list[tuple[str, dict]], timeout: float = 60.0, **kw) -> httpx.Response:
    body = docs.dumps([{"name": n, "doc": d} for n, d in items])
    return httpx.post(f"{url}/api/v1/documents", content=body, headers={"content-type": "application/json"},
                      timeout=timeout, **kw)


def get_run(url: str, run: str) -> dict:
    resp = httpx.get(f"{url}/api/v1/runs/{run}", timeout=30)
    resp.raise_for_status()
    return resp.json()


def health(url: str) -> dict:
    return httpx.get(f"{url}/api/v1/health", timeout=10).json()


# --------------------------------------------------------------------------- servers
class ServerThread:
    """``create_app(settings)`` served by uvicorn in a thread on a free port."""

    def __init__(self, settings: Settings, extra_sources=()):
        import uvicorn

        from beamwatch.server.app import create_app

        self.settings = settings
        self.app = create_app(settings, extra_sources=extra_sources)
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, log_level="warning", ws_per_message_deflate=False, lifespan="on",
                                ws_max_size=64 * 1024 * 1024)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]},
                                        name="uvicorn-test", daemon=True)

    @property
    def core(self):
        return self.app.state.core

    def start(self) -> "ServerThread":
        self._thread.start()
        wait_for(lambda: self.server.started or not self._thread.is_alive(), 30, what="uvicorn to start")
        if not self.server.started:
            raise RuntimeError("uvicorn did not start (see the log above)")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(20)
        self._sock.close()

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class ServeProcess:
    """A real ``beamwatch serve`` subprocess."""

    def __init__(self, data_dir: Path, archive_url: str | None = None, port: int | None = None,
                 extra: list[str] | None = None, log: Path | None = None):
        self.data_dir = Path(data_dir)
        self.archive_url = archive_url
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra = extra or []
        self.log = log or self.data_dir / f"serve-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "ServeProcess":
        cmd = [BEAMWATCH, "serve", "--port", str(self.port), "--data-dir", str(self.data_dir),
               "--log-level", "warning", *self.extra]
        if self.archive_url:
            cmd += ["--archive-url", self.archive_url]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._logf, stderr=subprocess.STDOUT)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"beamwatch serve exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                return httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, timeout, 0.05, what="beamwatch serve to answer")
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._logf.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None:
            self._logf.close()


# --------------------------------------------------------------------------- 0MQ
PROXY_CODE = "import sys; from bluesky.callbacks.zmq import Proxy; Proxy(int(sys.argv[1]), int(sys.argv[2])).start()"


@contextlib.contextmanager
def zmq_proxy():
    """A bluesky 0MQ ``Proxy`` in a subprocess; yields (in_port, out_port)."""
    in_port, out_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-c", PROXY_CODE, str(in_port), str(out_port)])
    try:
        import zmq

        # wait until it listens on both ports
        for port in (in_port, out_port):
            wait_for(lambda: _port_open(port) or proc.poll() is not None, 20, what=f"Proxy port {port}")
        if proc.poll() is not None:
            raise RuntimeError(f"bluesky Proxy exited with {proc.returncode}")
        yield in_port, out_port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def msgpack_serializer():
    """What a beamline uses with ``Publisher(serializer=...)`` for msgpack."""
    import msgpack
    import msgpack_numpy

    return lambda doc: msgpack.packb(doc, default=msgpack_numpy.encode)


def zmq_prime(publisher, received: Callable[[], int], timeout: float = 20.0) -> None:
    """Defeat the 0MQ slow-joiner problem: send probe frames (a prefix
    nobody subscribes to as a document) through ``publisher``'s socket until
    the receiver has seen one. ``received`` returns the receiver's frame count."""
    deadline = time.monotonic() + timeout
    while received() == 0:
        publisher._socket.send(b"beamwatch-probe probe {}")
        if time.monotonic() > deadline:
            raise AssertionError("0MQ path never delivered a probe frame")
        time.sleep(0.05)


# --------------------------------------------------------------------------- bluesky
class Beamline:
    """A real RunEngine with ophyd-async simulated devices (instant motor,
    point detector with no exposure, optional blob detector writing HDF5)."""

    def __init__(self, data_dir: Path | None = None):
        from bluesky import RunEngine
        from ophyd_async.core import StaticPathProvider, UUIDFilenameProvider, init_devices
        from ophyd_async.sim import PatternGenerator, SimBlobDetector, SimMotor, SimPointDetector

        # context_managers=[]: no SIGINT handler, so scans can run in a worker thread
        self.RE = RunEngine({}, call_returns_result=True, context_managers=[])
        if data_dir is not None:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
        pg = PatternGenerator()
        with init_devices(set_name=False):
            self.motor = SimMotor(name="motor", instant=True)
            self.det = SimPointDetector(pg, name="det")
            self.blob = (SimBlobDetector(StaticPathProvider(UUIDFilenameProvider(), Path(data_dir)), pg,
                                         name="blob")
                         if data_dir is not None else None)
        import bluesky.plan_stubs as bps

        self.RE(bps.mv(self.det.acquire_time, 0.0))
        self.emitted: list[tuple[str, dict]] = []
        self.RE.subscribe(lambda name, doc: self.emitted.append((name, doc)))

    def scan(self, num: int = 10, *, blob: bool = False, delay: float = 0.0, md: dict | None = None) -> str:
        """Run ``bp.scan`` (with a pause of ``delay`` s per point); return the run uid."""
        import bluesky.plan_stubs as bps
        import bluesky.plans as bp
        from bluesky.preprocessors import plan_mutator

        dets = [self.det] + ([self.blob] if blob and self.blob is not None else [])
        plan = bp.scan(dets, self.motor, -1, 1, num, md=md or {})
        if delay:
            def slow(msg):
                if msg.command == "save":
                    return (_then_sleep(msg, delay), None)
                return None, None

            plan = plan_mutator(plan, slow)
        result = self.RE(plan)
        return result.run_start_uids[0]

    def run_docs(self, uid: str) -> list[tuple[str, dict]]:
        """What the RunEngine emitted for run ``uid`` (in order)."""
        out, owned = [], {uid}
        for name, doc in self.emitted:
            if name == "start":
                if doc["uid"] == uid:
                    out.append((name, doc))
                continue
            run = doc.get("run_start")
            if name == "descriptor" or name == "stop" or name in ("resource", "stream_resource"):
                if run == uid:
                    out.append((name, doc))
                    owned.add(doc["uid"])
            elif name in ("event", "event_page", "stream_datum"):
                if doc["descriptor"] in owned:
                    out.append((name, doc))
            elif name in ("datum", "datum_page"):
                if doc["resource"] in owned:
                    out.append((name, doc))
        return out


def _then_sleep(msg, delay):
    import bluesky.plan_stubs as bps

    yield msg
    yield from bps.sleep(delay)


# --------------------------------------------------------------------------- synthetic runs
def make_run(n_events: int = 5, *, page_size: int = 0, plan_name: str = "synthetic", md: dict | None = None,
             start_time: float | None = None, payload: int = 0, stop: bool = True,
             seq_nums: list[int] | None = None) -> list[tuple[str, dict]]:
    """A complete run built with event-model: start, descriptor, events (or
    event_pages of ``page_size``), stop. ``payload`` adds a string field of
    that many bytes to every event (for back-pressure tests)."""
    t0 = time.time() if start_time is None else start_time
    bundle = event_model.compose_run(metadata={"plan_name": plan_name, **(md or {})}, time=t0)
    out: list[tuple[str, dict]] = [("start", bundle.start_doc)]
    data_keys = {"x": {"source": "sim", "dtype": "number", "shape": []},
                 "y": {"source": "sim", "dtype": "number", "shape": []}}
    if payload:
        data_keys["blob"] = {"source": "sim", "dtype": "string", "shape": []}
    desc = bundle.compose_descriptor(name="primary", data_keys=data_keys, time=t0)
    out.append(("descriptor", desc.descriptor_doc))
    seqs = seq_nums or list(range(1, n_events + 1))
    filler = "x" * payload

    def data(i):
        d = {"x": float(i), "y": float(i) ** 2}
        if payload:
            d["blob"] = filler
        return d

    if page_size:
        for j in range(0, len(seqs), page_size):
            chunk = seqs[j : j + page_size]
            rows = [data(s) for s in chunk]
            page = desc.compose_event_page(
                data={k: [r[k] for r in rows] for k in rows[0]},
                timestamps={k: [t0 + s for s in chunk] for k in rows[0]},
                seq_num=chunk, time=[t0 + s * 1e-3 for s in chunk], uid=[str(uuid.uuid4()) for _ in chunk],
            )
            out.append(("event_page", page))
    else:
        for s in seqs:
            d = data(s)
            out.append(("event", desc.compose_event(data=d, timestamps={k: t0 for k in d}, seq_num=s,
                                                    time=t0 + s * 1e-3)))
    if stop:
        out.append(("stop", bundle.compose_stop(time=t0 + len(seqs) * 1e-3 + 1)))
    return out


def run_uid(items: list[tuple[str, dict]]) -> str:
    assert items[0][0] == "start"
    return items[0][1]["uid"]


def assert_same_documents(got: list[tuple[str, dict]], expected: list[tuple[str, dict]]) -> None:
    """Equal lists of (name, doc); on failure say where and which keys differ."""
    if got == expected:
        return
    names_got, names_exp = [n for n, _ in got], [n for n, _ in expected]
    assert len(got) == len(expected), (
        f"{len(got)} documents, expected {len(expected)}; counts got "
        f"{ {n: names_got.count(n) for n in set(names_got)} } expected { {n: names_exp.count(n) for n in set(names_exp)} }")
    for i, ((ng, dg), (ne, de)) in enumerate(zip(got, expected)):
        assert ng == ne, f"document #{i}: name {ng!r}, expected {ne!r}"
        if dg != de:
            keys = sorted(k for k in set(dg) | set(de) if dg.get(k, "<missing>") != de.get(k, "<missing>"))
            detail = {k: (dg.get(k, "<missing>"), de.get(k, "<missing>")) for k in keys}
            raise AssertionError(f"document #{i} ({ng}) differs in {keys}: (got, expected) = {str(detail)[:1500]}")

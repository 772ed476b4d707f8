"""Real-browser fixtures: Debian's Chromium via Playwright, real servers, a real RunEngine.

Chromium missing: skipped with the reason outside CI, a failure under CI=true.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "beamwatch" / "server" / "static" / "index.html"
SCREENSHOTS = ROOT / "docs" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
        "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows"]

pytestmark = pytest.mark.browser


def _missing(why: str):
    if IN_CI:
        pytest.fail(f"{why} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m beamwatch serve`` in a subprocess; restartable on the same port and data dir."""

    def __init__(self, data_dir: Path, port: int | None = None, data_roots=()):
        self.data_dir = data_dir
        self.data_roots = [str(r) for r in data_roots]
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = open(data_dir.parent / f"server-{self.port}.log", "ab")

    def start(self) -> "Server":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "beamwatch", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir),
             "--log-level", "warning", *(a for r in self.data_roots for a in ("--data-root", r))],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start in 30 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture(scope="package")  # not session: sync_playwright keeps an event loop running in this
def browser():                    # thread, which breaks pytest-asyncio tests collected after this package
    if not Path(CHROMIUM).exists():
        _missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    if not STATIC.exists():
        _missing(f"the web client is not built ({STATIC} missing; run `make web`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def server(tmp_path):
    (tmp_path / "beamline").mkdir(exist_ok=True)
    s = Server(tmp_path / "data", data_roots=[tmp_path / "beamline"]).start()  # the Beamline's frames
    yield s
    s.stop()
    s.log.close()


@pytest.fixture
def page_factory(browser):
    contexts = []

    def make(width=1400, height=1000):
        ctx = browser.new_context(viewport={"width": width, "height": height}, timezone_id="Europe/Berlin")
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.js_errors = errors  # type: ignore[attr-defined]
        return page

    yield make
    for ctx in contexts:
        ctx.close()


class Beamline:
    """The project's simulated beamline publishing to a server through beamwatch.client.Publisher."""

    def __init__(self, url: str, data_dir: Path):
        from beamwatch.client import Publisher
        from beamwatch.sources.simulated import SimulatedBeamline

        self.publisher = Publisher(url, max_latency=0.02)
        self.sim = SimulatedBeamline(data_dir, self.publisher, frame_shape=(16, 16), seed=1)
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def run(self, kind: str, **kw) -> str:
        return self.sim.run(kind, **kw)

    def run_async(self, kind: str, **kw) -> threading.Thread:
        def target():
            try:
                self.sim.run(kind, **kw)
            except BaseException as exc:  # reported by join()
                self.errors.append(exc)

        t = threading.Thread(target=target, daemon=True)
        t.start()
        self.threads.append(t)
        return t

    def join(self, timeout=120):
        for t in self.threads:
            t.join(timeout)
        assert not self.errors, self.errors
        assert self.publisher.flush(30)

    def close(self):
        self.publisher.close(10)


@pytest.fixture
def beamline(server, tmp_path):
    b = Beamline(server.url, tmp_path / "beamline")
    yield b
    b.close()


def shot(page, name: str, locator=None) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    (locator or page).screenshot(path=str(path))
    return path


def stats(page) -> dict:
    return page.evaluate("() => ({...window.__beamwatch, latencies: undefined, "
                         "mapMeasured: window.__beamwatch.mapMeasured ? Array.from(window.__beamwatch.mapMeasured) : null})")

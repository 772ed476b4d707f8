"""Dashboard benchmark: ingest-to-paint latency and paint rate in headless Chromium.

A 100 x 100 snake grid scan (bluesky grid_scan metadata: shape, extents,
snaking) is posted to a real ``beamwatch serve`` through
``beamwatch.client.Publisher`` at 10 and at 100 events/s while 1 or 20 tabs
show the run (live map + line plots + document log). Each configuration runs
for ``--seconds`` (default 20 s, i.e. a partial scan: 200 or 2000 of the
10 000 points) -- the per-event cost does not depend on how far the scan is,
only the map/plot sizes grow.

Measured in every tab (window.__beamwatch, recorded one animation frame after
React committed new data):

* ingest-to-paint: paint time minus the wall time at which the server fed the
  newest rows into the run's view model (right after the archive commit);
* event-to-paint: paint time minus the event's own timestamp (includes the
  Publisher's batching, up to 20 ms here);
* paint rate: data paints per second per tab.

Writes bench/results/dashboard.json. Usage:
    .venv/bin/python bench/bench_dashboard.py [--seconds 20] [--tabs 1,20] [--rates 10,100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import event_model
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
        "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """``beamwatch serve`` on a free port (``extra``: more command-line arguments); (process, URL)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "beamwatch", "serve", "--port", str(port), "--data-dir",
                             str(data_dir), "--log-level", "warning", *extra])
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def open_scan(publisher, shape=(100, 100), scan_id=1):
    ny, nx = shape
    bundle = event_model.compose_run(metadata={
        "plan_name": "grid_scan", "scan_id": scan_id, "shape": [ny, nx], "extents": [[-5, 5], [-5, 5]],
        "snaking": [False, True], "motors": ["sy", "sx"], "num_points": ny * nx, "sample": "benchmark",
        "hints": {"dimensions": [[["sy"], "primary"], [["sx"], "primary"]], "gridding": "rectilinear"}})
    publisher("start", bundle.start_doc)
    keys = {k: {"source": "sim", "dtype": "number", "shape": [], "units": u}
            for k, u in (("sy", "mm"), ("sx", "mm"), ("I0", "counts"), ("det", "counts"), ("det2", "counts"))}
    desc = bundle.compose_descriptor(name="primary", data_keys=keys, hints={"det": {"fields": ["det", "det2"]}})
    publisher("descriptor", desc.descriptor_doc)
    publisher.flush(10)
    return bundle, desc


def snake_events(publisher, bundle, desc, rate: float, seconds: float, shape=(100, 100)) -> int:
    ny, nx = shape
    ys, xs = np.linspace(-5, 5, ny), np.linspace(-5, 5, nx)
    n = min(ny * nx, int(rate * seconds))
    t0 = time.perf_counter()
    for s in range(1, n + 1):
        i, j = divmod(s - 1, nx)
        if i % 2:
            j = nx - 1 - j
        x, y = xs[j], ys[i]
        det = 1000 * np.exp(-((x - 1) ** 2 + (y + 1) ** 2) / 4) + 10
        data = {"sy": y, "sx": x, "I0": 1000.0, "det": det, "det2": det * 0.5 + x}
        now = time.time()
        publisher("event", desc.compose_event(data=data, timestamps={k: now for k in data}, seq_num=s, time=now))
        delay = t0 + s / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    publisher("stop", bundle.compose_stop(exit_status="abort", reason=f"benchmark: partial scan, {n} points"))
    return n


def pct(values, q):
    return float(np.percentile(values, q)) if len(values) else None


def run_config(browser, url: str, rate: float, tabs: int, seconds: float, scan_id: int) -> dict:
    from beamwatch.client import Publisher

    pub = Publisher(url, max_latency=0.02)
    bundle, desc = open_scan(pub, scan_id=scan_id)
    uid = bundle.start_doc["uid"]
    # every tab shows the run (snapshot received) before the events start
    contexts, pages = [], []
    for _ in range(tabs):
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        page.goto(f"{url}/#/runs/{uid}")
        page.wait_for_selector("[data-testid=map-panel]", timeout=60_000)
        contexts.append(ctx)
        pages.append(page)
    for p in pages:
        p.evaluate("() => { const s = window.__beamwatch; s.latencies = []; s.eventLatencies = []; "
                   "s.paints0 = s.paints; s.t0 = performance.now(); }")
    result = {"n": snake_events(pub, bundle, desc, rate, seconds)}
    pub.close()
    n = result["n"]
    for p in pages:
        p.wait_for_function(f"() => window.__beamwatch.rows >= {n}", timeout=60_000)
    time.sleep(0.5)
    per_tab = [p.evaluate("() => { const s = window.__beamwatch; return {paints: s.paints - s.paints0, "
                          "ms: performance.now() - s.t0, lat: s.latencies, ev: s.eventLatencies, rows: s.rows, "
                          "filled: s.mapFilled}; }") for p in pages]
    for ctx in contexts:
        ctx.close()
    lat = [v for tab in per_tab for v in tab["lat"]]
    ev = [v for tab in per_tab for v in tab["ev"]]
    rates = [tab["paints"] / (tab["ms"] / 1000) for tab in per_tab]
    return {
        "rate_events_per_s": rate, "tabs": tabs, "seconds": seconds, "events": n,
        "ingest_to_paint_ms": {"median": pct(lat, 50), "p95": pct(lat, 95), "max": max(lat) if lat else None,
                               "samples": len(lat)},
        "event_to_paint_ms": {"median": pct(ev, 50), "p95": pct(ev, 95)},
        "paint_rate_per_tab_hz": {"median": statistics.median(rates), "min": min(rates)},
        "all_tabs_complete": all(tab["rows"] >= n and tab["filled"] >= n for tab in per_tab),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--tabs", default="1,20")
    ap.add_argument("--rates", default="10,100")
    ap.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "dashboard.json")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"bench_dashboard: {CHROMIUM} not found; skipping", file=sys.stderr)
        return 0
    from playwright.sync_api import sync_playwright

    results = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        proc, url = start_server(Path(tmp) / "data")
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            scan_id = 1
            for tabs in [int(x) for x in args.tabs.split(",")]:
                for rate in [float(x) for x in args.rates.split(",")]:
                    r = run_config(browser, url, rate, tabs, args.seconds, scan_id)
                    scan_id += 1
                    print(json.dumps(r), flush=True)
                    results.append(r)
        finally:
            browser.close()
            proc.terminate()
            proc.wait(10)
    out = {"benchmark": "dashboard", "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
           "scan": "100x100 snake grid_scan (partial: rate x seconds points)", "results": results}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

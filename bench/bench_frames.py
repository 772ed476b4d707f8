"""Frame latency benchmark: StreamDatum emitted -> frame painted / ROI sums in the browser, at 10 Hz.

A real RunEngine (``beamwatch.sources.simulated.SimulatedBeamline``: ophyd-async
area detector writing SWMR HDF5, StreamResource/StreamDatum) runs a snake
``grid_scan`` at ``--rate`` frames/s; its documents go to a real ``beamwatch
serve`` through ``beamwatch.client.Publisher`` (the path a beamline uses).
One headless Debian Chromium tab shows the run (live image + 3 ROI maps +
total + scalar plots). Measured per frame, on one clock (same machine):

* frame-to-paint: wall time the browser painted the frame (one animation frame
  after the heatmap received it) minus the wall time the RunEngine emitted the
  frame's ``stream_datum`` (in the RunEngine callback, before the Publisher);
* ROI-sums-to-browser: wall time the tab applied the ROI sums of that frame
  (read from the HDF5 file by the server) minus the same emit time;
* frames painted: the image view is latest-wins (a tab never gets more frames
  than it paints), so at 10 Hz it should paint nearly every frame.

Writes bench/results/frames.json. Usage:
    .venv/bin/python bench/bench_frames.py [--rate 10] [--shapes 256x256,1216x1936] [--grid 12x20]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from bench_dashboard import ARGS, CHROMIUM, start_server

ROOT = Path(__file__).resolve().parents[1]


def pct(values, q):
    return float(statistics.quantiles(values, n=100)[q - 1]) if len(values) > 2 else float("nan")


def run_config(browser, url: str, sim_dir: Path, shape: tuple[int, int], grid: tuple[int, int], rate: float,
               warmup: float) -> dict:
    from beamwatch.client import Publisher
    from beamwatch.sources.simulated import SimulatedBeamline

    emitted: dict[int, float] = {}  # seq_num -> wall time its stream_datum was emitted
    started = threading.Event()
    uid_box: dict = {}
    publisher = Publisher(url)

    def callback(name, doc):
        if name == "stream_datum":
            now = time.time()
            for s in range(doc["seq_nums"]["start"], doc["seq_nums"]["stop"]):
                emitted.setdefault(s, now)
        publisher(name, doc)
        if name == "start":
            uid_box["uid"] = doc["uid"]
            started.set()

    beamline = SimulatedBeamline(sim_dir, callback, frame_shape=shape, grid_shape=grid, dtype="uint8",
                                 exposure=1.0 / rate, seed=1)
    rois = [{"name": f"roi{i + 1}", "x": c0, "y": r0, "width": c1 - c0, "height": r1 - r0}
            for i, (r0, r1, c0, c1) in enumerate(beamline.sample.rois())]
    httpx.put(f"{url}/api/v1/rois/det-image", json=rois).raise_for_status()

    page = browser.new_page(viewport={"width": 1600, "height": 1100})
    page.goto(url)
    page.wait_for_selector("[data-testid=runs-table]", timeout=30000)
    box: dict = {}
    t = threading.Thread(target=lambda: box.setdefault("uid", beamline.run("snake_grid")), daemon=True)
    t.start()
    started.wait(30)
    while httpx.get(f"{url}/api/v1/runs/{uid_box['uid']}").status_code != 200:  # the Publisher batches
        time.sleep(0.02)
    page.goto(f"{url}/#/runs/{uid_box['uid']}")
    t.join(grid[0] * grid[1] / rate * 3 + 60)
    publisher.flush(30)
    n = grid[0] * grid[1]
    try:
        page.wait_for_function(f"window.__beamwatch.roiSums.filter(x => x.field === 'det-image').length >= {n * 0.95}",
                               timeout=60000)
    except Exception:
        print("timed out; tab stats:", page.evaluate(
            "({rows: window.__beamwatch.rows, frames: window.__beamwatch.framePaints.length, "
            "sums: window.__beamwatch.roiSums.length, run: window.__beamwatch.run, hash: location.hash})"),
            "emitted:", len(emitted), file=sys.stderr)
        page.screenshot(path="/tmp/bench_frames_timeout.png")
        raise
    time.sleep(1.0)
    st = page.evaluate("({f: window.__beamwatch.framePaints, r: window.__beamwatch.roiSums})")
    page.close()
    publisher.close()

    t0 = min(emitted.values()) + warmup
    frame_lat = [p["t"] / 1000 - emitted[p["seq"]] for p in st["f"]
                 if p["field"] == "det-image" and p["seq"] in emitted and emitted[p["seq"]] >= t0]
    roi_lat = {}
    for r in st["r"]:
        if r["field"] == "det-image" and r["seq"] in emitted and emitted[r["seq"]] >= t0:
            roi_lat.setdefault(r["seq"], r["t"] / 1000 - emitted[r["seq"]])  # first arrival (not a recompute)
    roi_lat = list(roi_lat.values())
    measured = sum(1 for s, e in emitted.items() if e >= t0)
    painted = {p["seq"] for p in st["f"] if p["field"] == "det-image" and emitted.get(p["seq"], 0) >= t0}
    span = max(emitted.values()) - t0
    ms = lambda v: round(v * 1000, 1)  # noqa: E731
    return {
        "frame_shape": list(shape), "grid": list(grid), "rate_hz": rate, "frames": len(emitted),
        "achieved_rate_hz": round(len(emitted) / (max(emitted.values()) - min(emitted.values())), 2),
        "measured_after_warmup": measured,
        "frame_to_paint_ms": {"median": ms(statistics.median(frame_lat)), "p95": ms(pct(frame_lat, 95)),
                              "max": ms(max(frame_lat))} if frame_lat else None,
        "frames_painted": len(painted), "frames_painted_fraction": round(len(painted) / max(measured, 1), 3),
        "paints_per_s": round(len(painted) / span, 2) if span > 0 else None,
        "roi_sums_to_browser_ms": {"median": ms(statistics.median(roi_lat)), "p95": ms(pct(roi_lat, 95)),
                                   "max": ms(max(roi_lat))} if roi_lat else None,
        "roi_sums_received": len(roi_lat),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--shapes", default="256x256,1216x1936")
    p.add_argument("--grid", default="12x20")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of the scan not counted (page load)")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    grid = tuple(int(v) for v in args.grid.split("x"))
    results = []
    with tempfile.TemporaryDirectory(prefix="bw-bench-frames-") as tmp:
        tmp = Path(tmp)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            for k, shape in enumerate(shapes):
                # a fresh server per frame size: ROIs are checked against the newest run's frame shape
                sim = tmp / f"sim{k}"
                sim.mkdir()
                proc, url = start_server(tmp / f"data{k}", "--data-root", str(sim))
                try:
                    r = run_config(browser, url, sim, shape, grid, args.rate, args.warmup)
                finally:
                    proc.terminate()
                    proc.wait(20)
                print(json.dumps(r), flush=True)
                results.append(r)
            browser.close()
    out = {"results": results, "machine": {"python": platform.python_version(), "cpu": platform.machine()},
           "date": time.strftime("%Y-%m-%d")}
    path = ROOT / "bench" / "results" / "frames.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

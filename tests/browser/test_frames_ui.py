"""Detector frames in the browser: live image, an ROI drawn with the mouse whose map fills,
and a visible error when the frames are missing while the run's other data keep flowing."""

from __future__ import annotations

import time
from pathlib import Path

import event_model
import httpx
import numpy as np
import pytest

from .conftest import shot

pytestmark = pytest.mark.browser


def _rect(page, name: str) -> dict:
    """Screen rectangle of an ROI's outline and its detector-pixel box (data-roi="x,y,w,h")."""
    return page.evaluate(
        """(name) => {
            const g = document.querySelector(`[data-testid='roi-rect-${name}']`);
            const r = g.querySelector('path, rect').getBoundingClientRect();
            const [x, y, w, h] = g.getAttribute('data-roi').split(',').map(Number);
            return {left: r.left, top: r.top, width: r.width, height: r.height, x, y, w, h};
        }""", name)


def _screen(ref: dict, px: float, py: float) -> tuple[float, float]:
    """Detector pixel (column px, row py) -> page coordinates, from a known ROI's outline."""
    sx, sy = ref["width"] / ref["w"], ref["height"] / ref["h"]
    return ref["left"] + (px - ref["x"]) * sx, ref["top"] + (py - ref["y"]) * sy


def test_draw_an_roi_with_the_mouse_and_see_its_map_fill(server, beamline, page_factory, tmp_path):
    shape = (6, 8)
    n = shape[0] * shape[1]
    field = "det-image"
    frame = beamline.sim.sample.frame_shape  # (16, 16) in the fixture
    # three ROIs to start with (as the demo presets them)
    preset = [{"name": f"roi{i + 1}", "x": c0, "y": r0, "width": c1 - c0, "height": r1 - r0}
              for i, (r0, r1, c0, c1) in enumerate(beamline.sim.sample.rois())]
    assert httpx.put(f"{server.url}/api/v1/rois/{field}", json=preset).status_code == 200

    page = page_factory(1500, 1100)
    page.goto(server.url + "/")
    page.get_by_test_id("runs-table").wait_for()
    beamline.run_async("snake_grid", shape=shape, exposure=0.15)
    page.get_by_test_id("run-view").wait_for(timeout=20_000)
    uid = page.get_by_test_id("run-view").get_attribute("data-uid")

    # the live image follows the scan
    panel = page.get_by_test_id(f"image-panel-{field}")
    panel.wait_for()
    page.wait_for_function(
        f"() => Number(document.querySelector(\"[data-testid='image-panel-{field}']\").getAttribute('data-seq')) >= 3")
    page.get_by_test_id("roi-rect-roi1").wait_for()
    page.get_by_test_id("roi-maps").wait_for()
    page.wait_for_timeout(1000)  # the maps' arrival re-lays out the image

    # draw roi4 over detector pixels x 2..9, y 9..14 with the mouse
    ref = _rect(page, "roi1")
    page.get_by_test_id("roi-draw-toggle").click()
    x0, y0 = _screen(ref, 2, 9)
    x1, y1 = _screen(ref, 9, 14)
    page.mouse.move(x0 + 1, y0 + 1)
    page.mouse.down()
    page.mouse.move(x1 - 1, y1 - 1, steps=6)
    page.mouse.up()
    page.get_by_test_id("roi-row-roi4").wait_for()
    page.get_by_test_id("roi-draw-toggle").click()  # leave draw mode

    # stored on the server for every viewer, in detector pixels
    def stored():
        rois = httpx.get(f"{server.url}/api/v1/rois/{field}").json()
        return next((r for r in rois if r["name"] == "roi4"), None)
    deadline = time.monotonic() + 10
    while (roi4 := stored()) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert roi4 is not None
    assert abs(roi4["x"] - 2) <= 1 and abs(roi4["y"] - 9) <= 1
    assert abs(roi4["x"] + roi4["width"] - 9) <= 1 and abs(roi4["y"] + roi4["height"] - 14) <= 1
    assert 0 <= roi4["x"] and roi4["x"] + roi4["width"] <= frame[1]

    # its map appears beside the others and fills to every point of the scan
    page.get_by_test_id("roi-map-roi4").wait_for(timeout=20_000)
    page.wait_for_function(
        f"() => Number(document.querySelector(\"[data-testid='roi-map-roi4']\").getAttribute('data-measured')) >= {n}",
        timeout=60_000)
    for name in ("roi1", "roi2", "roi3", f"total:{field}"):
        assert int(page.get_by_test_id(f"roi-map-{name}").get_attribute("data-measured")) == n
    beamline.join()

    # the browser's map equals the server's, which equals NumPy on the raw frames (tests/test_roi_maps.py)
    body = httpx.get(f"{server.url}/api/v1/runs/{uid}/maps/roi4").json()
    assert body["measured"] == n
    shot(page, "run-view-frames-rois")

    # move roi4 by dragging inside it (not in draw mode): +3 columns, same size
    ref = _rect(page, "roi4")
    before = dict(roi4)
    cx, cy = _screen(ref, roi4["x"] + roi4["width"] / 2, roi4["y"] + roi4["height"] / 2)
    dx, _ = _screen(ref, roi4["x"] + roi4["width"] / 2 + 3, 0)
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(dx, cy, steps=6)
    page.mouse.up()
    moved = _wait_roi(server.url, field, "roi4", lambda r: r["x"] != before["x"])
    assert moved["x"] == before["x"] + 3 and moved["y"] == before["y"]
    assert (moved["width"], moved["height"]) == (before["width"], before["height"])

    # resize from the bottom-right corner: 2 px narrower, 1 px shorter
    ref = _rect(page, "roi4")
    hx, hy = _screen(ref, moved["x"] + moved["width"], moved["y"] + moved["height"])
    tx, ty = _screen(ref, moved["x"] + moved["width"] - 2, moved["y"] + moved["height"] - 1)
    page.mouse.move(hx, hy)
    page.mouse.down()
    page.mouse.move(tx, ty, steps=6)
    page.mouse.up()
    resized = _wait_roi(server.url, field, "roi4", lambda r: r["width"] != moved["width"])
    assert (resized["x"], resized["y"]) == (moved["x"], moved["y"])
    assert (resized["width"], resized["height"]) == (moved["width"] - 2, moved["height"] - 1)

    # delete it: gone from the server and its map leaves the page
    page.get_by_test_id("roi-delete-roi4").click()
    _wait_roi(server.url, field, "roi4", lambda r: r is None, allow_none=True)
    page.get_by_test_id("roi-map-roi4").wait_for(state="detached", timeout=20_000)
    assert page.get_by_test_id("roi-map-roi1").is_visible()
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]


def _wait_roi(url: str, field: str, name: str, cond, allow_none: bool = False, timeout: float = 10.0):
    """The stored ROI ``name`` once ``cond(roi)`` holds (roi is None when it is absent)."""
    deadline = time.monotonic() + timeout
    while True:
        roi = next((r for r in httpx.get(f"{url}/api/v1/rois/{field}").json() if r["name"] == name), None)
        if (roi is not None or allow_none) and cond(roi):
            return roi
        if time.monotonic() > deadline:
            raise AssertionError(f"ROI {name} never reached the wanted state; last {roi}")
        time.sleep(0.1)


def test_missing_frames_show_a_clear_error_while_other_data_keep_flowing(server, page_factory, tmp_path):
    missing = tmp_path / "beamline" / "gone.h5"  # inside the allowed roots, never written
    run = event_model.compose_run(metadata={"plan_name": "scan", "scan_id": 5, "num_points": 8,
                                            "hints": {"dimensions": [[["x"], "primary"]]}})
    desc = run.compose_descriptor(name="primary", data_keys={
        "x": {"dtype": "number", "shape": [], "source": "sim"},
        "I0": {"dtype": "number", "shape": [], "source": "sim"},
        "cam": {"dtype": "array", "shape": [1, 8, 8], "source": "sim", "external": "STREAM:"}},
        hints={"I0": {"fields": ["I0"]}})
    sres = run.compose_stream_resource(mimetype="application/x-hdf5", uri=f"file://localhost{missing}",
                                       data_key="cam", parameters={"dataset": "/entry/data/data"})
    post = lambda items: httpx.post(f"{server.url}/api/v1/documents",  # noqa: E731
                                    json=[{"name": a, "doc": b} for a, b in items]).raise_for_status()
    post([("start", run.start_doc), ("descriptor", desc.descriptor_doc), ("stream_resource", sres.stream_resource_doc)])
    page = page_factory()
    page.goto(f"{server.url}/#/runs/{run.start_doc['uid']}")
    page.get_by_test_id("run-view").wait_for()
    for k in range(1, 9):
        sdat = sres.compose_stream_datum(indices={"start": k - 1, "stop": k}, seq_nums={"start": k, "stop": k + 1})
        sdat["descriptor"] = desc.descriptor_doc["uid"]
        post([("stream_datum", sdat), ("event", desc.compose_event(
            data={"x": float(k), "I0": 100.0 + k}, timestamps={"x": time.time(), "I0": time.time()},
            seq_num=k, filled={}))])
        if k == 3:
            err = page.get_by_test_id("frame-error")
            err.wait_for(timeout=20_000)
            assert "not found" in err.inner_text() or "gone.h5" in err.inner_text(), err.inner_text()
        time.sleep(0.1)
    # the scalar data kept flowing: all 8 points are in the progress line while the error shows
    page.wait_for_function("() => document.querySelector(\"[data-testid='progress-text']\").textContent.startsWith('8 / 8')")
    assert page.get_by_test_id("frame-error").is_visible()
    shot(page, "run-view-missing-frames")
    post([("stop", run.compose_stop())])
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]

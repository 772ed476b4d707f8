"""What a person sees: real server, real RunEngine scans, headless Chromium."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from .conftest import shot, stats

pytestmark = pytest.mark.browser


def snake_cells(k: int, shape) -> set[int]:
    """Flat indices of the first k points of a snake scan (bluesky LiveGrid rule, written out)."""
    ny, nx = shape
    out = set()
    for s in range(k):
        i, j = divmod(s, nx)
        if i % 2:
            j = nx - 1 - j
        out.add(i * nx + j)
    return out


def png_pixels(data: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def wait_stats(page, cond, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        st = stats(page)
        if cond(st):
            return st
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last stats {dict(st, mapMeasured='...')}")
        time.sleep(0.05)


def test_live_snake_scan_two_tabs_archive_and_screenshots(server, beamline, page_factory):
    shape = (6, 8)
    n = shape[0] * shape[1]
    page = page_factory()
    page.goto(server.url + "/")
    page.get_by_test_id("runs-table").wait_for()
    assert page.get_by_test_id("runs-conn").inner_text() in ("live", "connecting")
    beamline.run_async("snake_grid", shape=shape, exposure=0.07, md={"sample": "Fe foil", "operator": "ada"})

    # follow mode (on by default) jumps to the new run
    page.get_by_test_id("run-view").wait_for(timeout=20_000)
    uid = page.get_by_test_id("run-view").get_attribute("data-uid")

    # a second tab on the same run
    tab2 = page_factory()
    tab2.goto(f"{server.url}/#/runs/{uid}")

    # mid-scan: the map has exactly the first k cells in snake order, and the plot k points
    seen_partial = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = stats(page)
        k = st["mapFilled"]
        if st["mapMeasured"] is not None and 0 < k < n:
            measured = {c for c, v in enumerate(st["mapMeasured"]) if v}
            assert measured == snake_cells(k, shape), f"cells filled out of snake order at k={k}"
            if 2 * shape[1] < k < n - 4 and not seen_partial:
                seen_partial = True
                shot(page, "run-view-live-grid")
        if k == n:
            break
        time.sleep(0.05)
    assert seen_partial, "never saw the map part-filled (scan too fast?)"
    beamline.join()

    st = wait_stats(page, lambda s: s["mapFilled"] == n and s["rows"] == n, what="full map")
    page.get_by_test_id("status").filter(has_text="success").wait_for()
    line = page.get_by_test_id("line-panel").first
    assert line.get_attribute("data-points") == str(n)
    assert page.get_by_test_id("progress-text").inner_text().startswith(f"{n} / {n}")
    assert "Fe foil" in page.get_by_test_id("run-view").inner_text()

    # the map API agrees with what the page shows
    m = httpx.get(f"{server.url}/api/v1/runs/{uid}/maps/pd-spot0", timeout=10).json()
    assert m["shape"] == list(shape) and m["measured"] == n
    sx = np.array(httpx.get(f"{server.url}/api/v1/runs/{uid}/maps/sx", timeout=10).json()["data"])
    assert (np.diff(sx, axis=1) > 0).all(), "snaking not undone in the map API"

    # the second tab sees the same
    st2 = wait_stats(tab2, lambda s: s["mapFilled"] == n and s["rows"] == n, what="tab 2 full map")
    assert st2["mapMeasured"] == st["mapMeasured"]
    assert tab2.get_by_test_id("line-panel").first.get_attribute("data-points") == str(n)

    # the document log, filterable by type
    log = page.get_by_test_id("log-list")
    assert log.locator("li[data-name=stop]").count() == 1
    page.get_by_test_id("log-event").uncheck()
    assert log.locator("li[data-name=event]").count() == 0
    page.get_by_test_id("log-event").check()
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "run-view-grid")

    # an archived run renders identically (fresh page, data from the archive)
    tab3 = page_factory()
    tab3.goto(f"{server.url}/#/runs/{uid}")
    st3 = wait_stats(tab3, lambda s: s["mapFilled"] == n and s["rows"] == n, what="archived full map")
    assert st3["mapMeasured"] == st["mapMeasured"]
    tab3.get_by_test_id("status").filter(has_text="success").wait_for()
    time.sleep(0.5)
    for p in (page, tab3):
        p.mouse.move(0, 0)  # no hover tooltip
    a = png_pixels(page.get_by_test_id("map-panel").locator("canvas").first.screenshot())
    b = png_pixels(tab3.get_by_test_id("map-panel").locator("canvas").first.screenshot())
    assert a.shape == b.shape
    a, b = a[2:-2, 2:-2], b[2:-2, 2:-2]  # the canvas edge row depends on sub-pixel layout
    diff = np.abs(a.astype(int) - b.astype(int)).max(axis=-1) > 8
    if diff.any():
        ys, xs = np.nonzero(diff)
        print("map pixel differences in box", ys.min(), ys.max(), xs.min(), xs.max(), "of", a.shape)
        from PIL import Image
        Image.fromarray(a).save("/tmp/map_live.png")
        Image.fromarray(b).save("/tmp/map_archived.png")
    differing = diff.mean()
    assert differing < 0.001, f"the archived run's map differs from the live one in {differing:.1%} of pixels"
    for p in (page, tab2, tab3):
        assert not p.js_errors, p.js_errors

    # the runs list: the run is there, finished, and the filters work
    page.get_by_test_id("follow").uncheck()
    page.goto(server.url + "/#/")
    row = page.locator(f"[data-testid=run-row][data-uid='{uid}']")
    row.wait_for()
    assert "success" in row.inner_text() and "grid_scan" in row.inner_text()
    shot(page, "runs-list")
    page.get_by_test_id("f-q").fill("no-such-sample")
    page.get_by_test_id("f-q").press("Enter")
    page.get_by_text("No runs match these filters").wait_for()
    page.get_by_test_id("f-q").fill("Fe foil")
    page.get_by_test_id("f-q").press("Enter")
    row.wait_for()


def test_reconnects_and_catches_up_after_server_restart(server, beamline, page_factory):
    shape = (5, 8)
    n = shape[0] * shape[1]
    page = page_factory()
    page.goto(server.url + "/")
    beamline.run_async("snake_grid", shape=shape, exposure=0.1)
    page.get_by_test_id("run-view").wait_for(timeout=20_000)
    wait_stats(page, lambda s: 3 <= s["rows"] < n - 10, what="a few points")
    server.stop()  # the Publisher retries with backoff; the scan goes on
    page.get_by_test_id("run-conn").filter(has_text="disconnected").wait_for(timeout=10_000)
    shot(page, "run-view-disconnected", page.locator(".run-header"))
    time.sleep(1.0)
    server.start()
    beamline.join()
    st = wait_stats(page, lambda s: s["mapFilled"] == n and s["rows"] == n and s["connection"] == "open",
                    timeout=40, what="catch-up after restart")
    assert st["snapshots"] >= 2
    assert {c for c, v in enumerate(st["mapMeasured"]) if v} == set(range(n))
    assert page.get_by_test_id("line-panel").first.get_attribute("data-points") == str(n)


def test_spiral_scatter_line_scan_and_errors(server, beamline, page_factory):
    page = page_factory()
    page.goto(server.url + "/")
    beamline.run("spiral", dr=1.0)
    page.get_by_test_id("run-view").wait_for()
    uid = page.get_by_test_id("run-view").get_attribute("data-uid")
    npts = httpx.get(f"{server.url}/api/v1/runs/{uid}", timeout=10).json()["events"]
    st = wait_stats(page, lambda s: s["rows"] == npts and s["scatterPoints"] == npts, what="spiral points")
    assert page.get_by_test_id("map-panel").count() == 0
    page.get_by_test_id("status").filter(has_text="success").wait_for()
    shot(page, "run-view-spiral")
    # the maps API refuses a non-grid run with a reason
    r = httpx.get(f"{server.url}/api/v1/runs/{uid}/maps/pd-spot0", timeout=10)
    assert r.status_code == 404 and "not a grid scan" in r.json()["detail"]

    # a line scan: one panel per hinted field, x = the scanned motor; user choices apply
    beamline.run("line", num=15, area_detector=False)
    page.wait_for_function(f"() => window.__beamwatch.run && window.__beamwatch.run !== '{uid}' && window.__beamwatch.rows === 15")
    panels = page.get_by_test_id("line-panel")
    assert panels.count() >= 1
    assert page.get_by_test_id("x-select").input_value() == "sx"
    before = panels.count()
    first = panels.first.get_attribute("data-field")
    page.get_by_test_id(f"y-{first}").uncheck()
    assert panels.count() == before - 1
    page.get_by_test_id(f"y-{first}").check()
    page.get_by_test_id("monitor-select").select_option("pd-total")
    page.get_by_test_id("log-scale").check()
    assert "/ pd-total" in panels.first.inner_text()
    shot(page, "run-view-line")

    # an unknown run shows a message, not a blank page
    page.get_by_test_id("follow").uncheck()
    page.goto(server.url + "/#/runs/doesnotexist")
    err = page.get_by_test_id("run-error")
    err.wait_for()
    assert "no run matches" in err.inner_text()
    assert not page.js_errors, page.js_errors

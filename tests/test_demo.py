"""Demo mode: ``beamwatch demo`` (a real subprocess) presets ROIs and starts scans on demand."""

from __future__ import annotations

import subprocess

import httpx
import pytest
from fastapi.testclient import TestClient

from beamwatch.config import Settings
from beamwatch.server.app import create_app
from helpers import BEAMWATCH, free_port, wait_for


@pytest.fixture
def demo(tmp_path):
    port = free_port()
    log = open(tmp_path / "demo.log", "wb")
    proc = subprocess.Popen([BEAMWATCH, "demo", "--no-loop", "--rate", "0", "--port", str(port),
                             "--data-dir", str(tmp_path / "data"), "--log-level", "warning"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up():
        assert proc.poll() is None, (tmp_path / "demo.log").read_text()
        try:
            return httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(up, 60, 0.1, what="beamwatch demo to answer")
        yield url
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def test_demo_presets_rois_and_launches_a_snake_scan_whose_roi_maps_fill(demo):
    health = httpx.get(f"{demo}/api/v1/health").json()
    assert health["demo"] is True
    rois = httpx.get(f"{demo}/api/v1/rois/det-image").json()
    assert [r["name"] for r in rois] == ["roi1", "roi2", "roi3"]
    assert all(r["width"] > 0 and r["height"] > 0 for r in rois)

    r = httpx.post(f"{demo}/api/v1/demo/scans", json={"kind": "no-such-scan"})
    assert r.status_code == 422 and "snake_grid" in r.json()["detail"]
    r = httpx.post(f"{demo}/api/v1/demo/scans", json={"kind": "snake_grid"})
    assert r.status_code == 202 and r.json() == {"queued": "snake_grid"}

    def finished():
        runs = httpx.get(f"{demo}/api/v1/runs").json()["runs"]
        return runs and runs[0]["status"] == "success" and runs[0]
    run = wait_for(finished, 120, 0.2, what="the demo snake scan to finish")
    assert run["plan_name"] == "grid_scan" and run["events"] == run["num_points"]

    def filled(name):
        body = httpx.get(f"{demo}/api/v1/runs/{run['uid']}/maps/{name}").json()
        return body.get("measured") == run["num_points"] and body
    maps = {n: wait_for(lambda n=n: filled(n), 60, 0.2, what=f"map {n}") for n in
            ("roi1", "roi2", "roi3", "total:det-image")}
    # the three spots vary differently across the sample: the ROI maps differ
    assert maps["roi1"]["data"] != maps["roi2"]["data"] != maps["roi3"]["data"]


def test_demo_endpoint_is_404_outside_demo_mode(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        assert client.post("/api/v1/demo/scans", json={"kind": "snake_grid"}).status_code == 404

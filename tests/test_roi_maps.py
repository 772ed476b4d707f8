"""ROI sums and ROI maps end to end: a real RunEngine scan writes SWMR HDF5
frames, its documents go through the HTTP API, and the served maps equal a
NumPy computation on the raw frames, placed by the motor positions."""

from __future__ import annotations

import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from fastapi.testclient import TestClient

from beamwatch import documents as docs
from beamwatch.config import Settings
from beamwatch.server.app import create_app
from beamwatch.sources.simulated import SimulatedBeamline

ROIS = [
    {"name": "roi1", "x": 2, "y": 3, "width": 20, "height": 15},
    {"name": "roi2", "x": 30, "y": 10, "width": 12, "height": 30},
    {"name": "roi3", "x": 45, "y": 40, "width": 10, "height": 8},
]


@pytest.fixture
def setup(tmp_path: Path):
    app = create_app(Settings(data_dir=tmp_path))
    with TestClient(app) as client:
        out: list[dict] = []
        beamline = SimulatedBeamline(tmp_path / "demo", lambda n, d: out.append({"name": n, "doc": d}),
                                     frame_shape=(48, 64), grid_shape=(3, 4), dtype="uint8")
        yield client, beamline, out


def _scan(client, beamline, out, kind, **kw) -> tuple[str, list[dict]]:
    out.clear()
    uid = beamline.run(kind, **kw)
    sent = list(out)
    r = client.post("/api/v1/documents", content=docs.dumps(sent))
    assert r.status_code == 200, r.text
    return uid, [docs.jsonable(x) for x in sent]


def _raw_frames(sent: list[dict], key: str) -> tuple[np.ndarray, int]:
    """All frames of ``key`` straight from the HDF5 file, and frames per point."""
    names = [x["name"] for x in sent]
    if "stream_resource" in names:
        sr = next(x["doc"] for x in sent if x["name"] == "stream_resource" and x["doc"]["data_key"] == key)
        path, dset = sr["uri"].split("localhost", 1)[1], sr["parameters"]["dataset"]
        fpp = 1
    else:
        res = next(x["doc"] for x in sent if x["name"] == "resource")
        path, dset = str(Path(res["root"]) / res["resource_path"]), "/entry/data/data"
        fpp = res["resource_kwargs"]["frame_per_point"]
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        data = f[dset][:]
    return data.reshape((-1,) + data.shape[-2:]), fpp


def _expected_maps(sent, key, start) -> dict[str, np.ndarray]:
    """Sum per ROI and total per point, placed on the grid by the motor positions."""
    frames, fpp = _raw_frames(sent, key)
    (y0, y1), (x0, x1) = start["extents"]
    ny, nx = start["shape"]
    desc = next(x["doc"]["uid"] for x in sent if x["name"] == "descriptor" and x["doc"]["name"] == "primary")
    events = [x["doc"] for x in sent if x["name"] == "event" and x["doc"]["descriptor"] == desc]
    maps = {r["name"]: np.full((ny, nx), np.nan) for r in ROIS}
    maps["total"] = np.full((ny, nx), np.nan)
    for ev in events:
        i = int(round((ev["data"]["sy"] - y0) / (y1 - y0) * (ny - 1)))
        j = int(round((ev["data"]["sx"] - x0) / (x1 - x0) * (nx - 1)))
        k = ev["seq_num"] - 1
        point = frames[k * fpp:(k + 1) * fpp].astype(np.int64)
        for r in ROIS:
            maps[r["name"]][i, j] = point[:, r["y"]:r["y"] + r["height"], r["x"]:r["x"] + r["width"]].sum()
        maps["total"][i, j] = point.sum()
    return maps


def _served(client, uid, name) -> np.ndarray:
    r = client.get(f"/api/v1/runs/{uid}/maps/{name}")
    assert r.status_code == 200, r.text
    body = r.json()
    return np.array([[np.nan if v is None else v for v in row] for row in body["data"]], dtype=float)


@pytest.mark.parametrize("kind,kw,key", [
    ("snake_grid", {}, "det-image"),
    ("grid", {}, "det-image"),
    ("ophyd_v1", {"shape": (3, 4), "frame_per_point": 1, "snake": True}, "v1det_image"),
    ("ophyd_v1", {"shape": (3, 4), "frame_per_point": 3, "snake": False}, "v1det_image"),
])
def test_roi_maps_equal_numpy_on_raw_frames(setup, kind, kw, key):
    client, beamline, out = setup
    assert client.put(f"/api/v1/rois/{key}", json=ROIS).status_code == 200
    uid, sent = _scan(client, beamline, out, kind, **kw)
    start = sent[0]["doc"]
    expected = _expected_maps(sent, key, start)
    assert not np.isnan(expected["total"]).any()
    for r in ROIS:
        np.testing.assert_array_equal(_served(client, uid, r["name"]), expected[r["name"]])
    np.testing.assert_array_equal(_served(client, uid, f"total:{key}"), expected["total"])
    # the three ROI maps differ (the simulated sample is worth mapping)
    assert not np.array_equal(expected["roi1"], expected["roi2"])


def test_changing_rois_recomputes_over_the_run(setup):
    client, beamline, out = setup
    client.put("/api/v1/rois/det-image", json=ROIS[:1])
    uid, sent = _scan(client, beamline, out, "snake_grid")
    first = _served(client, uid, "roi1")
    moved = [{**ROIS[0], "x": 30}]
    assert client.put("/api/v1/rois/det-image", json=moved).status_code == 200
    frames, _ = _raw_frames(sent, "det-image")
    again = _served(client, uid, "roi1")
    assert not np.array_equal(first, again)
    assert np.nansum(again) == frames[:, 3:18, 30:50].astype(np.int64).sum()


def test_unknown_roi_and_bad_rois_have_clear_errors(setup):
    client, beamline, out = setup
    uid, _ = _scan(client, beamline, out, "snake_grid")
    r = client.get(f"/api/v1/runs/{uid}/maps/nope")
    assert r.status_code == 404 and "total:det-image" in r.json()["detail"]
    r = client.put("/api/v1/rois/det-image", json=[{"name": "a", "x": 60, "y": 0, "width": 10, "height": 5}])
    assert r.status_code == 422 and "outside the frame" in r.json()["detail"]
    r = client.put("/api/v1/rois/det-image", json=[{"name": "a", "x": 0, "y": 0, "width": 0, "height": 5}])
    assert r.status_code == 422


def test_missing_file_is_a_clear_error_and_other_data_keep_flowing(setup, tmp_path):
    client, beamline, out = setup
    uid, sent = _scan(client, beamline, out, "snake_grid")
    sr = next(x["doc"] for x in sent if x["name"] == "stream_resource" and x["doc"]["data_key"] == "det-image")
    Path(sr["uri"].split("localhost", 1)[1]).unlink()
    client.app.state.frames.reader.close()
    r = client.get(f"/api/v1/runs/{uid}/streams/primary/frames/det-image/1?format=png")
    assert r.status_code == 404 and "not found" in r.json()["detail"]
    # scalar data of the same run are still served
    r = client.get(f"/api/v1/runs/{uid}/maps/pd-spot0")
    assert r.status_code == 200 and r.json()["measured"] == 12


def test_file_outside_allowed_roots_is_refused(tmp_path):
    import event_model

    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    with h5py.File(elsewhere / "x.h5", "w") as f:
        f["/entry/data/data"] = np.zeros((1, 4, 4), dtype=np.uint8)
    app = create_app(Settings(data_dir=tmp_path / "data"))
    with TestClient(app) as client:
        run = event_model.compose_run()
        desc = run.compose_descriptor(name="primary", data_keys={
            "cam": {"dtype": "array", "shape": [1, 4, 4], "source": "x", "external": "STREAM:"}})
        sres = run.compose_stream_resource(mimetype="application/x-hdf5", uri=f"file://localhost{elsewhere}/x.h5",
                                           data_key="cam", parameters={"dataset": "/entry/data/data"})
        sdat = sres.compose_stream_datum(indices={"start": 0, "stop": 1}, seq_nums={"start": 1, "stop": 2})
        sdat["descriptor"] = desc.descriptor_doc["uid"]
        items = [("start", run.start_doc), ("descriptor", desc.descriptor_doc),
                 ("stream_resource", sres.stream_resource_doc), ("stream_datum", sdat),
                 ("event", desc.compose_event(data={}, timestamps={}, seq_num=1, filled={}))]
        r = client.post("/api/v1/documents", json=[{"name": n, "doc": d} for n, d in items])
        assert r.status_code == 200, r.text
        r = client.get(f"/api/v1/runs/{run.start_doc['uid']}/streams/primary/frames/cam/1")
        assert r.status_code == 403 and "allowed" in r.json()["detail"]


def _recv_roisums(ws, want, timeout: float = 30.0) -> dict:
    """Read live-channel messages until ``want(state)``; state = {field: {name: {seq: value}}}, errors, resets."""
    import msgpack
    import threading

    state: dict = {"sums": {}, "resets": 0, "detectors": None, "rois": None}
    deadline = time.monotonic() + timeout
    timer = threading.Timer(timeout, ws.close)  # never hang the suite on a missing message
    timer.start()
    try:
        while time.monotonic() < deadline:
            m = msgpack.unpackb(ws.receive_bytes(), raw=False)
            if m["t"] == "snapshot" and m["stages"].get("rois"):
                state["detectors"] = m["stages"]["rois"]["detectors"]
            elif m["t"] == "detectors":
                state["detectors"] = m["detectors"]
            elif m["t"] == "roisums":
                field = state["sums"].setdefault(m["field"], {})
                if m["reset"]:
                    field.clear()
                    state["resets"] += 1
                seqs = np.frombuffer(m["seq"], dtype="<i4")
                for name, raw in m["values"].items():
                    vals = np.frombuffer(raw, dtype="<f8")
                    field.setdefault(name, {}).update(zip(seqs.tolist(), vals.tolist()))
                state["rois"] = m["rois"]
            if want(state):
                return state
    finally:
        timer.cancel()
    raise AssertionError(f"live channel never reached the wanted state: {state}")


def test_live_channel_carries_roi_sums_equal_to_numpy_and_resets_on_roi_change(setup):
    client, beamline, out = setup
    assert client.put("/api/v1/rois/det-image", json=ROIS).status_code == 200
    uid, sent = _scan(client, beamline, out, "snake_grid")
    frames, _ = _raw_frames(sent, "det-image")
    frames = frames.astype(np.int64)
    n = len(frames)
    with client.websocket_connect(f"/api/v1/live/runs/{uid}") as ws:
        st = _recv_roisums(ws, lambda s: len(s["sums"].get("det-image", {}).get("total:det-image", {})) == n)
        assert st["detectors"] == {"det-image": {"stream": "primary", "shape": [48, 64], "dtype": st["detectors"]["det-image"]["dtype"]}}
        sums = st["sums"]["det-image"]
        assert set(sums) == {"roi1", "roi2", "roi3", "total:det-image"}
        for r in ROIS:
            want = {k + 1: float(f[r["y"]:r["y"] + r["height"], r["x"]:r["x"] + r["width"]].sum())
                    for k, f in enumerate(frames)}
            assert sums[r["name"]] == want
        assert sums["total:det-image"] == {k + 1: float(f.sum()) for k, f in enumerate(frames)}
        # a new ROI set: the client is told to reset, then gets the recomputed sums
        moved = [{"name": "spot", "x": 30, "y": 3, "width": 20, "height": 15}]
        assert client.put("/api/v1/rois/det-image", json=moved).status_code == 200
        st = _recv_roisums(ws, lambda s: len(s["sums"].get("det-image", {}).get("spot", {})) == n)
        assert st["rois"] == moved and st["resets"] >= 1 and "roi1" not in st["sums"]["det-image"]
        assert st["sums"]["det-image"]["spot"] == {k + 1: float(f[3:18, 30:50].sum()) for k, f in enumerate(frames)}


def test_health_says_whether_demo_mode_is_on(setup):
    client, _, _ = setup
    assert client.get("/api/v1/health").json()["demo"] is False

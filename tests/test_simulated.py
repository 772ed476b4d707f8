"""The simulated beamline: real RunEngine, real ophyd-async/ophyd devices, real HDF5."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

pytest.importorskip("bluesky")
pytest.importorskip("ophyd_async")
pytest.importorskip("ophyd")

import event_model  # noqa: E402
import h5py  # noqa: E402

from beamwatch.sources.simulated import SimulatedBeamline  # noqa: E402

FRAME = (64, 80)


class Recorder:
    def __init__(self):
        self.docs: list[tuple[str, dict]] = []
        self.lock = threading.Lock()

    def __call__(self, name, doc):
        with self.lock:
            self.docs.append((name, doc))

    def run_docs(self, uid: str) -> list[tuple[str, dict]]:
        """The documents of the run whose start uid is ``uid``, in order."""
        with self.lock:
            docs = list(self.docs)
        i = next(i for i, (n, d) in enumerate(docs) if n == "start" and d["uid"] == uid)
        out = []
        for n, d in docs[i:]:
            out.append((n, d))
            if n == "stop":
                break
        assert out[-1][0] == "stop", "run has no stop document"
        return out


@pytest.fixture(scope="module")
def rec():
    return Recorder()


@pytest.fixture(scope="module")
def beamline(tmp_path_factory, rec):
    return SimulatedBeamline(
        tmp_path_factory.mktemp("sim"), rec, frame_shape=FRAME, grid_shape=(6, 7), seed=1
    )


def _validate_all(docs):
    for name, doc in docs:
        event_model.schema_validators[event_model.DocumentNames[name]].validate(doc)


def _of(docs, name):
    return [d for n, d in docs if n == name]


def _primary(docs):
    return [d for d in _of(docs, "descriptor") if d["name"] == "primary"]


def events_all(docs):
    return _of(docs, "event")


def _events(docs):
    (desc,) = _primary(docs)
    return [e for e in _of(docs, "event") if e["descriptor"] == desc["uid"]]


def _uri_path(uri: str) -> Path:
    p = urlparse(uri)
    assert p.scheme == "file"
    return Path(p.path)


def test_scan_kinds_and_unknown_kind(beamline):
    assert set(SimulatedBeamline.SCAN_KINDS) >= {"line", "snake_grid", "grid", "spiral", "ophyd_v1"}
    with pytest.raises(ValueError):
        beamline.run("nonsense")
    with pytest.raises(TypeError):
        beamline.run("grid", bogus=1)


def test_snake_grid_documents_and_swmr_file(beamline, rec):
    uid = beamline.run("snake_grid", shape=(4, 5))
    docs = rec.run_docs(uid)
    _validate_all(docs)

    (start,) = _of(docs, "start")
    assert list(start["shape"]) == [4, 5]
    assert start["num_points"] == 20
    assert [list(e) for e in start["extents"]] == [[-5.0, 5.0], [-5.0, 5.0]]
    assert list(start["snaking"]) == [False, True]
    dims = start["hints"]["dimensions"]
    assert [list(f) for f, _ in dims] == [["sy"], ["sx"]]
    assert start["beamwatch_sim"]["kind"] == "snake_grid"

    (desc,) = _primary(docs)
    dk = desc["data_keys"]
    assert dk["det-image"]["external"] == "STREAM:"
    assert dk["det-image"]["shape"][-2:] == list(FRAME)
    assert dk["det-image"]["dtype_numpy"] == "<u2"
    assert "det-image" in desc["hints"]["det"]["fields"]
    assert {"pd-spot0", "pd-spot1", "pd-spot2"} <= set(desc["hints"]["pd"]["fields"])

    events = _events(docs)
    assert [e["seq_num"] for e in events] == list(range(1, 21))
    xs = np.array([e["data"]["sx"] for e in events]).reshape(4, 5)
    ys = np.array([e["data"]["sy"] for e in events]).reshape(4, 5)
    np.testing.assert_allclose(xs[0], np.linspace(-5, 5, 5))
    np.testing.assert_allclose(xs[1], np.linspace(5, -5, 5))  # snaked row
    np.testing.assert_allclose(ys[:, 0], np.linspace(-5, 5, 4))

    resources = {r["uid"]: r for r in _of(docs, "stream_resource")}
    assert {r["data_key"] for r in resources.values()} == {"det-image", "det-sum"}
    covered: dict[str, list[int]] = {"det-image": [], "det-sum": []}
    for sd in _of(docs, "stream_datum"):
        assert sd["descriptor"] == desc["uid"]
        r = resources[sd["stream_resource"]]
        covered[r["data_key"]].extend(range(sd["indices"]["start"], sd["indices"]["stop"]))
    assert covered["det-image"] == list(range(20))
    assert covered["det-sum"] == list(range(20))

    img_res = next(r for r in resources.values() if r["data_key"] == "det-image")
    path = _uri_path(img_res["uri"])
    assert path.is_file()
    assert path.is_relative_to(beamline.data_dir)
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        frames = f[img_res["parameters"]["dataset"]][()]
        sums = f["/entry/sum"][()]
    assert frames.shape == (20, *FRAME)
    assert frames.dtype == np.uint16
    np.testing.assert_array_equal(sums, frames.reshape(20, -1).sum(axis=1))

    # Three ROIs -> three different maps, each tracking its spot's point-detector value.
    rois = beamline.sample.rois()
    assert len(rois) == 3
    maps = []
    for k, (r0, r1, c0, c1) in enumerate(rois):
        roi = frames[:, r0:r1, c0:c1].reshape(20, -1).sum(axis=1).astype(float)
        pd = np.array([e["data"][f"pd-spot{k}"] for e in events])
        assert np.corrcoef(roi, pd)[0, 1] > 0.95
        assert roi.max() > 1.5 * roi.min()
        maps.append(roi)
    for a in range(3):
        for b in range(a + 1, 3):
            assert abs(np.corrcoef(maps[a], maps[b])[0, 1]) < 0.9

    (stop,) = _of(docs, "stop")
    assert stop["exit_status"] == "success"
    assert stop["num_events"]["primary"] == 20


def test_plain_grid_and_spiral(beamline, rec):
    uid = beamline.run("grid", shape=(3, 4))
    docs = rec.run_docs(uid)
    _validate_all(docs)
    (start,) = _of(docs, "start")
    assert list(start["snaking"]) == [False, False]
    xs = [e["data"]["sx"] for e in _events(docs)]
    np.testing.assert_allclose(xs[4:8], np.linspace(-5, 5, 4))  # not snaked

    uid = beamline.run("spiral", dr=1.0)
    docs = rec.run_docs(uid)
    _validate_all(docs)
    events = _events(docs)
    assert len(events) > 10
    pts = {(round(e["data"]["sx"], 6), round(e["data"]["sy"], 6)) for e in events}
    assert len({x for x, _ in pts}) > 5 and len({y for _, y in pts}) > 5  # not a grid line
    assert all(-5 <= x <= 5 and -5 <= y <= 5 for x, y in pts)
    assert [list(e) for e in _of(docs, "start")[0]["extents"]] == [[-5, 5], [-5, 5]]
    assert _of(docs, "stop")[0]["exit_status"] == "success"


def test_line_scan_hints(beamline, rec):
    uid = beamline.run("line", num=7, area_detector=False)
    docs = rec.run_docs(uid)
    _validate_all(docs)
    (start,) = _of(docs, "start")
    assert [list(f) for f, _ in start["hints"]["dimensions"]] == [["sx"]]
    assert start["num_points"] == 7
    (desc,) = _primary(docs)
    assert desc["hints"]["pd"]["fields"] == ["pd-spot0", "pd-spot1", "pd-spot2"]
    assert desc["hints"]["sx"]["fields"] == ["sx"]
    events = _events(docs)
    assert len(events) == 7
    assert all("sy" not in e["data"] for e in events)
    baseline = [d for d in _of(docs, "descriptor") if d["name"] == "baseline"]
    assert len(baseline) == 1
    base_events = [e for e in events_all(docs) if e["descriptor"] == baseline[0]["uid"]]
    assert len(base_events) == 2
    assert all(e["data"]["sy"] == pytest.approx(0.5) for e in base_events)
    spot1 = [e["data"]["pd-spot1"] for e in events]
    assert len(set(spot1)) == 7
    assert not _of(docs, "stream_resource")


@pytest.mark.parametrize("fpp", [1, 3])
def test_ophyd_v1_resource_datum(beamline, rec, fpp):
    uid = beamline.run("ophyd_v1", num=4, frame_per_point=fpp)
    docs = rec.run_docs(uid)
    _validate_all(docs)
    (resource,) = _of(docs, "resource")
    assert resource["spec"] == "AD_HDF5"
    assert resource["resource_kwargs"] == {"frame_per_point": fpp}
    assert resource["run_start"] == uid
    datums = _of(docs, "datum")
    assert [d["datum_kwargs"] for d in datums] == [{"point_number": i} for i in range(4)]
    assert all(d["resource"] == resource["uid"] for d in datums)
    (desc,) = _primary(docs)
    assert desc["data_keys"]["v1det_image"]["external"].startswith("FILESTORE")
    events = _events(docs)
    assert [e["data"]["v1det_image"] for e in events] == [d["datum_id"] for d in datums]

    path = Path(resource["root"]) / resource["resource_path"]
    assert path.is_relative_to(beamline.data_dir)
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        data = f["/entry/data/data"]
        assert data.shape == (4 * fpp, *FRAME)
        last = data[(4 - 1) * fpp : 4 * fpp]
    assert last.shape == (fpp, *FRAME)
    assert last.max() > 100


def test_runs_from_two_threads_do_not_interleave(beamline, rec):
    uids: list[str] = []
    errors: list[BaseException] = []

    def go(kind, **kw):
        try:
            uids.append(beamline.run(kind, **kw))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [
        threading.Thread(target=go, args=("snake_grid",), kwargs={"shape": (3, 3)}),
        threading.Thread(target=go, args=("line",), kwargs={"num": 5}),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(uids) == 2
    for uid in uids:
        docs = rec.run_docs(uid)
        assert all(
            d.get("run_start", d.get("uid")) == uid
            for n, d in docs
            if n in ("start", "descriptor", "stop", "stream_resource")
        )


def test_run_forever_stops_mid_scan(beamline, rec):
    stop = threading.Event()
    n_before = len(rec.docs)
    th = threading.Thread(
        target=beamline.run_forever,
        args=(stop,),
        kwargs={"kinds": ["snake_grid"], "pause": 0.1},
        daemon=True,
    )
    th.start()
    deadline = time.monotonic() + 10
    # Wait for the first *primary* event (baseline events come earlier).
    while (
        not any(n == "event" and "pd-spot0" in d["data"] for n, d in rec.docs[n_before:])
        and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    stop.set()
    th.join(10)
    assert not th.is_alive()
    docs = rec.docs[n_before:]
    stops = _of(docs, "stop")
    assert stops and stops[-1]["exit_status"] == "success"
    # It was ended at a checkpoint, not run to completion (6 x 7 = 42 points).
    assert 0 < stops[-1]["num_events"]["primary"] < 42
    assert len(_of(docs, "start")) == len(stops)

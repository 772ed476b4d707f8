"""The browser channel WS /api/v1/live/... and the per-run view model behind it."""

from __future__ import annotations

import dataclasses
import time

import msgpack
import numpy as np
import pytest

from _live_helpers import client, grid_run, line_run, post
from beamwatch.analysis import RunModel, Stage, register, unregister
from beamwatch.hub import Accepted
from beamwatch import documents as docs


def accepted(items, first_id=1):
    return [Accepted(first_id + k, "run", n, docs.dumps(d)) for k, (n, d) in enumerate(items)]


def recv(ws):
    return msgpack.unpackb(ws.receive_bytes(), raw=False)


def f8(b):
    return np.frombuffer(b, dtype="<f8")


def collect(ws, until, limit=200, state=None):
    """Receive messages until ``until(state)``; return state (rows per field, cells, docs, types)."""
    state = state or {"rows": {}, "seq": [], "cells": [], "docs": [], "types": [], "frames": 0}
    for _ in range(limit):
        m = recv(ws)
        state["frames"] += 1
        state["types"].append(m["t"])
        if m["t"] == "rows" and m["stream"] == "primary":
            assert m["start"] == len(state["seq"]), "rows must be contiguous"
            state["seq"] += np.frombuffer(m["seq_num"], "<i4").tolist()
            for f, b in m["cols"].items():
                state["rows"].setdefault(f, []).extend(f8(b).tolist())
        elif m["t"] == "cells":
            assert m["start"] == len(state["cells"])
            state["cells"] += np.frombuffer(m["idx"], "<i4").tolist()
        elif m["t"] == "docs":
            state["docs"] += m["items"]
        if until(state):
            return state
    raise AssertionError(f"condition not reached; got {state['types'][-20:]}")


def test_snapshot_then_rows_and_cells(tmp_path):
    uid, items = grid_run((3, 4), snake=True)
    with client(tmp_path) as c:
        post(c, items[:8])  # start, descriptor, 6 events
        with c.websocket_connect(f"/api/v1/live/runs/{uid}") as ws:
            snap = recv(ws)
            assert snap["t"] == "snapshot" and snap["uid"] == uid
            assert snap["summary"]["status"] == "running"
            run = snap["stages"]["run"]
            assert run["layout"]["kind"] == "grid" and run["layout"]["grid"]["shape"] == [3, 4]
            assert run["start"]["sample"] == "Fe foil"
            st = collect(ws, lambda s: len(s["cells"]) == 6 and len(s["seq"]) == 6)
            assert st["rows"]["det"] == [0, 1, 2, 3, 103, 102]
            assert st["cells"] == [0, 1, 2, 3, 7, 6]  # snake order on a 3x4 grid
            assert "name" not in st["rows"]  # strings are not columns
            # live increments: only the new rows, contiguous
            post(c, items[8:])
            st["types"] = []
            st = collect(ws, lambda s: len(s["cells"]) == 12 and any(d["name"] == "stop" for d in s["docs"]), state=st)
            assert st["cells"] == [0, 1, 2, 3, 7, 6, 5, 4, 8, 9, 10, 11]
            assert st["rows"]["det"] == [0, 1, 2, 3, 103, 102, 101, 100, 200, 201, 202, 203]
            st2 = st
            assert "run" in st2["types"]  # the stop document updates the run header


def test_late_joiner_gets_everything_from_archive(tmp_path):
    uid, items = line_run(n=50)
    with client(tmp_path) as c:
        post(c, items)
        with c.websocket_connect(f"/api/v1/live/runs/{uid[:10]}") as ws:
            snap = recv(ws)
            assert snap["stages"]["run"]["layout"]["kind"] == "line"
            assert "grid" not in snap["stages"]
            st = collect(ws, lambda s: len(s["seq"]) == 50)
            assert st["rows"]["det"] == [float(s * s) for s in range(1, 51)]
            assert st["seq"] == list(range(1, 51))


def test_scatter_layout_for_non_grid_2d(tmp_path):
    uid, items = line_run(n=5, motors=("sx", "sy"), dims=[[["sx"], "primary"], [["sy"], "primary"]])
    with client(tmp_path) as c:
        post(c, items)
        with c.websocket_connect(f"/api/v1/live/runs/{uid}") as ws:
            layout = recv(ws)["stages"]["run"]["layout"]
            assert layout == {"kind": "scatter", "axes": ["sx", "sy"]}


def test_unknown_run_is_a_clear_error(tmp_path):
    with client(tmp_path) as c:
        with c.websocket_connect("/api/v1/live/runs/deadbeef") as ws:
            m = recv(ws)
            assert m["t"] == "error" and m["code"] == 404 and "no run matches" in m["detail"]


def test_runs_channel_announces_new_runs_and_stops(tmp_path):
    uid, items = grid_run((2, 2), stop=False)
    with client(tmp_path) as c:
        with c.websocket_connect("/api/v1/live/runs") as ws:
            assert recv(ws)["t"] == "hello"
            post(c, items)
            m = recv(ws)
            assert m["t"] == "runs" and m["runs"][0]["uid"] == uid and m["runs"][0]["status"] == "running"
            post(c, [("stop", {"uid": "s-" + uid, "run_start": uid, "time": time.time(),
                               "exit_status": "abort", "reason": "beam lost"})])
            for _ in range(5):
                m = recv(ws)
                if m["runs"][0]["status"] != "running":
                    break
            assert m["runs"][0]["status"] == "abort" and m["runs"][0]["reason"] == "beam lost"


# ------------------------------------------------------------ model level
def test_coalescing_slow_client_gets_one_batch_and_shares_encoding():
    uid, items = grid_run((10, 10), snake=True)
    model = RunModel(uid)
    model.feed(accepted(items[:2]))
    frames, cur_slow = model.frames({})
    # 100 events arrive one by one while the slow client is busy
    for k, it in enumerate(items[2:-1]):
        model.feed(accepted([it], first_id=3 + k))
    frames, cur = model.frames(cur_slow)
    msgs = [msgpack.unpackb(f) for f in frames]
    rows = [m for m in msgs if m["t"] == "rows"]
    assert len(rows) == 1 and rows[0]["n"] == 100  # one coalesced update, not 100
    cells = [m for m in msgs if m["t"] == "cells"]
    assert len(cells) == 1 and cells[0]["n"] == 100
    logs = [m for m in msgs if m["t"] == "docs"]
    assert len(logs[0]["items"]) <= 300
    # a second client at the same cursor gets the very same encoded bytes (encode once)
    frames2, _ = model.frames(cur_slow)
    assert all(a is b for a, b in zip(frames, frames2))
    # up to date: nothing to send
    assert model.frames(cur)[0] == []


def test_document_log_bounded_when_far_behind():
    uid, items = line_run(n=1000)
    model = RunModel(uid)
    model.feed(accepted(items))
    frames, _ = model.frames({})
    log = [msgpack.unpackb(f) for f in frames if msgpack.unpackb(f)["t"] == "docs"][0]
    assert len(log["items"]) == 300 and log["skipped"] == len(items) - 300
    assert log["items"][-1]["name"] == "stop"


def test_registered_stage_gets_documents_and_sends_its_own_messages():
    @register("test_sum", order=50)
    class Sum(Stage):
        def __init__(self, run):
            super().__init__(run)
            self.total = 0.0

        def event_page(self, doc):
            self.total += float(sum(doc["data"].get("det", [])))
            self.touch()

        def snapshot(self):
            return {"total": self.total}

        def delta(self, cursor):
            if cursor == self.version:
                return [], cursor
            return [{"t": "test_sum", "total": self.total}], self.version

    try:
        uid, items = line_run(n=4)
        model = RunModel(uid)
        model.feed(accepted(items))
        assert model.snapshot()["stages"]["test_sum"] == {"total": 1 + 4 + 9 + 16}
        msgs = [msgpack.unpackb(f) for f in model.frames({})[0]]
        assert {"t": "test_sum", "total": 30.0} in msgs
    finally:
        unregister("test_sum")


def test_model_skips_replayed_ids():
    uid, items = line_run(n=3)
    model = RunModel(uid)
    acc = accepted(items)
    model.feed(acc[:4])
    model.feed(acc)  # overlap, as a resync may deliver
    assert model.stage("columns").streams["primary"].n == 3


def test_model_eviction(tmp_path):
    with client(tmp_path) as c:
        service = c.app.state.live
        service.max_models = 2
        uids = []
        for k in range(4):
            uid, items = line_run(n=2)
            post(c, items)
            uids.append(uid)
            assert c.get(f"/api/v1/runs/{uid}/maps/det").status_code == 404  # opens the model
        assert len(service.handles) == 2 and list(service.handles) == uids[-2:]


def test_closed_client_releases_its_state(tmp_path):
    uid, items = line_run(n=3)
    with client(tmp_path) as c:
        post(c, items)
        with c.websocket_connect(f"/api/v1/live/runs/{uid}") as ws:
            recv(ws)
            h = c.app.state.live.handles[uid]
            assert h.clients == 1
        for _ in range(100):
            if h.clients == 0:
                break
            time.sleep(0.02)
        assert h.clients == 0

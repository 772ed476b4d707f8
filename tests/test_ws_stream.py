"""WS /api/v1/documents/stream: join mid-run, slow clients, resync."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from helpers import (Beamline, assert_same_documents, make_run, norm_all, post_documents, run_uid, wait_for)
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from beamwatch import documents as docs
from beamwatch.client import Publisher


def read_until_stop(ws, uid: str, timeout: float = 60.0, stops: int = 1):
    """Documents (name, doc) until ``stops`` stop documents of run ``uid``; also the resync notices."""
    got, notices = [], []
    deadline = time.monotonic() + timeout
    while True:
        frame = docs.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if frame["name"] == "beamwatch.resync":
            notices.append(frame["doc"])
            continue
        got.append((frame["name"], frame["doc"]))
        if frame["name"] == "stop" and frame["doc"]["run_start"] == uid:
            stops -= 1
            if not stops:
                return got, notices


def scan_in_background(url: str, num: int, delay: float):
    bl = Beamline()
    pub = Publisher(url, max_latency=0.005)
    bl.RE.subscribe(pub)
    uid_box: dict = {}
    bl.RE.subscribe(lambda n, d: uid_box.setdefault("uid", d["uid"]), "start")
    t = threading.Thread(target=lambda: uid_box.setdefault("done", bl.scan(num, delay=delay)), daemon=True)
    t.start()
    return bl, pub, uid_box, t


@pytest.mark.parametrize("by", ["uid", "prefix", "scan_id", "all"])
def test_join_mid_run_sees_everything_once(server, by):
    bl, pub, box, t = scan_in_background(server.url, 40, 0.02)
    try:
        wait_for(lambda: "uid" in box and server.core.archive.run_row(box["uid"])
                 and server.core.archive.run_row(box["uid"])["n_events"] >= 10, 30, what="10 events archived")
        uid = box["uid"]
        query = {"uid": f"?run={uid}", "prefix": f"?run={uid[:8]}", "scan_id": "?run=1", "all": ""}[by]
        with connect(f"{server.ws_url}/api/v1/documents/stream{query}") as ws:
            assert server.core.archive.run_row(uid)["time_stop"] is None, "joined too late to be mid-run"
            got, notices = read_until_stop(ws, uid)
        t.join(30)
    finally:
        pub.close(10)
    assert not notices
    assert_same_documents(got, norm_all(bl.run_docs(uid)))


def test_two_runs_stream_filters(server):
    a, b = make_run(5), make_run(5)
    with connect(f"{server.ws_url}/api/v1/documents/stream") as ws_all:
        post_documents(server.url, a[:2] + b[:2])
        with connect(f"{server.ws_url}/api/v1/documents/stream?run={run_uid(b)}") as ws_b:
            post_documents(server.url, a[2:] + b[2:])
            got_b, _ = read_until_stop(ws_b, run_uid(b))
        got_all, _ = read_until_stop(ws_all, run_uid(b))
    assert got_b == norm_all(b)
    assert got_all == norm_all(a[:2] + b[:2] + a[2:] + b[2:])


def test_unknown_run_is_refused(server):
    with connect(f"{server.ws_url}/api/v1/documents/stream?run=nosuchrun") as ws:
        with pytest.raises(ConnectionClosed) as exc:
            ws.recv(timeout=10)
    assert exc.value.rcvd.code == 4404
    assert "no run matches" in exc.value.rcvd.reason


def test_slow_client_is_resynced_and_never_blocks_ingest(make_server):
    """A client that stops reading: ingest goes on at full speed; when it reads
    again it gets a resync notice and every document exactly once, in order."""
    srv = make_server(ws_queue_docs=200)
    items = make_run(3000, payload=8000)  # ~24 MB: far more than the socket buffers hold
    uid = run_uid(items)
    with connect(f"{srv.ws_url}/api/v1/documents/stream", max_queue=4, max_size=2**24) as slow, \
            connect(f"{srv.ws_url}/api/v1/documents/stream") as fast:
        # a fast reader in parallel, to show the slow one holds nobody up
        fast_out: dict = {}
        t = threading.Thread(target=lambda: fast_out.setdefault("r", read_until_stop(fast, uid, 120)))
        t.start()
        t0 = time.perf_counter()
        for i in range(0, len(items), 100):
            r = post_documents(srv.url, items[i : i + 100], timeout=20)
            assert r.status_code == 200
        ingest_time = time.perf_counter() - t0
        assert srv.core.archive.run_row(uid)["exit_status"] == "success"
        t.join(120)
        got, notices = read_until_stop(slow, uid, 120)
    assert notices, "the slow client should have been resynchronised"
    assert got == norm_all(items)  # no gap, no duplicate
    fast_got, _ = fast_out["r"]
    assert fast_got == norm_all(items)
    assert ingest_time < 30, f"ingest took {ingest_time:.1f} s with a stalled websocket client"


def test_many_clients_fan_out(server):
    items = make_run(200, page_size=20)
    baseline = server.core.hub.subscribers  # e.g. analysis stages of the server itself
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(connect(f"{server.ws_url}/api/v1/documents/stream")) for _ in range(20)]
        wait_for(lambda: server.core.hub.subscribers >= baseline + 20, 10, what="20 subscribers")
        post_documents(server.url, items)
        for ws in clients:
            got, _ = read_until_stop(ws, run_uid(items))
            assert got == norm_all(items)
    wait_for(lambda: server.core.hub.subscribers == baseline, 10, what="subscriptions to be released")

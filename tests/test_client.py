"""beamwatch.client.Publisher as a RunEngine callback, against real servers."""

from __future__ import annotations

import threading
import time

import pytest
from helpers import (Beamline, ServeProcess, assert_same_documents, free_port, get_documents, get_run, make_run,
                     norm_all, wait_for)

from beamwatch.client import Publisher


def test_runengine_scan_roundtrip(any_server, tmp_path):
    """Every document of real scans (point + HDF5 blob detector) arrives, is
    archived and is served back identical, in order."""
    bl = Beamline(tmp_path / "frames")
    pub = Publisher(any_server.url, max_latency=0.01)
    bl.RE.subscribe(pub)
    uids = [bl.scan(15), bl.scan(6, blob=True, md={"sample": "Si"})]
    pub.close()
    assert not pub.undelivered and not pub.rejected
    for uid in uids:
        emitted = norm_all(bl.run_docs(uid))
        assert_same_documents(get_documents(any_server.url, uid), emitted)
        run = get_run(any_server.url, uid)
        assert run["status"] == "success"
        assert run["events"] == sum(1 for n, _ in emitted if n == "event")
        assert run["seq_gaps"] == 0
    names = {n for n, _ in bl.run_docs(uids[1])}
    assert {"stream_resource", "stream_datum"} <= names
    assert pub.sent == len(bl.emitted)


def test_publisher_retries_until_server_is_up(tmp_path):
    """Documents emitted while the server is down are delivered once it is up."""
    port = free_port()
    srv = ServeProcess(tmp_path / "data", port=port)
    bl = Beamline()
    pub = Publisher(srv.url, max_latency=0.01, flush_timeout=0.5, give_up_after=60)
    bl.RE.subscribe(pub)
    uid = bl.scan(5)  # server down: stop's flush times out, documents stay queued
    assert pub.sent == 0
    srv.start()
    try:
        assert pub.flush(30)
        assert_same_documents(get_documents(srv.url, uid), norm_all(bl.run_docs(uid)))
        assert get_run(srv.url, uid)["status"] == "success"
        assert not pub.undelivered
    finally:
        pub.close(5)
        srv.stop()


def test_publisher_survives_server_restart_mid_scan(tmp_path):
    """Server killed (-9) in the middle of a scan and restarted: the Publisher
    re-sends, nothing is lost, re-delivered documents count as duplicates."""
    srv = ServeProcess(tmp_path / "data").start()
    bl = Beamline()
    pub = Publisher(srv.url, max_latency=0.005, batch_size=5, give_up_after=60)
    bl.RE.subscribe(pub)
    killed = threading.Event()

    def killer():
        wait_for(lambda: pub.sent >= 20, 30, what="some documents delivered")
        srv.kill9()
        time.sleep(0.5)
        srv.start()
        killed.set()

    t = threading.Thread(target=killer)
    t.start()
    try:
        uid = bl.scan(60, delay=0.02)
        t.join(60)
        assert killed.is_set()
        assert pub.flush(30)
        assert not pub.undelivered and not pub.rejected
        assert_same_documents(get_documents(srv.url, uid), norm_all(bl.run_docs(uid)))
        assert get_run(srv.url, uid)["status"] == "success"
    finally:
        pub.close(5)
        srv.stop()


def test_publisher_reports_undeliverable(tmp_path, caplog):
    """Nobody listening: after give_up_after the documents are reported."""
    pub = Publisher(f"http://127.0.0.1:{free_port()}", max_latency=0.0, flush_timeout=5, give_up_after=0.3)
    items = make_run(3)
    with caplog.at_level("ERROR", logger="beamwatch.client"):
        for name, doc in items:
            pub(name, doc)
        assert pub.flush(10)
    pub.close(5)
    assert [n for n, _ in pub.undelivered] == [n for n, _ in items]
    assert pub.sent == 0
    assert any("gave up" in r.getMessage() for r in caplog.records)


def test_publisher_reports_rejections(server):
    """Documents the server refuses are listed in ``rejected`` with the reason;
    the good ones are accepted."""
    items = make_run(3)
    orphan = dict(items[2][1], descriptor="no-such-descriptor", uid="orphan-event")
    pub = Publisher(server.url, max_latency=0.0)
    for name, doc in items[:-1] + [("event", orphan), items[-1]]:
        pub(name, doc)
    pub.close(10)
    assert pub.sent == len(items)
    assert len(pub.rejected) == 1
    assert "unknown descriptor" in pub.rejected[0]["reason"]
    assert get_run(server.url, items[0][1]["uid"])["events"] == 3


def test_publisher_refused_batch_is_undelivered(make_server):
    """An HTTP 413 (batch over the limit) is not retried forever: reported."""
    srv = make_server(max_body_bytes=2000)
    pub = Publisher(srv.url, max_latency=0.0, batch_size=100)
    items = make_run(50)
    for name, doc in items:
        pub(name, doc)
    pub.close(10)
    assert pub.undelivered, "a 413 must end up in undelivered"
    assert pub.sent + len(pub.undelivered) == len(items)

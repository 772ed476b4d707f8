"""kill -9 of a real ``beamwatch serve``: acknowledged documents survive."""

from __future__ import annotations

import threading

import httpx
from helpers import ServeProcess, get_documents, get_run, make_run, norm_all, post_documents, run_uid, wait_for


def test_kill9_keeps_every_acknowledged_document(tmp_path, archive_url):
    url = None if archive_url.startswith("sqlite") else archive_url
    srv = ServeProcess(tmp_path / "data", archive_url=url).start()
    items = make_run(6_000, stop=True)
    uid = run_uid(items)
    batches = [items[i : i + 100] for i in range(0, len(items), 100)]
    acked: list[int] = []
    stopped = threading.Event()

    def poster():
        with httpx.Client(timeout=10) as client:
            for i, batch in enumerate(batches):
                try:
                    r = client.post(f"{srv.url}/api/v1/documents",
                                    content=b"[" + b",".join(
                                        b'{"name":"%s","doc":%s}' % (n.encode(), _dumps(d)) for n, d in batch) + b"]")
                except httpx.TransportError:
                    break
                assert r.status_code == 200, r.text
                acked.append(i)
        stopped.set()

    t = threading.Thread(target=poster)
    t.start()
    wait_for(lambda: len(acked) >= 20 or stopped.is_set(), 60, what="20 acknowledged batches")
    srv.kill9()
    t.join(30)
    assert 20 <= len(acked) < len(batches), "the kill should land in the middle of the run"
    n_acked = len(acked) * 100

    srv.start()
    try:
        got = get_documents(srv.url, uid)
        # every acknowledged document is there (maybe the in-flight batch too, committed before the kill)
        assert got[:n_acked] == norm_all(items[:n_acked])
        assert len(got) in (n_acked, n_acked + 100)
        run = get_run(srv.url, uid)
        assert run["status"] == "interrupted"
        assert run["events"] == len(got) - 2
        # the source re-sends from the first unacknowledged batch: duplicates are harmless
        for batch in batches[len(acked):]:
            r = post_documents(srv.url, batch)
            assert r.status_code == 200, r.text
        assert get_documents(srv.url, uid) == norm_all(items)
        run = get_run(srv.url, uid)
        assert run["status"] == "success" and run["events"] == 6_000 and run["seq_gaps"] == 0
    finally:
        srv.stop()


def _dumps(doc):
    from beamwatch import documents as docs

    return docs.dumps(doc)

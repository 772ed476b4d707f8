"""HTTP API: ingest validation, msgpack, run resolution, search, tables.

Validation errors go through FastAPI's TestClient (fast); the oversized-body
and search tests also run against a real server over both archives.
"""

from __future__ import annotations

import datetime as dt

import httpx
import msgpack
import msgpack_numpy
import numpy as np
import pytest
from conftest import make_settings
from fastapi.testclient import TestClient
from helpers import assert_same_documents, get_documents, make_run, norm_all, post_documents, run_uid

from beamwatch import documents as docs
from beamwatch.server.app import create_app


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(make_settings(tmp_path, max_body_bytes=256 * 1024))) as c:
        yield c


def post(client, items, **kw):
    return client.post("/api/v1/documents", content=docs.dumps([{"name": n, "doc": d} for n, d in items]),
                       headers={"content-type": "application/json"}, **kw)


def served(client, run):
    resp = client.get(f"/api/v1/runs/{run}/documents")
    assert resp.status_code == 200, resp.text
    return [(x["name"], x["doc"]) for x in map(docs.loads, resp.content.splitlines()) if x]


@pytest.fixture
def stored_run(client):
    """A half-finished run already accepted: bad requests must not lose it."""
    items = make_run(6)
    resp = post(client, items[:5])
    assert resp.status_code == 200 and resp.json()["accepted"] == 5
    return items


def assert_kept(client, items, n=5):
    assert_same_documents(served(client, run_uid(items)), norm_all(items[:n]))


def test_single_document_and_list_bodies(client):
    items = make_run(2)
    r = client.post("/api/v1/documents", content=docs.dumps({"name": "start", "doc": items[0][1]}))
    assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    r = post(client, items[1:])
    assert r.status_code == 200 and r.json()["accepted"] == len(items) - 1
    assert served(client, run_uid(items)) == norm_all(items)


@pytest.mark.parametrize("body, message", [
    (b'{"name": "start", "doc": {', "invalid JSON"),
    (b"\xff\xfe", "invalid JSON"),
    (b'"just a string"', "expected"),
    (b"42", "expected"),
])
def test_undecodable_bodies_are_400(client, stored_run, body, message):
    r = client.post("/api/v1/documents", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert message in r.json()["detail"]
    assert_kept(client, stored_run)


def test_wrong_types_and_names_are_422_with_index(client, stored_run):
    uid = run_uid(stored_run)
    good_event = stored_run[5][1]
    batch = [
        {"name": "start", "doc": "not an object"},
        {"name": 5, "doc": {}},
        {"nme": "start"},
        "neither",
        {"name": "frobnicate", "doc": {"uid": "x"}},
        {"name": "event", "doc": dict(good_event, seq_num="six")},
        {"name": "event", "doc": dict(good_event, uid="orphan", descriptor="no-such-descriptor")},
        {"name": "event", "doc": good_event},  # the good one in the middle is accepted
    ]
    r = client.post("/api/v1/documents", content=docs.dumps(batch))
    assert r.status_code == 422
    body = r.json()
    assert body["accepted"] == 1
    reasons = {x["index"]: x["reason"] for x in body["rejected"]}
    assert sorted(reasons) == [0, 1, 2, 3, 4, 5, 6]
    assert "must be a JSON object" in reasons[0]
    assert "string 'name'" in reasons[1] and "string 'name'" in reasons[2] and "string 'name'" in reasons[3]
    assert "unknown document name 'frobnicate'" in reasons[4]
    assert "invalid event document" in reasons[5]
    assert "unknown descriptor 'no-such-descriptor'" in reasons[6]
    assert_kept(client, stored_run, 6)
    assert client.get(f"/api/v1/runs/{uid}").json()["events"] == 4


def test_reused_uid_and_duplicates(client, stored_run):
    r = post(client, stored_run[:5])
    assert r.status_code == 200 and r.json() == {"accepted": 0, "duplicates": 5, "rejected": []}
    impostor = dict(stored_run[0][1], plan_name="other")
    r = post(client, [("start", impostor)])
    assert r.status_code == 422
    assert "already used by a different document" in r.json()["rejected"][0]["reason"]
    assert_kept(client, stored_run)


def test_oversized_body_is_413(client, stored_run):
    big = make_run(4000)  # ~ 1 MB of JSON, limit is 256 kB
    r = post(client, big)
    assert r.status_code == 413
    assert "over the limit" in r.json()["detail"]
    assert_kept(client, stored_run)
    assert client.get(f"/api/v1/runs/{run_uid(big)}").status_code == 404


def test_oversized_chunked_body_is_413_on_real_server(make_server):
    """No content-length: the limit is enforced while streaming."""
    srv = make_server(max_body_bytes=64 * 1024)

    def chunks():
        yield b"["
        for i in range(2000):
            yield docs.dumps({"name": "start", "doc": {"uid": f"u{i}", "time": 1.0}}) + b","
        yield b"{}]"

    r = httpx.post(f"{srv.url}/api/v1/documents", content=chunks(), timeout=30)
    assert r.status_code == 413
    assert srv.core.archive.max_id() == 0


def test_msgpack_body_with_numpy(client):
    items = make_run(3)
    start, desc = items[0][1], items[1][1]
    ev = dict(items[2][1], data={"x": np.float64(1.0), "y": np.arange(3, dtype=np.int32)})
    body = msgpack.packb([{"name": "start", "doc": start}, {"name": "descriptor", "doc": desc},
                          {"name": "event", "doc": ev}], default=msgpack_numpy.encode)
    r = client.post("/api/v1/documents", content=body, headers={"content-type": "application/x-msgpack"})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 3
    got = served(client, start["uid"])
    assert got[2][1]["data"] == {"x": 1.0, "y": [0, 1, 2]}
    # served back as msgpack on request
    resp = client.get(f"/api/v1/runs/{start['uid']}/documents", headers={"accept": "application/x-msgpack"})
    unpacked = list(_unpack_stream(resp.content))
    assert [(x["name"], x["doc"]) for x in unpacked] == got
    r = client.post("/api/v1/documents", content=b"\xc1\xc1", headers={"content-type": "application/x-msgpack"})
    assert r.status_code == 400 and "invalid msgpack" in r.json()["detail"]


def _unpack_stream(data: bytes):
    u = msgpack.Unpacker(raw=False, strict_map_key=False)
    u.feed(data)
    yield from u


def test_scan_id_and_uid_prefix_resolution(client):
    a = make_run(1, md={"scan_id": 5}, start_time=1000.0)
    b = make_run(1, md={"scan_id": 5}, start_time=2000.0)
    post(client, a)
    post(client, b)
    assert client.get("/api/v1/runs/5").json()["uid"] == run_uid(b)  # newest with that scan id
    assert client.get(f"/api/v1/runs/{run_uid(a)[:8]}").json()["uid"] == run_uid(a)
    assert client.get(f"/api/v1/runs/{run_uid(a)}/documents").status_code == 200
    r = client.get("/api/v1/runs/77")
    assert r.status_code == 404 and "no run matches '77'" in r.json()["detail"]
    # an ambiguous prefix: find the longest common prefix of two uids
    c = make_run(1, md={"scan_id": 9})
    d = make_run(1, md={"scan_id": 10})
    c[0][1]["uid"] = "abcdef00-" + c[0][1]["uid"][9:]
    d[0][1]["uid"] = "abcdef11-" + d[0][1]["uid"][9:]
    for run in (c, d):
        for name, doc in run[1:]:
            if "run_start" in doc:
                doc["run_start"] = run[0][1]["uid"]
        assert post(client, run).status_code == 200
    r = client.get("/api/v1/runs/abcdef")
    assert r.status_code == 400 and "ambiguous" in r.json()["detail"]


def test_search_endpoint(any_server):
    url = any_server.url
    t0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.timezone.utc).timestamp()
    uids = []
    for i in range(8):
        items = make_run(2, plan_name="count" if i % 2 else "scan", start_time=t0 + 3600 * i,
                         md={"scan_id": 10 + i, "operator": "Ada Lovelace" if i == 3 else "Bob"})
        assert post_documents(url, items).status_code == 200
        uids.append(run_uid(items))

    def get(**params):
        r = httpx.get(f"{url}/api/v1/runs", params=params, timeout=10)
        assert r.status_code == 200, r.text
        body = r.json()
        return [x["uid"] for x in body["runs"]], body["total"]

    assert get() == (uids[::-1], 8)
    assert get(plan_name="count") == ([uids[i] for i in (7, 5, 3, 1)], 4)
    assert get(scan_id=12) == ([uids[2]], 1)
    assert get(since="2024-03-01T14:00:00Z", until="2024-03-01T16:00:00Z") == (uids[2:5][::-1], 3)
    assert get(since=str(t0 + 3600 * 6)) == (uids[6:][::-1], 2)
    assert get(q="ada") == ([uids[3]], 1)
    assert get(limit=3, offset=3) == (uids[::-1][3:6], 8)
    r = httpx.get(f"{url}/api/v1/runs", params={"since": "yesterday"})
    assert r.status_code == 422 and "ISO 8601" in r.json()["detail"]
    first = httpx.get(f"{url}/api/v1/runs", params={"limit": 1}).json()["runs"][0]
    assert first["status"] == "success" and first["events"] == 2 and first["progress"] is None


def test_stream_table(client):
    items = make_run(5, page_size=2)  # pages of 2, 2, 1
    post(client, items)
    uid = run_uid(items)
    r = client.get(f"/api/v1/runs/{uid}/streams/primary/table")
    assert r.status_code == 200
    t = r.json()
    assert t["seq_num"] == [1, 2, 3, 4, 5]
    assert t["x"] == [1.0, 2.0, 3.0, 4.0, 5.0] and t["y"] == [1.0, 4.0, 9.0, 16.0, 25.0]
    assert len(t["time"]) == 5
    t = client.get(f"/api/v1/runs/{uid}/streams/primary/table", params={"fields": "y"}).json()
    assert set(t) == {"seq_num", "time", "y"}
    r = client.get(f"/api/v1/runs/{uid}/streams/baseline/table")
    assert r.status_code == 404 and "no stream 'baseline'" in r.json()["detail"]
    r = client.get(f"/api/v1/runs/{uid}/streams/primary/table", params={"fields": "zz"})
    assert r.status_code == 404 and "no field 'zz'" in r.json()["detail"]


def test_seq_gap_counted_in_run_status(client):
    items = make_run(seq_nums=[1, 2, 3, 7, 8], stop=False)
    post(client, items)
    run = client.get(f"/api/v1/runs/{run_uid(items)}").json()
    assert run["seq_gaps"] == 1
    assert run["seq_gaps_by_descriptor"] == {items[1][1]["uid"]: 1}
    assert run["status"] == "running"
    assert run["streams"]["primary"]["events"] == 5


def test_health_counts(client, stored_run):
    post(client, stored_run[:2])
    h = client.get("/api/v1/health").json()
    assert h["status"] == "ok"
    assert h["ingest"]["accepted"] == 5 and h["ingest"]["duplicates"] == 2
    assert h["open_runs"] == [run_uid(stored_run)]


def test_real_server_roundtrip_of_large_batches(any_server):
    items = make_run(3000, page_size=500) + make_run(2000)
    r = post_documents(any_server.url, items)
    assert r.status_code == 200 and r.json()["accepted"] == len(items)
    for uid in {run_uid(items), items[-1][1]["run_start"]}:
        got = get_documents(any_server.url, uid)
        assert got == [x for x in norm_all(items) if _belongs(x, uid, items)]


def _belongs(item, uid, items):
    name, doc = item
    if name == "start":
        return doc["uid"] == uid
    if "run_start" in doc:
        return doc["run_start"] == uid
    descs = {d["uid"] for n, d in items if n == "descriptor" and d["run_start"] == uid}
    return doc.get("descriptor") in descs


def test_free_text_search_does_not_match_inside_uids(any_server):
    """Search is over the metadata a person wrote; random uid hex must not match a word like 'ada' or 'fade'."""
    import event_model

    url = any_server.url
    run = event_model.compose_run(uid="fade0000-1111-2222-3333-444455556666", metadata={"sample": "quartz"})
    r = post_documents(url, [("start", run.start_doc), ("stop", run.compose_stop())])
    assert r.status_code == 200, r.text
    found = lambda q: httpx.get(f"{url}/api/v1/runs", params={"q": q}).json()["total"]  # noqa: E731
    assert found("fade") == 0 and found("quartz") == 1
    assert httpx.get(f"{url}/api/v1/runs/fade0000").json()["uid"] == run.start_doc["uid"]  # uids: by prefix

"""Archive + ingest rules, parametrised over SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from helpers import make_run, norm_all, run_uid

from beamwatch import documents as docs
from beamwatch.archive import Archive, RunQuery
from beamwatch.hub import InProcessHub
from beamwatch.ingest import Ingestor
from beamwatch.runs import RunRegistry


class Box:
    """Ingest path without a server: archive + registry + hub."""

    def __init__(self, archive: Archive):
        self.archive = archive
        self.hub = InProcessHub()
        self.registry = RunRegistry(archive)
        self.ingestor = Ingestor(archive, self.hub, self.registry)

    def ingest(self, items):
        return self.ingestor.ingest_sync(items)

    def stored(self, uid):
        return [(n, docs.loads(b)) for _, n, b in self.archive.iter_documents(uid)]

    def close(self):
        self.ingestor.close()


@pytest.fixture
def box(archive):
    b = Box(archive)
    yield b
    b.close()


def test_roundtrip_identical_and_summary(box):
    items = make_run(20, md={"scan_id": 7, "sample": "Si"})
    r = box.ingest(items)
    assert (r.accepted, r.duplicates, r.rejected) == (len(items), 0, [])
    uid = run_uid(items)
    assert box.stored(uid) == norm_all(items)
    ids = [a.id for a in r.items]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    row = box.archive.run_row(uid)
    assert row["scan_id"] == 7 and row["plan_name"] == "synthetic"
    assert row["n_events"] == 20 and row["seq_gaps"] == 0 and row["exit_status"] == "success"
    assert box.registry.status(row, 3600) == "success"


def test_batch_split_across_calls(box):
    """Documents of one run arriving in many small batches."""
    items = make_run(30)
    for i in range(0, len(items), 4):
        assert not box.ingest(items[i : i + 4]).rejected
    assert box.stored(run_uid(items)) == norm_all(items)


def test_same_document_twice_is_idempotent(box):
    items = make_run(5)
    box.ingest(items)
    again = box.ingest(items)
    assert (again.accepted, again.duplicates, again.rejected) == (0, len(items), [])
    # and inside one batch
    items2 = make_run(3)
    r = box.ingest(items2 + items2[1:3])
    assert (r.accepted, r.duplicates) == (len(items2), 2)
    assert box.stored(run_uid(items)) == norm_all(items)
    assert box.archive.run_row(run_uid(items))["n_events"] == 5


def test_reused_uid_with_different_document_is_rejected(box):
    items = make_run(3)
    box.ingest(items)
    start2 = dict(items[0][1], plan_name="impostor")
    event2 = dict(items[2][1], data={"x": 99.0, "y": 0.0})
    r = box.ingest([("start", start2), ("event", event2)])
    assert r.accepted == 0
    assert [x.index for x in r.rejected] == [0, 1]
    assert all("already used by a different document" in x.reason for x in r.rejected)
    assert box.stored(run_uid(items)) == norm_all(items)


def test_bad_documents_rejected_good_ones_kept(box):
    items = make_run(4, stop=False)
    desc = items[1][1]
    orphan = dict(items[2][1], uid="orphan", descriptor="nope")
    bad_batch = [
        items[0], items[1],
        ("event", orphan),                      # unknown descriptor
        ("bogus", {"uid": "x"}),                # unknown name
        ("event", {"uid": "y"}),                # schema violation
        ("event", "not an object"),             # wrong type
        ["only-a-name"],                        # malformed item
        *items[2:],
    ]
    r = box.ingest(bad_batch)
    assert r.accepted == len(items)
    reasons = {x.index: x.reason for x in r.rejected}
    assert sorted(reasons) == [2, 3, 4, 5, 6]
    assert "unknown descriptor 'nope'" in reasons[2]
    assert "unknown document name 'bogus'" in reasons[3]
    assert "invalid event document" in reasons[4]
    assert "must be a JSON object" in reasons[5]
    assert "string 'name'" in reasons[6]
    assert box.stored(run_uid(items)) == norm_all(items)
    assert desc["uid"] in box.registry.get(run_uid(items)).descriptors


def test_run_rules(box):
    items = make_run(2)
    uid = run_uid(items)
    # descriptor before start
    r = box.ingest([items[1]])
    assert "unknown run" in r.rejected[0].reason
    box.ingest(items)
    # documents for a stopped run
    late = dict(items[2][1], uid="late", seq_num=3)
    r = box.ingest([("event", late), ("stop", dict(items[-1][1], uid="stop2"))])
    assert [x.index for x in r.rejected] == [0, 1]
    assert "already stopped" in r.rejected[0].reason and "already stopped" in r.rejected[1].reason
    assert box.archive.run_row(uid)["n_events"] == 2


def test_event_page_burst(box):
    items = make_run(20_000, page_size=1000)
    t0 = time.perf_counter()
    r = box.ingest(items)
    elapsed = time.perf_counter() - t0
    assert r.accepted == len(items) == 23 and not r.rejected
    uid = run_uid(items)
    assert box.archive.run_row(uid)["n_events"] == 20_000
    assert box.archive.event_counts(uid) == {items[1][1]["uid"]: 20_000}
    assert box.stored(uid) == norm_all(items)
    assert elapsed < 30


def test_seq_num_gap_counted(box):
    items = make_run(seq_nums=[1, 2, 4, 5, 9])
    box.ingest(items)
    uid = run_uid(items)
    assert box.archive.run_row(uid)["seq_gaps"] == 2
    assert box.registry.get(uid).gaps == {items[1][1]["uid"]: 2}


def test_restart_reloads_open_run_without_false_gaps(archive):
    """A new process (new registry) continues an open run from the archive."""
    items = make_run(10)
    first = Box(archive)
    first.ingest(items[:7])  # start, descriptor, events 1..5
    first.close()
    second = Box(archive)
    try:
        uid = run_uid(items)
        row = archive.run_row(uid)
        assert second.registry.status(row, 3600) == "interrupted"
        r = second.ingest(items[5:])  # events 4, 5 again (duplicates), 6..10, stop
        assert (r.accepted, r.duplicates, r.rejected) == (len(items) - 7, 2, [])
        row = archive.run_row(uid)
        assert row["n_events"] == 10 and row["seq_gaps"] == 0 and row["exit_status"] == "success"
        assert second.stored(uid) == norm_all(items)
    finally:
        second.close()


def test_failed_commit_accepts_nothing_and_recovers(box, monkeypatch):
    items = make_run(5)
    box.ingest(items[:3])
    real = box.archive.append

    def broken(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(box.archive, "append", broken)
    with pytest.raises(RuntimeError):
        box.ingest(items[3:])
    monkeypatch.setattr(box.archive, "append", real)
    uid = run_uid(items)
    assert box.stored(uid) == norm_all(items[:3])
    r = box.ingest(items[3:])
    assert (r.accepted, r.rejected) == (len(items) - 3, [])
    assert box.stored(uid) == norm_all(items)
    assert box.archive.run_row(uid)["n_events"] == 5


def test_resolve_scan_id_and_uid_prefix(box):
    t = time.time()
    a = make_run(1, md={"scan_id": 42}, start_time=t - 100)
    b = make_run(1, md={"scan_id": 42}, start_time=t - 50)  # newer run reusing scan_id 42
    c = make_run(1, md={"scan_id": 43}, start_time=t)
    for items in (a, b, c):
        box.ingest(items)
    assert box.archive.resolve("42") == [run_uid(b)]
    assert box.archive.resolve("43") == [run_uid(c)]
    assert box.archive.resolve(run_uid(a)) == [run_uid(a)]
    assert box.archive.resolve(run_uid(a)[:10]) == [run_uid(a)]
    assert box.archive.resolve("zzz") == []


def test_search_filters(box):
    t = 1_700_000_000.0
    runs = []
    for i in range(12):
        items = make_run(1, plan_name="grid_scan" if i % 3 == 0 else "scan",
                         md={"scan_id": 100 + i, "sample": f"sample-{i}", "note": "Silicon wafer" if i == 5 else ""},
                         start_time=t + i * 60)
        box.ingest(items)
        runs.append(run_uid(items))
    rows, total = box.archive.search(RunQuery())
    assert total == 12 and [r["uid"] for r in rows] == runs[::-1]  # newest first
    rows, total = box.archive.search(RunQuery(plan_name="grid_scan"))
    assert total == 4 and {r["uid"] for r in rows} == {runs[i] for i in (0, 3, 6, 9)}
    rows, total = box.archive.search(RunQuery(scan_id=105))
    assert [r["uid"] for r in rows] == [runs[5]]
    rows, total = box.archive.search(RunQuery(since=t + 120, until=t + 300))
    assert [r["uid"] for r in rows] == runs[2:6][::-1]
    rows, total = box.archive.search(RunQuery(text="silicon WAFER"))
    assert [r["uid"] for r in rows] == [runs[5]]
    rows, total = box.archive.search(RunQuery(text="100%_"))
    assert total == 0
    page1, total = box.archive.search(RunQuery(limit=5, offset=0))
    page3, _ = box.archive.search(RunQuery(limit=5, offset=10))
    assert total == 12 and [r["uid"] for r in page1] == runs[::-1][:5]
    assert [r["uid"] for r in page3] == runs[::-1][10:]


def test_stream_resource_and_datum_rules(box):
    items = make_run(2, stop=False)
    uid = run_uid(items)
    desc = items[1][1]["uid"]
    sr = {"uid": "sr-1", "run_start": uid, "data_key": "img", "mimetype": "application/x-hdf5",
          "uri": "file://localhost/tmp/x.h5", "parameters": {}}
    sd = {"uid": "sr-1/0", "stream_resource": "sr-1", "descriptor": desc,
          "indices": {"start": 0, "stop": 2}, "seq_nums": {"start": 1, "stop": 3}}
    res = {"uid": "res-1", "spec": "AD_HDF5", "root": "/", "resource_path": "x.h5", "resource_kwargs": {},
           "path_semantics": "posix"}  # no run_start: the only open run
    datum = {"datum_id": "res-1/0", "resource": "res-1", "datum_kwargs": {"point_number": 0}}
    bad_sd = dict(sd, uid="sr-2/0", stream_resource="sr-2")
    bad_datum = dict(datum, datum_id="res-2/0", resource="res-2")
    r = box.ingest(items + [("stream_resource", sr), ("stream_datum", sd), ("resource", res), ("datum", datum),
                            ("stream_datum", bad_sd), ("datum", bad_datum)])
    assert r.accepted == len(items) + 4
    assert [x.index for x in r.rejected] == [len(items) + 4, len(items) + 5]
    assert "unknown stream_resource" in r.rejected[0].reason
    assert "unknown resource" in r.rejected[1].reason

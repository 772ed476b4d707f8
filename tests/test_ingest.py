"""The ingest path in a running Core: ordering, hub publication, failures."""

from __future__ import annotations

import asyncio

import pytest
from helpers import make_run, norm_all, post_documents, run_uid

from beamwatch import documents as docs
from beamwatch.config import Settings
from beamwatch.core import Core


@pytest.fixture
async def core(tmp_path, archive_url):
    c = Core(Settings(data_dir=tmp_path, archive_url=archive_url))
    yield c
    await c.aclose()


async def test_concurrent_batches_publish_in_commit_order(core):
    sub = core.hub.subscribe()
    runs = [make_run(200, page_size=(0 if i % 2 else 25)) for i in range(6)]
    chunks = [[run[i : i + 20] for i in range(0, len(run), 20)] for run in runs]

    async def feed(cs):
        for c in cs:
            r = await core.ingest(c)
            assert not r.rejected

    await asyncio.gather(*(feed(cs) for cs in chunks))
    published = []
    while len(published) < sum(len(r) for r in runs):
        published += await asyncio.wait_for(sub.get(), 5)
    ids = [a.id for a in published]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    stored = await core.read(core.archive.documents_of, None, 0, 100_000)
    assert [row[0] for row in stored] == ids
    for run in runs:
        mine = [(a.name, a.doc) for a in published if a.run_uid == run_uid(run)]
        assert mine == norm_all(run)
    sub.close()


async def test_nothing_published_or_counted_when_commit_fails(core, monkeypatch):
    sub = core.hub.subscribe()
    items = make_run(3)
    await core.ingest(items[:2])
    assert len(await sub.get()) == 2

    def broken(*a, **k):
        raise RuntimeError("archive down")

    monkeypatch.setattr(core.archive, "append", broken)
    with pytest.raises(RuntimeError):
        await core.ingest(items[2:])
    monkeypatch.undo()
    assert core.hub.published == 2
    r = await core.ingest(items[2:])
    assert r.accepted == len(items) - 2
    assert [(a.name, a.doc) for a in await sub.get()] == norm_all(items[2:])
    sub.close()


async def test_slow_subscriber_overflows_without_blocking(core):
    slow = core.hub.subscribe(max_docs=50)
    fast = core.hub.subscribe()
    items = make_run(500)
    for i in range(0, len(items), 50):
        await core.ingest(items[i : i + 50])
    from beamwatch.hub import Overflow

    with pytest.raises(Overflow):
        await slow.get()
    assert slow.overflows >= 1
    got = []
    while len(got) < len(items):
        got += await fast.get()
    assert len(got) == len(items)
    slow.close()
    fast.close()


def test_http_503_when_archive_cannot_commit(server, monkeypatch):
    items = make_run(4)
    assert post_documents(server.url, items[:3]).status_code == 200

    def broken(*a, **k):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(server.core.archive, "append", broken)
    r = post_documents(server.url, items[3:])
    assert r.status_code == 503 and "nothing of this batch was accepted" in r.json()["detail"]
    monkeypatch.undo()
    r = post_documents(server.url, items[3:])
    assert r.status_code == 200 and r.json()["accepted"] == len(items) - 3
    rows = server.core.archive.documents(run_uid(items))
    assert [(n, docs.loads(b)) for _, n, b in rows] == norm_all(items)

"""0MQ: real RunEngine -> bluesky Publisher -> bluesky Proxy (subprocess) -> beamwatch."""

from __future__ import annotations

import orjson
import pytest
from bluesky.callbacks.zmq import Publisher as ZmqPublisher
from helpers import (Beamline, assert_same_documents, get_documents, get_run, make_run, msgpack_serializer, norm_all,
                     run_uid, wait_for, zmq_prime, zmq_proxy)

from beamwatch.sources.zmq import ZmqSource


@pytest.fixture
def proxy():
    with zmq_proxy() as ports:
        yield ports


def zmq_server(make_server, out_port, fmt="msgpack", prefix=b"", archive_url=None):
    srv = make_server(archive_url, zmq=[f"127.0.0.1:{out_port}"], zmq_format=fmt, zmq_prefix=prefix)
    (source,) = [s for s in srv.app.state.sources if isinstance(s, ZmqSource)]
    return srv, source


def archived(srv, uid, n_docs):
    return lambda: srv.core.archive.max_id() and len(srv.core.archive.documents(uid)) >= n_docs


SERIALIZERS = {"msgpack": msgpack_serializer(), "json": lambda d: orjson.dumps(d, option=orjson.OPT_SERIALIZE_NUMPY)}


@pytest.mark.parametrize("fmt", ["msgpack", "json"])
def test_runengine_scans_through_proxy(make_server, proxy, archive_url, tmp_path, fmt):
    in_port, out_port = proxy
    srv, source = zmq_server(make_server, out_port, fmt, archive_url=archive_url)
    pub = ZmqPublisher(f"127.0.0.1:{in_port}", serializer=SERIALIZERS[fmt])
    try:
        zmq_prime(pub, lambda: source.received)
        bl = Beamline(tmp_path / "frames")
        bl.RE.subscribe(pub)
        uids = [bl.scan(25), bl.scan(5, blob=True)]
        for uid in uids:
            expected = norm_all(bl.run_docs(uid))
            wait_for(archived(srv, uid, len(expected)), 30, what="the scan to be archived")
            assert_same_documents(get_documents(srv.url, uid), expected)
            run = get_run(srv.url, uid)
            assert run["status"] == "success" and run["seq_gaps"] == 0
        assert source.undecodable == 0
        assert srv.core.ingestor.counts["rejected"] == 0
    finally:
        pub.close()


def test_event_page_burst_through_proxy(make_server, proxy):
    in_port, out_port = proxy
    srv, source = zmq_server(make_server, out_port)
    pub = ZmqPublisher(f"127.0.0.1:{in_port}", serializer=msgpack_serializer())
    try:
        zmq_prime(pub, lambda: source.received)
        items = make_run(50_000, page_size=500) + make_run(3000)
        for name, doc in items:
            pub(name, doc)
        wait_for(lambda: srv.core.ingestor.counts["accepted"] >= len(items), 60, what="the burst to be archived")
        assert srv.core.archive.run_row(run_uid(items))["n_events"] == 50_000
        assert srv.core.archive.run_row(items[-1][1]["run_start"])["n_events"] == 3000
        assert srv.core.ingestor.counts["rejected"] == 0
    finally:
        pub.close()


def test_prefix_undecodable_frames_and_seq_gap(make_server, proxy):
    """Only our prefix is taken; garbage is counted and skipped; a lost event
    shows up as a seq_num gap in the run status."""
    in_port, out_port = proxy
    srv, source = zmq_server(make_server, out_port, prefix=b"bl1")
    ours = ZmqPublisher(f"127.0.0.1:{in_port}", prefix=b"bl1", serializer=msgpack_serializer())
    other = ZmqPublisher(f"127.0.0.1:{in_port}", prefix=b"bl2", serializer=msgpack_serializer())
    try:
        items = make_run(10)
        # prime: re-sending the start document is idempotent
        wait_for(lambda: ours("start", items[0][1]) or srv.core.ingestor.counts["accepted"], 20, 0.05,
                 what="the first document through the proxy")
        mine = items[1:5] + items[6:]  # event seq_num 4 lost on the way
        for name, doc in items:
            other(name, dict(doc))  # another beamline: filtered out by the subscription
        ours._socket.send(b"bl1 event \xc1\xc1\xc1")  # undecodable
        ours._socket.send(b"bl1 no-space-here")  # not "prefix name payload"
        for name, doc in mine:
            ours(name, doc)
        uid = run_uid(items)
        wait_for(lambda: (srv.core.archive.run_row(uid) or {}).get("exit_status"), 20, what="the stop document")
        assert source.undecodable == 2
        run = get_run(srv.url, uid)
        assert run["events"] == 9 and run["seq_gaps"] == 1 and run["status"] == "success"
        assert get_documents(srv.url, uid) == norm_all(items[:5] + items[6:])
        assert srv.core.ingestor.counts["rejected"] == 0
    finally:
        ours.close()
        other.close()


def test_pickle_needs_explicit_unsafe_flag(tmp_path):
    from beamwatch.config import Settings
    from beamwatch.sources.zmq import from_settings

    with pytest.raises(ValueError, match="arbitrary code"):
        from_settings(Settings(zmq=["127.0.0.1:1"], zmq_format="pickle"))
    (src,) = from_settings(Settings(zmq=["127.0.0.1:1"], zmq_format="pickle", zmq_unsafe_pickle=True))
    assert src.fmt == "pickle"
    with pytest.raises(ValueError, match="unknown 0MQ format"):
        ZmqSource("127.0.0.1:1", fmt="yaml")


def test_pickle_roundtrip_when_allowed(make_server, proxy):
    in_port, out_port = proxy
    srv = make_server(zmq=[f"127.0.0.1:{out_port}"], zmq_format="pickle", zmq_unsafe_pickle=True)
    (source,) = [s for s in srv.app.state.sources if isinstance(s, ZmqSource)]
    pub = ZmqPublisher(f"127.0.0.1:{in_port}")  # bluesky's default: pickle
    try:
        zmq_prime(pub, lambda: source.received)
        bl = Beamline()
        bl.RE.subscribe(pub)
        uid = bl.scan(5)
        expected = norm_all(bl.run_docs(uid))
        wait_for(archived(srv, uid, len(expected)), 20, what="the scan to be archived")
        assert_same_documents(get_documents(srv.url, uid), expected)
    finally:
        pub.close()


def test_msgpack_object_arrays_are_refused_not_unpickled(tmp_path):
    """msgpack-numpy encodes object arrays with pickle; decoding one from the network would run code."""
    import msgpack
    import msgpack_numpy
    import numpy as np

    from beamwatch.sources.codecs import DecodeError, decode_msgpack

    marker = tmp_path / "pickle-ran"

    class Boom:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = msgpack.packb({"data": np.array([Boom()], dtype=object)}, default=msgpack_numpy.encode)
    with pytest.raises(DecodeError, match="object arrays"):
        decode_msgpack(evil)
    assert not marker.exists()
    # numeric arrays still decode, to plain lists
    ok = msgpack.packb({"data": np.arange(3)}, default=msgpack_numpy.encode)
    assert decode_msgpack(ok) == {"data": [0, 1, 2]}


def test_undecodable_pickle_is_counted_not_fatal():
    """A pickled document that is not JSON-able is one undecodable frame, not a dead source."""
    import pickle

    from beamwatch.config import Settings
    from beamwatch.sources.zmq import from_settings

    (src,) = from_settings(Settings(zmq=["127.0.0.1:1"], zmq_format="pickle", zmq_unsafe_pickle=True))
    frame = src.prefix + b" start " + pickle.dumps({"uid": "u", "bad": {1, 2}})  # a set: not JSON
    assert src._split(frame) is None
    assert src.undecodable == 1

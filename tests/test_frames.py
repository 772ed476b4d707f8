"""Frames from HDF5 files written concurrently (SWMR) by another process.

Run as a script (``python test_frames.py writer PATH CONFIG``) this file is the
writer: it appends deterministic frames on command from stdin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

DATASET = "/entry/data/data"


def make_frame(i: int, shape: tuple[int, ...], dtype: str = "uint16") -> np.ndarray:
    """Deterministic frame ``i`` (full value range of the dtype)."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(1000 + i)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


# --------------------------------------------------------------------------- writer
def _writer_main(path: str, config: str) -> None:
    import h5py
    import hdf5plugin

    cfg = json.loads(config)
    shape = tuple(cfg["frame_shape"])
    dtype = cfg.get("dtype", "uint16")
    comp = {
        None: {},
        "bslz4": dict(hdf5plugin.Bitshuffle(cname="lz4")),
        "blosc": dict(hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE)),
    }[cfg.get("compression")]
    f = h5py.File(path, "w", libver="latest")
    ds = f.create_dataset(
        cfg.get("dataset", DATASET), shape=(0, *shape), maxshape=(None, *shape),
        chunks=(1, *shape), dtype=dtype, **comp,
    )
    f.swmr_mode = True
    print("ready", flush=True)

    def append(k: int) -> None:
        for _ in range(k):
            n = ds.shape[0]
            ds.resize(n + 1, axis=0)
            ds[n] = make_frame(n, shape, dtype)
            ds.flush()

    for line in sys.stdin:
        cmd, *args = line.split()
        if cmd == "w":
            append(int(args[0]))
            print("ok", ds.shape[0], flush=True)
        elif cmd == "s":  # acknowledge now, write later
            print("started", flush=True)
            time.sleep(float(args[0]))
            append(int(args[1]))
        elif cmd == "q":
            break
    f.close()


class Writer:
    """Drives the writer in a separate process."""

    def __init__(self, path: Path, **config: object) -> None:
        self.path = path
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "writer", str(path), json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )
        assert self.readline() == "ready"

    def readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line, "writer process died"
        return line

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def write(self, n: int) -> int:
        self.send(f"w {n}")
        return int(self.readline().split()[1])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.send("q")
            self.proc.wait(10)


@pytest.fixture
def writer_factory(tmp_path):
    writers: list[Writer] = []

    def make(name: str = "det.h5", **config: object) -> Writer:
        config.setdefault("frame_shape", [48, 64])
        w = Writer(tmp_path / name, **config)
        writers.append(w)
        return w

    yield make
    for w in writers:
        w.close()


@pytest.fixture
def reader():
    from beamwatch.frames import SWMRReader

    with SWMRReader(max_open=4, poll=0.01) as r:
        yield r


def ref(path: Path, start: int, stop: int | None = None, dataset: str = DATASET):
    from beamwatch.frames import FrameRef

    return FrameRef(path, dataset, start, start + 1 if stop is None else stop)


# --------------------------------------------------------------------------- reader
def test_reads_frames_equal_to_written(writer_factory, reader):
    w = writer_factory()
    assert w.write(5) == 5
    for i in range(5):
        got = reader.read(ref(w.path, i))
        assert got.shape == (1, 48, 64) and got.dtype == np.uint16
        np.testing.assert_array_equal(got[0], make_frame(i, (48, 64)))
    stack = reader.read(ref(w.path, 1, 4))
    np.testing.assert_array_equal(stack, np.stack([make_frame(i, (48, 64)) for i in (1, 2, 3)]))
    assert w.write(2) == 7  # file already open in the reader: refresh sees new frames
    np.testing.assert_array_equal(reader.read(ref(w.path, 6))[0], make_frame(6, (48, 64)))


def test_concurrent_reads_never_see_partial_frames(writer_factory, reader):
    shape = (256, 256)
    w = writer_factory(frame_shape=list(shape))
    w.write(1)
    w.send("w 150")  # writer appends while we read
    checked = 0
    deadline = time.monotonic() + 20
    while checked < 151 and time.monotonic() < deadline:
        n = reader.length(w.path, DATASET)
        for i in range(checked, n):
            np.testing.assert_array_equal(reader.read(ref(w.path, i), wait=0)[0],
                                          make_frame(i, shape))
        checked = n
    assert checked == 151
    assert w.readline() == "ok 151"


def test_waits_for_frame_not_yet_flushed(writer_factory, reader):
    w = writer_factory()
    w.write(2)
    w.send("s 0.4 1")
    assert w.readline() == "started"
    t0 = time.monotonic()
    got = reader.read(ref(w.path, 2), wait=10)
    assert time.monotonic() - t0 > 0.2
    np.testing.assert_array_equal(got[0], make_frame(2, (48, 64)))


def test_reader_is_thread_safe(writer_factory, reader):
    w = writer_factory()
    w.write(20)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(k, 20, 2):
                np.testing.assert_array_equal(reader.read(ref(w.path, i))[0],
                                              make_frame(i, (48, 64)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k % 2,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_frame_not_written_after_wait_is_404(writer_factory, reader):
    from beamwatch.frames import FrameError

    w = writer_factory()
    w.write(2)
    t0 = time.monotonic()
    with pytest.raises(FrameError) as ei:
        reader.read(ref(w.path, 5), wait=0.2)
    assert time.monotonic() - t0 >= 0.2
    assert ei.value.status == 404
    assert "frame 5 not written yet (dataset has 2)" in str(ei.value)


def test_missing_file_and_dataset_are_404(writer_factory, reader, tmp_path):
    from beamwatch.frames import FrameError

    with pytest.raises(FrameError) as ei:
        reader.read(ref(tmp_path / "nope.h5", 0), wait=0)
    assert ei.value.status == 404 and "nope.h5" in str(ei.value) and "not found" in str(ei.value)

    w = writer_factory()
    w.write(1)
    with pytest.raises(FrameError) as ei:
        reader.read(ref(w.path, 0, dataset="/entry/data/missing"), wait=0)
    assert ei.value.status == 404
    assert "dataset '/entry/data/missing' not found" in str(ei.value)


def test_bad_range_is_422(writer_factory, reader):
    from beamwatch.frames import FrameError

    w = writer_factory()
    w.write(1)
    for start, stop in ((-1, 0), (3, 3)):
        with pytest.raises(FrameError) as ei:
            reader.read(ref(w.path, start, stop), wait=0)
        assert ei.value.status == 422 and "bad frame range" in str(ei.value)


@pytest.mark.parametrize("compression", ["bslz4", "blosc"])
def test_compressed_dataset_reads(writer_factory, reader, compression):
    import h5py

    w = writer_factory(compression=compression, dtype="uint16")
    w.write(3)
    with h5py.File(w.path, "r", libver="latest", swmr=True) as f:  # filter really used
        assert f[DATASET].id.get_create_plist().get_nfilters() >= 1
    for i in range(3):
        np.testing.assert_array_equal(reader.read(ref(w.path, i))[0], make_frame(i, (48, 64)))


def test_roi_sums_from_swmr_file_match_numpy(writer_factory, reader):
    from beamwatch.frames import point_sums, roi_sums, validate_rois

    shape = (48, 64)
    w = writer_factory(dtype="uint8")
    w.write(6)
    rois = validate_rois([
        {"name": "a", "x": 3, "y": 5, "width": 20, "height": 10},
        {"name": "b", "x": 0, "y": 0, "width": 64, "height": 48},
    ], shape)
    stack = reader.read(ref(w.path, 0, 6))
    sums, totals = roi_sums(stack, rois)
    raw = [make_frame(i, shape, "uint8").astype(np.int64) for i in range(6)]
    assert totals.tolist() == [int(r.sum()) for r in raw]
    assert sums[:, 0].tolist() == [int(r[5:15, 3:23].sum()) for r in raw]
    assert sums[:, 1].tolist() == totals.tolist()
    psums, ptotal = point_sums(stack[2:5], rois)
    assert int(ptotal) == sum(int(r.sum()) for r in raw[2:5])
    assert int(psums[0]) == sum(int(r[5:15, 3:23].sum()) for r in raw[2:5])


# --------------------------------------------------------------------------- resolver
def _policy(root: Path):
    from beamwatch.frames import PathPolicy

    return PathPolicy([root])


def _stream_run(path: Path, frames_per_point: int, n_points: int, chunk: int, data_key="det"):
    """Documents in ophyd-async style: StreamResource + StreamDatum per ``chunk`` points."""
    from event_model import compose_run

    run = compose_run()
    docs = [("start", run.start_doc)]
    desc = run.compose_descriptor(name="primary", data_keys={
        data_key: {"source": "sim", "dtype": "array", "shape": [frames_per_point, 48, 64],
                   "external": "STREAM:"}})
    docs.append(("descriptor", desc.descriptor_doc))
    sres = run.compose_stream_resource(
        mimetype="application/x-hdf5", uri=f"file://localhost{path}", data_key=data_key,
        parameters={"dataset": DATASET, "chunk_shape": [1, 48, 64]})
    docs.append(("stream_resource", sres.stream_resource_doc))
    for p0 in range(0, n_points, chunk):
        p1 = min(p0 + chunk, n_points)
        docs.append(("stream_datum", sres.compose_stream_datum(
            indices={"start": p0 * frames_per_point, "stop": p1 * frames_per_point},
            seq_nums={"start": p0 + 1, "stop": p1 + 1},
            descriptor=desc.descriptor_doc)))
    return docs


@pytest.mark.parametrize("fpp,chunk", [(1, 1), (1, 4), (3, 1), (3, 2)])
def test_stream_resource_frames_per_point(writer_factory, reader, tmp_path, fpp, chunk):
    from beamwatch.frames import FrameIndex, FrameRef

    w = writer_factory()
    w.write(5 * fpp)
    index = FrameIndex(_policy(tmp_path))
    for name, doc in _stream_run(w.path, fpp, 5, chunk):
        index.add(name, doc)
    assert index.fields() == ["det"]
    for seq in range(1, 6):
        r = index.locate("det", seq)
        assert r == FrameRef(w.path.resolve(), DATASET, (seq - 1) * fpp, seq * fpp)
        got = reader.read(r)
        assert got.shape == (fpp, 48, 64)
        for k in range(fpp):
            np.testing.assert_array_equal(got[k], make_frame((seq - 1) * fpp + k, (48, 64)))


def test_stream_resource_4d_dataset(writer_factory, reader, tmp_path):
    from beamwatch.frames import FrameIndex

    w = writer_factory(frame_shape=[2, 48, 64])  # one entry = 2 frames of one point
    w.write(3)
    index = FrameIndex(_policy(tmp_path))
    for name, doc in _stream_run(w.path, 1, 3, 3):
        index.add(name, doc)
    got = reader.read(index.locate("det", 2))
    assert got.shape == (2, 48, 64)
    np.testing.assert_array_equal(got, make_frame(1, (2, 48, 64)))


def test_stream_locate_errors(writer_factory, tmp_path):
    from beamwatch.frames import FrameError, FrameIndex

    index = FrameIndex(_policy(tmp_path))
    for name, doc in _stream_run(tmp_path / "x.h5", 1, 3, 3):
        index.add(name, doc)
    with pytest.raises(FrameError) as ei:
        index.locate("det", 4)
    assert ei.value.status == 404 and "event 4" in str(ei.value)
    with pytest.raises(FrameError) as ei:
        index.locate("det", 0)
    assert ei.value.status == 422
    with pytest.raises(FrameError) as ei:
        index.locate("nodet", 1)
    assert ei.value.status == 422 and "'nodet'" in str(ei.value)


@pytest.mark.parametrize("fpp", [1, 3])
@pytest.mark.parametrize("paged", [False, True])
def test_resource_datum_frame_per_point(writer_factory, reader, tmp_path, fpp, paged):
    from event_model import compose_run

    from beamwatch.frames import FrameIndex, FrameRef

    n_points = 4
    w = writer_factory()
    w.write(n_points * fpp)
    run = compose_run()
    desc = run.compose_descriptor(name="primary", data_keys={
        "det_image": {"source": "sim", "dtype": "array", "shape": [48, 64],
                      "external": "FILESTORE:"},
        "motor": {"source": "sim", "dtype": "number", "shape": []}})
    res = run.compose_resource(spec="AD_HDF5_SWMR" if paged else "AD_HDF5",
                               root=str(tmp_path), resource_path=w.path.name,
                               resource_kwargs={"frame_per_point": fpp})
    index = FrameIndex(_policy(tmp_path))
    for name, doc in [("start", run.start_doc), ("descriptor", desc.descriptor_doc),
                      ("resource", res.resource_doc)]:
        index.add(name, doc)
    if paged:
        page = res.compose_datum_page(datum_kwargs={"point_number": list(range(n_points))})
        index.add("datum_page", page)
        ev = desc.compose_event_page(
            data={"det_image": list(page["datum_id"]), "motor": [0.1] * n_points},
            timestamps={"det_image": [0.0] * n_points, "motor": [0.0] * n_points},
            seq_num=list(range(1, n_points + 1)),
            filled={"det_image": [False] * n_points})
        index.add("event_page", ev)
    else:
        for p in range(n_points):
            datum = res.compose_datum(datum_kwargs={"point_number": p})
            index.add("datum", datum)
            index.add("event", desc.compose_event(
                data={"det_image": datum["datum_id"], "motor": 0.1},
                timestamps={"det_image": 0.0, "motor": 0.0}, seq_num=p + 1,
                filled={"det_image": False}))
    assert index.fields() == ["det_image"]
    for seq in range(1, n_points + 1):
        r = index.locate("det_image", seq)
        assert r == FrameRef(w.path.resolve(), DATASET, (seq - 1) * fpp, seq * fpp)
        got = reader.read(r)
        expect = np.stack([make_frame((seq - 1) * fpp + k, (48, 64)) for k in range(fpp)])
        np.testing.assert_array_equal(got, expect)


# --------------------------------------------------------------------------- paths
def test_path_outside_roots_is_refused(tmp_path):
    from beamwatch.frames import FrameError, PathPolicy

    root = tmp_path / "data"
    root.mkdir()
    (tmp_path / "secret.h5").write_bytes(b"")
    (root / "escape.h5").symlink_to(tmp_path / "secret.h5")
    policy = PathPolicy([root])
    assert policy.from_uri(f"file://localhost{root}/a/b.h5") == root.resolve() / "a/b.h5"
    for bad in (f"file://localhost{tmp_path}/secret.h5",
                f"file://localhost{root}/../secret.h5",
                f"file://localhost{root}/escape.h5",
                "file://localhost/etc/passwd",
                f"file://localhost{root}x/a.h5"):
        with pytest.raises(FrameError) as ei:
            policy.from_uri(bad)
        assert ei.value.status == 403
        assert "outside the allowed roots" in str(ei.value) and str(root.resolve()) in str(ei.value)
    with pytest.raises(FrameError) as ei:
        policy.from_resource("/", "etc/passwd")
    assert ei.value.status == 403


def test_path_map_rewrites_prefix(writer_factory, reader, tmp_path):
    from beamwatch.frames import FrameIndex, PathPolicy, parse_path_map

    w = writer_factory()
    w.write(2)
    assert parse_path_map("/gpfs/bl1=/mnt/bl1/") == ("/gpfs/bl1", "/mnt/bl1")
    for bad in ("nope", "=/x", "/x=", "rel=/x"):
        with pytest.raises(ValueError):
            parse_path_map(bad)
    policy = PathPolicy([tmp_path], [f"/gpfs/beamline={tmp_path}", "/gpfs=/elsewhere"])
    assert policy.rewrite("/gpfs/beamline/det.h5") == f"{tmp_path}/det.h5"
    assert policy.rewrite("/gpfs/beamlineX/det.h5") == "/elsewhere/beamlineX/det.h5"
    assert policy.from_uri("file://localhost/gpfs/beamline/det.h5") == w.path.resolve()
    index = FrameIndex(policy)
    for name, doc in _stream_run(Path("/gpfs/beamline/det.h5"), 1, 2, 2):
        index.add(name, doc)
    np.testing.assert_array_equal(reader.read(index.locate("det", 2))[0],
                                  make_frame(1, (48, 64)))


# --------------------------------------------------------------------------- binning
def test_bin_frame_and_auto_bin():
    from beamwatch.frames import auto_bin, bin_frame, squeeze_frames

    f = np.zeros((5, 7), dtype=np.uint16)
    f[3, 1] = 1000
    assert bin_frame(f, 2, "max").shape == (2, 3)
    assert bin_frame(f, 2, "max")[1, 0] == 1000
    assert bin_frame(f, 2, "mean")[1, 0] == pytest.approx(250.0)
    assert bin_frame(f, 2, "mean").dtype == np.float32
    with pytest.raises(ValueError):
        bin_frame(f, 0)
    assert auto_bin((1216, 1936), 1216 * 1936) == 1
    fct = auto_bin((1216, 1936), 500_000)
    assert (1216 // fct) * (1936 // fct) <= 500_000 < (1216 // (fct - 1)) * (1936 // (fct - 1))
    assert squeeze_frames(np.zeros((1, 2, 3))).shape == (2, 3)
    assert squeeze_frames(np.zeros((2, 2, 3))).shape == (2, 2, 3)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "writer":
    os.environ.setdefault("HDF5_USE_FILE_LOCKING", "TRUE")
    _writer_main(sys.argv[2], sys.argv[3])

"""Benchmark ROI sums and SWMR frame reads (one core).

    python bench/bench_roi.py [--frames 400] [--swmr-frames 300]

Prints a table and writes bench/results/roi.json.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMEXPR_NUM_THREADS", "BLOSC_NTHREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from beamwatch.frames import FrameRef, SWMRReader, roi_sums, validate_rois  # noqa: E402

SHAPE = (1216, 1936)
ROIS = [
    {"name": "peak", "x": 100, "y": 100, "width": 600, "height": 400},
    {"name": "side", "x": 900, "y": 300, "width": 500, "height": 500},
    {"name": "strip", "x": 0, "y": 1000, "width": 1936, "height": 216},
]
DATASET = "/entry/data/data"


def naive(frame: np.ndarray, rois: list[dict]) -> tuple[list[float], float]:
    """What people usually write: float copies per ROI plus one for the total."""
    sums = [frame.astype(float)[r["y"]:r["y"] + r["height"], r["x"]:r["x"] + r["width"]].sum()
            for r in rois]
    return sums, frame.astype(float).sum()


def rate(fn, frames: np.ndarray, n: int) -> float:
    fn(frames[0])
    t0 = time.perf_counter()
    for i in range(n):
        fn(frames[i % len(frames)])
    return n / (time.perf_counter() - t0)


def bench_rois(n: int) -> dict:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(32, *SHAPE), dtype=np.uint8)  # > cache, cycled
    rois = validate_rois(ROIS, SHAPE)
    s, t = roi_sums(frames[5], rois)  # correctness against the peer
    ns, nt = naive(frames[5], ROIS)
    assert s[0].tolist() == [int(v) for v in ns] and int(t[0]) == int(nt)
    ours = rate(lambda f: roi_sums(f, rois), frames, n)
    peer = rate(lambda f: naive(f, ROIS), frames, max(n // 4, 20))
    t0 = time.perf_counter()
    reps = max(n // 32, 1)
    for _ in range(reps):
        roi_sums(frames, rois)
    batch = reps * len(frames) / (time.perf_counter() - t0)
    return {"ours_fps": ours, "ours_batch32_fps": batch, "naive_fps": peer,
            "ratio": ours / peer}


def _writer(path: str, n: int, compression: str | None, ready, out) -> None:
    import h5py
    import hdf5plugin

    comp = dict(hdf5plugin.Bitshuffle(cname="lz4")) if compression == "bslz4" else {}
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(8, *SHAPE), dtype=np.uint8)
    with h5py.File(path, "w", libver="latest") as f:
        ds = f.create_dataset(DATASET, shape=(0, *SHAPE), maxshape=(None, *SHAPE),
                              chunks=(1, *SHAPE), dtype=np.uint8, **comp)
        f.swmr_mode = True
        ready.set()
        t0 = time.perf_counter()
        for i in range(n):
            ds.resize(i + 1, axis=0)
            ds[i] = frames[i % 8]
            ds.flush()
        out.put(n / (time.perf_counter() - t0))


def bench_swmr(n: int, compression: str | None) -> dict:
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "swmr.h5"
        ready, out = ctx.Event(), ctx.Queue()
        proc = ctx.Process(target=_writer, args=(str(path), n, compression, ready, out))
        proc.start()
        ready.wait(30)
        with SWMRReader() as reader:
            reader.read(FrameRef(path, DATASET, 0, 1), wait=30)
            t0 = time.perf_counter()
            for i in range(1, n):
                reader.read(FrameRef(path, DATASET, i, i + 1), wait=30)
            live = (n - 1) / (time.perf_counter() - t0)
        writer_fps = out.get(timeout=60)
        proc.join()
        with SWMRReader() as reader:  # file complete: reader-limited rate
            reader.read(FrameRef(path, DATASET, 0, 1))
            t0 = time.perf_counter()
            for i in range(1, n):
                reader.read(FrameRef(path, DATASET, i, i + 1), wait=0)
            done = (n - 1) / (time.perf_counter() - t0)
    return {"live_fps": live, "writer_fps": writer_fps, "complete_file_fps": done}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=400, help="frames timed for roi_sums")
    ap.add_argument("--swmr-frames", type=int, default=300, help="frames written/read via SWMR")
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "results" / "roi.json")
    ap.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    args = ap.parse_args()
    pin = not args.no_pin and hasattr(os, "sched_setaffinity")
    if pin:
        cpus = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cpus)})
    roi = bench_rois(args.frames)
    if pin:  # the SWMR writer (spawned child) must not share the reader's core
        os.sched_setaffinity(0, cpus)
    swmr = {c or "none": bench_swmr(args.swmr_frames, c) for c in (None, "bslz4")}
    result = {
        "frame": {"shape": list(SHAPE), "dtype": "uint8", "rois": len(ROIS), "plus_total": True},
        "roi_sums": roi, "swmr_read": swmr,
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "cpu": platform.processor() or platform.machine(),
                    "roi_pinned_one_core": pin,
                    "cpus": os.cpu_count()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print(f"ROI sums, {SHAPE[0]}x{SHAPE[1]} uint8, 3 ROIs + total, one core")
    print(f"  {'method':<34}{'frames/s':>10}")
    print(f"  {'beamwatch roi_sums (per frame)':<34}{roi['ours_fps']:>10.0f}")
    print(f"  {'beamwatch roi_sums (stack of 32)':<34}{roi['ours_batch32_fps']:>10.0f}")
    print(f"  {'naive astype(float) + slice.sum':<34}{roi['naive_fps']:>10.0f}")
    print(f"  ratio ours/naive: {roi['ratio']:.1f}x")
    print("SWMR reads (one frame per read, writer in another process)")
    for comp, r in swmr.items():
        print(f"  {comp:<6} live {r['live_fps']:>6.0f} fr/s (writer {r['writer_fps']:>5.0f})"
              f"   complete file {r['complete_file_fps']:>6.0f} fr/s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

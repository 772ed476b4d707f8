"""ROI validation and exact, fast ROI sums."""

from __future__ import annotations

import numpy as np
import pytest

from beamwatch.frames import ROI, point_sums, roi_sums, validate_rois


def _direct(frames: np.ndarray, rois: list[ROI]) -> tuple[list[list[int]], list[int]]:
    """Reference: Python-int sums via object dtype (no overflow possible)."""
    sums = [[int(f[r.y:r.y + r.height, r.x:r.x + r.width].astype(object).sum()) for r in rois]
            for f in frames]
    return sums, [int(f.astype(object).sum()) for f in frames]


GOOD = [
    {"name": "peak", "x": 10, "y": 20, "width": 30, "height": 5},
    {"name": "bg", "x": 0, "y": 0, "width": 1, "height": 1},
]


def test_validate_accepts_good_rois():
    rois = validate_rois(GOOD, frame_shape=(25, 40))
    assert rois == [ROI("peak", 10, 20, 30, 5), ROI("bg", 0, 0, 1, 1)]
    assert rois[0].slices == (slice(20, 25), slice(10, 40))
    assert validate_rois([]) == []
    assert validate_rois([{**GOOD[0], "color": "red"}])[0].to_dict() == GOOD[0]


@pytest.mark.parametrize("items,match", [
    ({"name": "a"}, "must be a list"),
    (["a"], "must be an object"),
    ([{"x": 0, "y": 0, "width": 1, "height": 1}], "non-empty string"),
    ([{**GOOD[0], "name": "  "}], "non-empty string"),
    ([{**GOOD[0], "name": "total:det"}], "must not contain ':'"),
    ([{k: v for k, v in GOOD[0].items() if k != "width"}], "missing field 'width'"),
    ([{**GOOD[0], "x": 1.5}], "'x' must be an integer"),
    ([{**GOOD[0], "y": "3"}], "'y' must be an integer"),
    ([{**GOOD[0], "height": True}], "'height' must be an integer"),
    ([{**GOOD[0], "width": 0}], "must be positive"),
    ([{**GOOD[0], "height": -2}], "must be positive"),
    ([{**GOOD[0], "x": -1}], ">= 0"),
    ([GOOD[0], {**GOOD[1], "name": "peak"}], "duplicate name"),
])
def test_validate_rejects(items, match):
    with pytest.raises(ValueError, match=match):
        validate_rois(items)


def test_validate_outside_frame():
    validate_rois(GOOD, frame_shape=(25, 40))  # exactly touching the edges is fine
    with pytest.raises(ValueError, match="outside the frame.*40 columns x 24 rows"):
        validate_rois(GOOD, frame_shape=(24, 40))
    with pytest.raises(ValueError, match="outside the frame"):
        validate_rois(GOOD, frame_shape=(25, 39))


@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint16", "int16", "uint32", "int32", "bool"])
def test_roi_sums_exact_for_saturated_frames(dtype):
    # 600 rows of the maximum (and minimum) value overflow any narrow accumulator
    # that is not blocked correctly.
    ny, nx = 600, 70
    if dtype == "bool":
        frames = np.ones((2, ny, nx), dtype=bool)
    else:
        info = np.iinfo(dtype)
        frames = np.stack([np.full((ny, nx), info.max, dtype), np.full((ny, nx), info.min, dtype)])
    rois = validate_rois([
        {"name": "all", "x": 0, "y": 0, "width": nx, "height": ny},
        {"name": "tall", "x": 5, "y": 1, "width": 3, "height": ny - 1},
        {"name": "px", "x": nx - 1, "y": ny - 1, "width": 1, "height": 1},
    ], frames.shape)
    sums, totals = roi_sums(frames, rois)
    exp_sums, exp_totals = _direct(frames, rois)
    assert sums.tolist() == exp_sums
    assert totals.tolist() == exp_totals
    assert sums.dtype == totals.dtype == (np.int64 if dtype.startswith("int") else np.uint64)


def test_roi_sums_random_frames_match_numpy():
    rng = np.random.default_rng(7)
    frames = rng.integers(0, 256, size=(5, 300, 257), dtype=np.uint8)
    rois = validate_rois([
        {"name": "a", "x": 13, "y": 7, "width": 100, "height": 290},
        {"name": "b", "x": 200, "y": 250, "width": 57, "height": 50},
        {"name": "c", "x": 0, "y": 0, "width": 257, "height": 300},
    ], frames.shape)
    sums, totals = roi_sums(frames, rois)
    exp_sums, exp_totals = _direct(frames, rois)
    assert sums.tolist() == exp_sums and totals.tolist() == exp_totals
    one_sums, one_total = roi_sums(frames[3], rois)  # a single 2-D frame
    assert one_sums.shape == (1, 3) and one_sums[0].tolist() == exp_sums[3]
    assert one_total.tolist() == [exp_totals[3]]
    psums, ptotal = point_sums(frames[1:4], rois)
    assert psums.tolist() == [sum(exp_sums[i][j] for i in (1, 2, 3)) for j in range(3)]
    assert int(ptotal) == sum(exp_totals[1:4])


def test_roi_sums_float_and_no_rois():
    frames = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 2
    sums, totals = roi_sums(frames, [ROI("r", 1, 1, 2, 2)])
    assert totals.dtype == np.float64
    assert totals.tolist() == [frames[0].sum(), frames[1].sum()]
    assert sums[:, 0].tolist() == [frames[0, 1:3, 1:3].sum(), frames[1, 1:3, 1:3].sum()]
    sums, totals = roi_sums(frames, [])
    assert sums.shape == (2, 0) and totals.shape == (2,)


def test_roi_sums_rejects_roi_outside_frame_and_bad_shape():
    with pytest.raises(ValueError, match="outside the frame"):
        roi_sums(np.zeros((1, 10, 10), np.uint8), [ROI("r", 5, 5, 6, 1)])
    with pytest.raises(ValueError, match="frames must be"):
        roi_sums(np.zeros(10, np.uint8), [])


def test_roi_sums_speed_sanity():
    """Generous floor (CI machines vary); the real number is in bench/bench_roi.py."""
    import time

    frame = np.random.default_rng(0).integers(0, 256, (1216, 1936), dtype=np.uint8)
    rois = validate_rois([
        {"name": "a", "x": 100, "y": 100, "width": 600, "height": 400},
        {"name": "b", "x": 900, "y": 300, "width": 500, "height": 500},
        {"name": "c", "x": 0, "y": 1000, "width": 1936, "height": 216},
    ], frame.shape)
    roi_sums(frame, rois)
    n, t0 = 50, time.perf_counter()
    for _ in range(n):
        roi_sums(frame, rois)
    assert n / (time.perf_counter() - t0) > 100

"""Grid placement (analysis/grid.py) against bluesky's rules and real grid_scan events."""

from __future__ import annotations

import numpy as np
import pytest

from beamwatch.analysis.grid import GridSpec


def _start(shape=(3, 4), snaking=(False, True), **kw):
    return {"uid": "u", "time": 0, "shape": list(shape), "extents": [[-1, 1], [-2, 2]],
            "snaking": list(snaking), "motors": ["sy", "sx"], "hints": {"gridding": "rectilinear"}, **kw}


def livegrid_place(seq_num, shape, snaking):
    """bluesky.callbacks.mpl_plotting.LiveGrid.event, verbatim rule."""
    pos = list(np.unravel_index(seq_num - 1, shape))
    if snaking[1] and (pos[0] % 2):
        pos[1] = shape[1] - pos[1] - 1
    return tuple(int(p) for p in pos)


@pytest.mark.parametrize("snaking", [(False, True), (False, False)])
@pytest.mark.parametrize("shape", [(3, 4), (1, 5), (5, 1), (4, 3)])
def test_place_matches_livegrid(shape, snaking):
    spec = GridSpec.from_start(_start(shape, snaking))
    n = shape[0] * shape[1]
    expect = [livegrid_place(s, shape, snaking) for s in range(1, n + 1)]
    assert [spec.place(s) for s in range(1, n + 1)] == expect
    flat = spec.flat_index(np.arange(1, n + 1))
    assert [divmod(int(k), shape[1]) for k in flat] == expect
    assert sorted(flat.tolist()) == list(range(n))  # every cell exactly once


def test_snake_order_explicit():
    spec = GridSpec.from_start(_start((3, 4), (False, True)))
    assert [spec.place(s) for s in range(1, 13)] == [
        (0, 0), (0, 1), (0, 2), (0, 3),
        (1, 3), (1, 2), (1, 1), (1, 0),
        (2, 0), (2, 1), (2, 2), (2, 3),
    ]


def test_off_grid():
    spec = GridSpec.from_start(_start((2, 2)))
    assert spec.place(0) is None and spec.place(5) is None
    assert spec.flat_index(np.array([0, 1, 4, 5])).tolist() == [-1, 0, 2, -1]


@pytest.mark.parametrize("start", [
    {"uid": "u", "time": 0},                                       # a count / line scan
    {"uid": "u", "time": 0, "shape": [10]},                         # 1-D
    {"uid": "u", "time": 0, "shape": [2, 3, 4], "extents": []},     # 3-D
    {"uid": "u", "time": 0, "shape": [5, 5], "hints": {"gridding": "non-rectilinear"}},
    {"uid": "u", "time": 0, "shape": [5, 5]},                       # no grid metadata
])
def test_not_a_grid(start):
    assert GridSpec.from_start(start) is None


@pytest.mark.parametrize("snake", [True, False])
@pytest.mark.parametrize("relative", [False, True])
def test_real_grid_scan_positions(snake, relative):
    """Placing seq_num must put every event where its motors actually were."""
    bp = pytest.importorskip("bluesky.plans")
    from bluesky import RunEngine
    from ophyd.sim import det4, motor1, motor2

    RE = RunEngine({})
    docs = []
    RE.subscribe(lambda n, d: docs.append((n, d)))
    motor1.set(0.5).wait()
    motor2.set(-0.25).wait()
    ny, nx = 4, 5
    plan = bp.rel_grid_scan if relative else bp.grid_scan
    RE(plan([det4], motor1, -1, 1, ny, motor2, -2, 2, nx, snake_axes=snake))
    start = next(d for n, d in docs if n == "start")
    spec = GridSpec.from_start(start)
    assert spec is not None and spec.shape == (ny, nx) and spec.snaking == (False, snake)
    (y0, y1), (x0, x1) = spec.extents
    # rel_grid_scan records extents relative to where the motors started
    oy, ox = (0.5, -0.25) if relative else (0.0, 0.0)
    ys, xs = oy + np.linspace(y0, y1, ny), ox + np.linspace(x0, x1, nx)
    events = [d for n, d in docs if n == "event"]
    assert len(events) == ny * nx
    seen = set()
    for ev in events:
        i, j = spec.place(ev["seq_num"])
        assert ev["data"]["motor1"] == pytest.approx(ys[i]), (ev["seq_num"], i, j)
        assert ev["data"]["motor2"] == pytest.approx(xs[j]), (ev["seq_num"], i, j)
        seen.add((i, j))
    assert len(seen) == ny * nx

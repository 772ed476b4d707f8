"""Synthetic runs for the live-channel and maps tests (event-model compose_run)."""

from __future__ import annotations

import contextlib

import event_model
import numpy as np
from fastapi.testclient import TestClient

from beamwatch import documents as docs
from beamwatch.config import Settings


@contextlib.contextmanager
def client(tmp_path):
    from beamwatch.server.app import create_app

    app = create_app(Settings(data_dir=tmp_path / "data"))
    with TestClient(app) as c:
        yield c


def post(c, items):
    r = c.post("/api/v1/documents", content=docs.dumps([{"name": n, "doc": d} for n, d in items]),
               headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()


def grid_run(shape=(3, 4), snake=True, n=None, scan_id=7, stop=True):
    """Documents of a synthetic grid scan; value of 'det' at cell (i, j) is 100*i + j."""
    ny, nx = shape
    bundle = event_model.compose_run(metadata={
        "plan_name": "grid_scan", "scan_id": scan_id, "shape": [ny, nx],
        "extents": [[-1.0, 1.0], [-2.0, 2.0]], "snaking": [False, snake], "motors": ["sy", "sx"],
        "num_points": ny * nx, "sample": "Fe foil",
        "hints": {"dimensions": [[["sy"], "primary"], [["sx"], "primary"]], "gridding": "rectilinear"}})
    out = [("start", bundle.start_doc)]
    keys = {k: {"source": "sim", "dtype": "number", "shape": []} for k in ("sy", "sx", "det", "I0")}
    keys["name"] = {"source": "sim", "dtype": "string", "shape": []}
    desc = bundle.compose_descriptor(name="primary", data_keys=keys,
                                     hints={"det": {"fields": ["det"]}})
    out.append(("descriptor", desc.descriptor_doc))
    ys, xs = np.linspace(-1, 1, ny), np.linspace(-2, 2, nx)
    total = ny * nx if n is None else n
    for s in range(1, total + 1):
        i, j = divmod(s - 1, nx)
        if snake and i % 2:
            j = nx - 1 - j
        data = {"sy": ys[i], "sx": xs[j], "det": 100.0 * i + j, "I0": 2.0, "name": "x"}
        out.append(("event", desc.compose_event(data=data, timestamps={k: 0.0 for k in data}, seq_num=s)))
    if stop:
        out.append(("stop", bundle.compose_stop(exit_status="success")))
    return bundle.start_doc["uid"], out


def line_run(n=5, motors=("sx",), dims=None):
    md = {"plan_name": "scan", "scan_id": 3, "motors": list(motors), "num_points": n}
    if dims is not None:
        md["hints"] = {"dimensions": dims}
    bundle = event_model.compose_run(metadata=md)
    keys = {k: {"source": "sim", "dtype": "number", "shape": []} for k in (*motors, "det")}
    desc = bundle.compose_descriptor(name="primary", data_keys=keys, hints={})
    out = [("start", bundle.start_doc), ("descriptor", desc.descriptor_doc)]
    for s in range(1, n + 1):
        data = {m: float(s * (k + 1)) for k, m in enumerate(motors)} | {"det": float(s * s)}
        out.append(("event", desc.compose_event(data=data, timestamps={k: 0.0 for k in data}, seq_num=s)))
    out.append(("stop", bundle.compose_stop(exit_status="success")))
    return bundle.start_doc["uid"], out

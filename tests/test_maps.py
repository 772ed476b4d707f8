"""GET /api/v1/runs/{run}/maps/{field}."""

from __future__ import annotations

from _live_helpers import client, grid_run, line_run, post


def test_full_snake_map(tmp_path):
    uid, items = grid_run((3, 4), snake=True)
    with client(tmp_path) as c:
        post(c, items)
        r = c.get(f"/api/v1/runs/{uid}/maps/det")
        assert r.status_code == 200, r.text
        m = r.json()
        assert m["shape"] == [3, 4]
        assert m["extents"] == [[-1.0, 1.0], [-2.0, 2.0]]
        assert m["snaking"] == [False, True]
        assert m["measured"] == 12
        assert m["data"] == [[100.0 * i + j for j in range(4)] for i in range(3)]
        # motor maps prove that snaking is undone: neighbours in data are neighbours on the sample
        sx = c.get(f"/api/v1/runs/{uid}/maps/sx").json()["data"]
        assert all(row == sorted(row) for row in sx)


def test_partial_map_has_nulls_and_scan_id_lookup(tmp_path):
    uid, items = grid_run((3, 4), snake=True, n=6, stop=False, scan_id=42)
    with client(tmp_path) as c:
        post(c, items)
        m = c.get("/api/v1/runs/42/maps/det").json()  # scan id resolves
        assert m["measured"] == 6
        assert m["data"][0] == [0.0, 1.0, 2.0, 3.0]
        assert m["data"][1] == [None, None, 102.0, 103.0]  # snake: row 1 filled right to left
        assert m["data"][2] == [None] * 4
        m2 = c.get(f"/api/v1/runs/{uid[:8]}/maps/det").json()  # uid prefix resolves
        assert m2["data"] == m["data"]


def test_map_follows_live_events(tmp_path):
    uid, items = grid_run((2, 3), snake=False)
    with client(tmp_path) as c:
        post(c, items[:4])  # start, descriptor, 2 events
        assert c.get(f"/api/v1/runs/{uid}/maps/det").json()["measured"] == 2
        post(c, items[4:6])
        import time

        for _ in range(100):
            m = c.get(f"/api/v1/runs/{uid}/maps/det").json()
            if m["measured"] == 4:
                break
            time.sleep(0.02)
        assert m["data"] == [[0.0, 1.0, 2.0], [100.0, None, None]]


def test_errors(tmp_path):
    uid, items = grid_run((2, 2))
    luid, litems = line_run()
    with client(tmp_path) as c:
        post(c, items + litems)
        r = c.get(f"/api/v1/runs/{uid}/maps/nope")
        assert r.status_code == 404 and "no numeric scalar field" in r.json()["detail"] and "'nope'" in r.json()["detail"]
        r = c.get(f"/api/v1/runs/{uid}/maps/name")  # a string field
        assert r.status_code == 404
        r = c.get(f"/api/v1/runs/{luid}/maps/det")
        assert r.status_code == 404 and "not a grid scan" in r.json()["detail"]
        r = c.get("/api/v1/runs/ffffffffffff/maps/det")
        assert r.status_code == 404 and "no run matches" in r.json()["detail"]

"""Fan-out latency of WS /api/v1/documents/stream with 1, 10, 100 clients.

A real ``beamwatch serve`` subprocess; K websocket clients (one asyncio
process) follow every document. One event per POST at a steady rate; the
event's ``time`` is set just before the POST, and each client records
receipt time - that time. Reports p50/p99 over all (client, event) pairs.
Writes bench/results/fanout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from bench_zmq import machine  # noqa: E402
from helpers import ServeProcess, make_run  # noqa: E402

from beamwatch import documents as docs  # noqa: E402


async def client(url: str, uid: str, n: int, lat: list[float], ready: asyncio.Event, counter: list[int], k: int):
    async with websockets.connect(url, max_size=2**24, max_queue=None) as ws:
        counter[0] += 1
        if counter[0] == k:
            ready.set()
        got = 0
        while got < n:
            frame = docs.loads(await ws.recv())
            now = time.time()
            if frame["name"] == "event" and frame["doc"]["descriptor"] == uid:
                lat.append(now - frame["doc"]["time"])
                got += 1


async def one(base: str, ws_url: str, k: int, n: int, rate: float) -> dict:
    items = make_run(n, plan_name="bench-fanout", stop=False)
    head, events = items[:2], [d for name, d in items if name == "event"]
    desc = items[1][1]["uid"]
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(f"{base}/api/v1/documents",
                            content=docs.dumps([{"name": nm, "doc": d} for nm, d in head]))
        r.raise_for_status()
        lat: list[float] = []
        ready, counter = asyncio.Event(), [0]
        tasks = [asyncio.create_task(client(ws_url, desc, n, lat, ready, counter, k)) for _ in range(k)]
        await asyncio.wait_for(ready.wait(), 60)
        await asyncio.sleep(0.3)
        t0 = time.perf_counter()
        for i, ev in enumerate(events):
            due = t0 + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            ev = dict(ev, time=time.time())
            r = await http.post(f"{base}/api/v1/documents", content=docs.dumps({"name": "event", "doc": ev}))
            r.raise_for_status()
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
    lat_ms = sorted(x * 1000 for x in lat)
    q = statistics.quantiles(lat_ms, n=100)
    return {"clients": k, "events": n, "rate_hz": rate, "samples": len(lat_ms),
            "p50_ms": statistics.median(lat_ms), "p99_ms": q[98], "max_ms": lat_ms[-1]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", default="1,10,100")
    p.add_argument("--events", type=int, default=200)
    p.add_argument("--rate", type=float, default=50.0, help="events per second (one POST each)")
    p.add_argument("--output", default=str(HERE / "results" / "fanout.json"))
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        srv = ServeProcess(Path(tmp)).start()
        ws_url = srv.url.replace("http://", "ws://") + "/api/v1/documents/stream"
        try:
            for k in [int(x) for x in args.clients.split(",")]:
                rows.append(asyncio.run(one(srv.url, ws_url, k, args.events, args.rate)))
        finally:
            srv.stop()
    print(f"WS /api/v1/documents/stream fan-out latency (POST -> receipt), {args.events} events at {args.rate:g}/s")
    print(f"{'clients':>7} {'samples':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for r in rows:
        print(f"{r['clients']:>7} {r['samples']:>8} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['max_ms']:>7.1f}")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "fanout", "date": time.strftime("%Y-%m-%d"), "machine": machine(),
                               "runs": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

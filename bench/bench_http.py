"""HTTP ingest rate: beamwatch.client.Publisher -> ``beamwatch serve``.

A run of N events (and the same as event_pages) is handed to the Publisher
as a RunEngine would (``pub(name, doc)``); the time is from the first call
to the end of ``flush()`` (everything acknowledged = committed). The server
is a real ``beamwatch serve`` subprocess on a fresh SQLite archive (or
``--archive-url``). Writes bench/results/http.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from bench_zmq import machine  # noqa: E402
from helpers import ServeProcess, make_run  # noqa: E402

from beamwatch.client import Publisher  # noqa: E402


def one(url: str, n_events: int, batch: int, page: int) -> dict:
    items = make_run(n_events, page_size=page, plan_name="bench-http")
    pub = Publisher(url, batch_size=batch, max_latency=0.01)
    t0 = time.perf_counter()
    for name, doc in items:
        pub(name, doc)
    pub.flush(300)
    dt = time.perf_counter() - t0
    pub.close()
    assert pub.sent == len(items) and not pub.rejected and not pub.undelivered, (pub.sent, len(items))
    return {"events": n_events, "batch_size": batch, "event_page_size": page, "documents": len(items),
            "seconds": dt, "events_per_s": n_events / dt, "documents_per_s": len(items) / dt}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--batches", default="100,1000,5000", help="Publisher batch sizes to try")
    p.add_argument("--page-size", type=int, default=1000, help="event_page size for the page variant")
    p.add_argument("--archive-url")
    p.add_argument("--output", default=str(HERE / "results" / "http.json"))
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        srv = ServeProcess(Path(tmp), archive_url=args.archive_url).start()
        try:
            for b in [int(x) for x in args.batches.split(",")]:
                rows.append(one(srv.url, args.events, b, 0))
            rows.append(one(srv.url, args.events, 100, args.page_size))
        finally:
            srv.stop()
    print(f"HTTP ingest, beamwatch.client.Publisher -> beamwatch serve ({args.archive_url or 'SQLite'})")
    print(f"{'events':>7} {'batch':>6} {'page':>5} {'seconds':>8} {'events/s':>9} {'docs/s':>8}")
    for r in rows:
        print(f"{r['events']:>7} {r['batch_size']:>6} {r['event_page_size'] or '-':>5} {r['seconds']:>8.2f} "
              f"{r['events_per_s']:>9.0f} {r['documents_per_s']:>8.0f}")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "http", "date": time.strftime("%Y-%m-%d"), "machine": machine(),
                               "archive": args.archive_url or "sqlite", "runs": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

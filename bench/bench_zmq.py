"""0MQ ingest: beamwatch vs bluesky's RemoteDispatcher on the same burst.

bluesky's own ``Publisher`` (msgpack) sends a run of N events (default
50 000) as fast as it can into a real bluesky ``Proxy``; two receivers
subscribe to the Proxy's out-port in the same run:

* ``beamwatch serve --zmq`` (subprocess, SQLite archive by default): rate =
  events archived / (time the first event was sent -> time the last event
  was seen archived). The start of that interval is before the first
  receipt and the end is after the last commit, so this is conservative.
* bluesky's ``RemoteDispatcher`` (subprocess) with a callback that only
  counts: rate = events received / (first -> last event received).

Loss = N - events archived / received. Writes bench/results/zmq.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from helpers import ServeProcess, make_run, msgpack_serializer, zmq_proxy  # noqa: E402


# --------------------------------------------------------------------------- dispatcher child
def dispatcher_child(port: int, expected: int, idle: float) -> None:
    import msgpack
    import msgpack_numpy
    from bluesky.callbacks.zmq import RemoteDispatcher

    d = RemoteDispatcher(f"127.0.0.1:{port}",
                         deserializer=lambda b: msgpack.unpackb(b, object_hook=msgpack_numpy.decode, raw=False))
    st = {"events": 0, "first": None, "last": None, "ready": False, "stops": 0, "touched": time.time(), "seqs": set()}

    def cb(name, doc):
        now = time.time()
        st["touched"] = now
        if name == "event":
            if st["first"] is None:
                st["first"] = now
            st["last"] = now
            st["events"] += 1
            st["seqs"].add(doc["seq_num"])
        elif name == "start" and doc.get("plan_name") == "prime" and not st["ready"]:
            st["ready"] = True
            print("ready", flush=True)
        elif name == "stop" and doc.get("run_start") != "prime":
            st["stops"] += 1

    def watchdog():
        idle_too_long = st["events"] and time.time() - st["touched"] > idle
        if st["stops"] or st["events"] >= expected or idle_too_long:
            d._task.cancel()  # ends d.start()
            return
        d.loop.call_later(0.05, watchdog)

    d.subscribe(cb)
    d.loop.call_later(0.05, watchdog)
    try:
        d.start()
    except BaseException:  # cancelled by the watchdog
        pass
    out = {k: st[k] for k in ("events", "first", "last", "stops")}
    out["missing"] = sorted(set(range(1, expected + 1)) - st["seqs"])
    print(json.dumps(out), flush=True)


# --------------------------------------------------------------------------- main
def run(n_events: int, archive_url: str | None, fmt_pages: int, idle: float) -> dict:
    from bluesky.callbacks.zmq import Publisher

    items = make_run(n_events, page_size=fmt_pages, plan_name="bench")
    uid = items[0][1]["uid"]
    prime = [("start", {"uid": "prime", "time": time.time(), "plan_name": "prime"})]
    with tempfile.TemporaryDirectory() as tmp, zmq_proxy() as (in_port, out_port):
        srv = ServeProcess(Path(tmp), archive_url=archive_url,
                           extra=["--zmq", f"127.0.0.1:{out_port}"]).start()
        child = subprocess.Popen([sys.executable, __file__, "--dispatcher-child", str(out_port),
                                  "--events", str(n_events), "--idle", str(idle)],
                                 stdout=subprocess.PIPE, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(child.stdout), daemon=True)
        reader.start()
        pub = Publisher(f"127.0.0.1:{in_port}", serializer=msgpack_serializer())
        http = httpx.Client(timeout=10)

        def accepted() -> int:
            return http.get(f"{srv.url}/api/v1/health").json()["ingest"]["accepted"]

        try:
            deadline = time.monotonic() + 30
            while not ("ready\n" in lines and accepted() >= 1):  # slow joiners: prime both receivers
                pub(*prime[0])
                time.sleep(0.05)
                if time.monotonic() > deadline:
                    raise RuntimeError("receivers never saw the priming document")
            base = accepted()
            t_send0 = time.time()
            for name, doc in items:
                pub(name, doc)
            t_send1 = time.time()
            # poll beamwatch until everything is archived or nothing moves for `idle` s
            last_n, last_change, t_first = base, time.time(), None
            while True:
                n = accepted()
                now = time.time()
                if n != last_n:
                    last_n, last_change = n, now
                    if t_first is None:
                        t_first = now
                if n - base >= len(items) or now - last_change > idle:
                    t_done = last_change
                    break
                time.sleep(0.01)
            run_info = http.get(f"{srv.url}/api/v1/runs/{uid}").json()
            ours_events = run_info.get("events", 0)
            table = http.get(f"{srv.url}/api/v1/runs/{uid}/streams/primary/table", params={"fields": "x"}).json()
            ours_missing = set(range(1, n_events + 1)) - set(table["seq_num"])
            health = http.get(f"{srv.url}/api/v1/health").json()
            child.wait(60 + idle)
            reader.join(5)
            disp = json.loads(lines[-1])
        finally:
            pub.close()
            http.close()
            if child.poll() is None:
                child.kill()
            srv.stop()
    ours_span = t_done - t_first  # first -> last archived (polled every 10 ms)
    disp_span = (disp["last"] - disp["first"]) if disp["events"] > 1 else float("nan")
    ours_wall = t_done - t_send0  # first sent -> last archived
    disp_wall = (disp["last"] - t_send0) if disp["events"] else float("nan")

    def rate(n, t):
        return n / t if t and t == t and t > 0 else 0.0

    ours = {"events_archived": ours_events, "lost": n_events - ours_events, "seconds": ours_span,
            "rate": rate(ours_events, ours_span), "wall_seconds": ours_wall, "wall_rate": rate(ours_events, ours_wall),
            "seq_gaps": run_info.get("seq_gaps"),
            # events beamwatch lacks that RemoteDispatcher also never got: lost upstream (Publisher -> Proxy)
            "lost_also_missed_by_dispatcher": len(ours_missing & set(disp["missing"])),
            "zmq_frames_received": [s.get("received") for s in health["sources"]]}
    disp_r = {"events_received": disp["events"], "lost": n_events - disp["events"], "seconds": disp_span,
              "rate": rate(disp["events"], disp_span), "wall_seconds": disp_wall,
              "wall_rate": rate(disp["events"], disp_wall)}
    return {
        "events_sent": n_events,
        "documents_sent": len(items),
        "send_seconds": t_send1 - t_send0,
        "send_rate": n_events / (t_send1 - t_send0),
        "beamwatch": ours,
        "remote_dispatcher": disp_r,
        "ratio": ours["rate"] / disp_r["rate"] if disp_r["rate"] else float("inf"),
        "wall_ratio": ours["wall_rate"] / disp_r["wall_rate"] if disp_r["wall_rate"] else float("inf"),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--repeat", type=int, default=3, help="runs; the table shows each, the JSON all")
    p.add_argument("--archive-url", help="archive of the beamwatch server (default: SQLite in a temp dir)")
    p.add_argument("--page-size", type=int, default=0, help="send event_pages of this size instead of events")
    p.add_argument("--idle", type=float, default=5.0, help="give up after this long without progress (s)")
    p.add_argument("--dispatcher-child", type=int, metavar="PORT", help=argparse.SUPPRESS)
    p.add_argument("--output", default=str(HERE / "results" / "zmq.json"))
    args = p.parse_args(argv)
    if args.dispatcher_child:
        dispatcher_child(args.dispatcher_child, args.events, args.idle)
        return 0
    results = [run(args.events, args.archive_url, args.page_size, args.idle) for _ in range(args.repeat)]
    print(f"0MQ burst of {args.events} events through a bluesky Proxy (bluesky Publisher, msgpack)")
    print("rate = events / (first -> last event received; for beamwatch: archived, polled every 10 ms)")
    print("wall = events / (first event sent -> last event received / archived)")
    print(f"{'run':>3} {'send ev/s':>9} | {'beamwatch':>9} {'wall':>7} {'lost':>5} | {'RemoteDisp':>10} "
          f"{'wall':>7} {'lost':>6} | {'ratio':>5} {'wall':>5}")
    for i, r in enumerate(results, 1):
        b, d = r["beamwatch"], r["remote_dispatcher"]
        print(f"{i:>3} {r['send_rate']:>9.0f} | {b['rate']:>9.0f} {b['wall_rate']:>7.0f} {b['lost']:>5} | "
              f"{d['rate']:>10.0f} {d['wall_rate']:>7.0f} {d['lost']:>6} | {r['ratio']:>5.2f} {r['wall_ratio']:>5.2f}")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "zmq", "date": time.strftime("%Y-%m-%d"),
                               "machine": machine(), "events": args.events, "runs": results}, indent=2))
    print(f"wrote {out}")
    return 0


def machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "processor": _cpu_model()}


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())

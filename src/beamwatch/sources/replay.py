"""Replay a stored run as if it were live.

Documents come from a JSON-lines file (``beamwatch export``), a local archive
or a beamwatch server; they are sent with fresh uids (so the same server can
show the run again) and times shifted to now, paced like the original
(default) or at a fixed event rate.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Callable, Iterator, Sequence

import httpx

from beamwatch import documents as docs

_REF_KEYS = ("run_start", "descriptor", "resource", "stream_resource")


def read_jsonl(path: Path) -> Iterator[tuple[str, dict]]:
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = docs.loads(line)
                yield item["name"], item["doc"]
            except Exception as exc:
                raise ValueError(f"{path}:{lineno}: not a {{\"name\", \"doc\"}} JSON line ({exc})") from None


def fetch_remote(url: str, run: str) -> Iterator[tuple[str, dict]]:
    with httpx.stream("GET", f"{url.rstrip('/')}/api/v1/runs/{run}/documents", timeout=60) as resp:
        if resp.status_code != 200:
            resp.read()
            raise ValueError(f"{url}: {resp.status_code} {resp.text[:200]}")
        for line in resp.iter_lines():
            if line:
                item = docs.loads(line)
                yield item["name"], item["doc"]


class Renamer:
    """Fresh uids, consistently mapped across references; times shifted."""

    def __init__(self, shift: float):
        self.map: dict[str, str] = {}
        self.shift = shift

    def new(self, old: str) -> str:
        if old not in self.map:
            self.map[old] = str(uuid.uuid4())
        return self.map[old]

    def _datum_id(self, old: str) -> str:
        res, _, n = old.rpartition("/")
        return f"{self.new(res)}/{n}" if res else self.new(old)

    def __call__(self, name: str, doc: dict) -> dict:
        doc = dict(doc)
        if name in ("event_page", "datum_page"):
            key = "uid" if name == "event_page" else "datum_id"
            fix = self.new if name == "event_page" else self._datum_id
            doc[key] = [fix(u) for u in doc[key]]
        elif name == "datum":
            doc["datum_id"] = self._datum_id(doc["datum_id"])
        elif "uid" in doc:
            doc["uid"] = self.new(doc["uid"])
        for key in _REF_KEYS:
            if isinstance(doc.get(key), str):
                doc[key] = self.new(doc[key])
        if "time" in doc:
            t = doc["time"]
            doc["time"] = [x + self.shift for x in t] if isinstance(t, list) else t + self.shift
        return doc


def replay(items: Sequence[tuple[str, dict]], send: Callable[[str, dict], None], *, rate: float | None = None,
           new_uids: bool = True, progress: Callable[[int], None] | None = None,
           sleep: Callable[[float], None] = time.sleep) -> int:
    """Send documents through ``send``. ``rate``: events/s; None: original pacing; 0: no pause."""
    if not items or items[0][0] != "start":
        raise ValueError("a replay needs the run's documents starting with its start document")
    t0 = items[0][1]["time"]
    rename = Renamer(time.time() - t0) if new_uids else None
    wall0 = time.monotonic()
    n_events = 0
    for name, doc in items:
        if name in ("event", "event_page"):
            if rate:
                due = n_events / rate
            elif rate is None:
                t = doc["time"] if name == "event" else doc["time"][0]
                due = t - t0
            else:
                due = 0.0
            wait = due - (time.monotonic() - wall0)
            if wait > 0:
                sleep(min(wait, 10.0))
            n_events += docs.event_page_len(doc) if name == "event_page" else 1
        send(name, rename(name, doc) if rename else doc)
        if progress:
            progress(1)
    return len(items)

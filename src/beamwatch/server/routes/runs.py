"""Runs: search, one run's summary, its documents, its stream tables."""

from __future__ import annotations

import datetime as dt

import msgpack
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from beamwatch import documents as docs
from beamwatch.archive import RunQuery
from beamwatch.core import Core
from beamwatch.server.deps import get_core, json_response, resolve_run
from beamwatch.server.summaries import summary
from beamwatch.tables import stream_table

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])


def _time(value: str | None, what: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"{what}={value!r} is neither an ISO 8601 date/time nor a Unix time") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.timestamp()


@router.get("", summary="Search runs, newest first")
async def list_runs(
    core: Core = Depends(get_core),
    plan_name: str | None = None,
    scan_id: int | None = None,
    since: str | None = Query(None, description="ISO 8601 or Unix time; runs started at or after"),
    until: str | None = Query(None, description="ISO 8601 or Unix time; runs started at or before"),
    q: str | None = Query(None, description="free text, matched (all words) in the start document"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
):
    query = RunQuery(plan_name=plan_name, scan_id=scan_id, since=_time(since, "since"),
                     until=_time(until, "until"), text=q, limit=limit, offset=offset)
    rows, total = await core.read(core.archive.search, query)
    return json_response({"runs": [summary(core, r) for r in rows], "total": total,
                           "limit": limit, "offset": offset})


async def run_detail(core: Core, uid: str) -> dict:
    row = await core.read(core.archive.run_row, uid)
    state = await core.read(core.registry.peek, uid)
    counts = await core.read(core.archive.event_counts, uid)
    out = summary(core, row)
    streams: dict[str, dict] = {}
    for d_uid, d in state.descriptors.items():
        s = streams.setdefault(d.get("name", "primary"), {"descriptors": [], "events": 0})
        s["descriptors"].append(d_uid)
        s["events"] += counts.get(d_uid, 0)
    out.update(stop=state.stop, descriptors=list(state.descriptors.values()), streams=streams,
               seq_gaps_by_descriptor=state.gaps)
    return out


@router.get("/{run}", summary="One run: start, stop, descriptors, status, progress")
async def get_run(run: str, core: Core = Depends(get_core)):
    uid = await resolve_run(core, run)
    return json_response(await run_detail(core, uid))


@router.get("/{run}/documents", summary="All documents of a run, in order",
            description="JSON lines (`application/x-ndjson`) by default; a stream of msgpack maps "
                        '`{"name", "doc"}` with `Accept: application/x-msgpack`.')
async def run_documents(run: str, request: Request, core: Core = Depends(get_core)):
    uid = await resolve_run(core, run)
    as_msgpack = "msgpack" in request.headers.get("accept", "")
    rows = core.archive.iter_documents(uid)

    def lines():
        for _, name, blob in rows:
            if as_msgpack:
                yield msgpack.packb({"name": name, "doc": docs.loads(blob)})
            else:
                yield docs.frame(name, blob) + b"\n"

    media = "application/x-msgpack" if as_msgpack else "application/x-ndjson"
    return StreamingResponse(lines(), media_type=media,
                             headers={"Content-Disposition": f'inline; filename="{uid}.{"msgpack" if as_msgpack else "jsonl"}"'})


@router.get("/{run}/streams/{stream}/table", summary="Columns of a stream: seq_num, time and fields")
async def table(run: str, stream: str, fields: str | None = Query(None, description="comma-separated; default all"),
                core: Core = Depends(get_core)):
    uid = await resolve_run(core, run)
    wanted = [f for f in fields.split(",") if f] if fields else None
    try:
        cols = await core.read(stream_table, core, uid, stream, wanted)
    except KeyError as exc:
        raise HTTPException(404, exc.args[0]) from None
    return json_response(cols)

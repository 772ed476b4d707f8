"""Documents in (HTTP ingest) and out (live websocket stream)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Depends, HTTPException, Query, Request, WebSocket, WebSocketDisconnect

from beamwatch.core import Core
from beamwatch.follow import follow
from beamwatch.server.deps import get_core, json_response, resolve_run
from beamwatch.sources.codecs import DecodeError, decode_json, decode_msgpack

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["documents"])

MSGPACK = "application/x-msgpack"


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request body of {int(declared)} bytes is over the limit of {limit} bytes; send smaller batches")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"request body is over the limit of {limit} bytes; send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/documents",
    summary="Ingest bluesky documents",
    description=(
        'Body: `{"name": ..., "doc": ...}` or a JSON array of them; `application/x-msgpack` takes the '
        "same shapes. Every document is validated and archived before the response. The response counts "
        "what was accepted and lists each rejected document with its index and reason (HTTP 422 when any "
        "is rejected; the good documents of the batch are accepted all the same)."
    ),
)
async def post_documents(request: Request, core: Core = Depends(get_core)):
    body = await _read_body(request, core.settings.max_body_bytes)
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    try:
        payload = decode_msgpack(body) if ctype in (MSGPACK, "application/msgpack") else decode_json(body)
    except DecodeError as exc:
        raise HTTPException(400, str(exc)) from None
    if isinstance(payload, dict):
        items = [payload]
    elif isinstance(payload, list):
        items = payload
    else:
        raise HTTPException(400, 'expected {"name": ..., "doc": ...} or a list of them')
    try:
        result = await core.ingest(items, source="http")
    except Exception as exc:  # the archive could not commit: nothing of this batch was accepted
        log.exception("ingest failed")
        raise HTTPException(503, f"archive unavailable, nothing of this batch was accepted: {exc}") from None
    return json_response(result.as_dict(), status_code=422 if result.rejected else 200)


@router.websocket("/documents/stream")
async def documents_stream(ws: WebSocket, run: str | None = Query(None)):
    """Every accepted document as a JSON text frame ``{"name": ..., "doc": ...}``.

    ``?run=<uid|prefix|scan id>`` filters to one run. A client joining
    mid-run first receives that run's documents so far, then live ones: no
    gap, no duplicate. A client that falls behind its bounded queue gets a
    ``{"name": "beamwatch.resync", ...}`` notice and is resent what it
    missed from the archive (still no gap, no duplicate).
    """
    core = get_core(ws)
    await ws.accept()
    if run is not None:
        try:
            uid = await resolve_run(core, run)
        except HTTPException as exc:
            await ws.close(code=4404, reason=str(exc.detail)[:120])
            return
        runs, after = [uid], 0
    else:
        runs = None
        open_runs = [s.uid for s in core.registry.open_runs()]
        first = await core.read(core.archive.first_id, open_runs) if open_runs else None
        after = (first - 1) if first else await core.read(core.archive.max_id)
    resyncs: list[int] = []

    async def send() -> None:
        async for items in follow(core, runs, after, max_docs=core.settings.ws_queue_docs,
                                  on_resync=resyncs.append):
            if resyncs:
                await ws.send_text(
                    '{"name":"beamwatch.resync","doc":{"after_id":%d,"reason":"client fell behind; '
                    'resending from the archive"}}' % resyncs.pop()
                )
            for item in items:
                await ws.send_text(item.frame().decode())

    async def until_disconnect() -> None:
        # Without a reader, a client that leaves while no document arrives is
        # never noticed: its subscription leaks and server shutdown hangs.
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass

    tasks = [asyncio.ensure_future(send()), asyncio.ensure_future(until_disconnect())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and not isinstance(task.exception(), (WebSocketDisconnect, type(None))):
                raise task.exception()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

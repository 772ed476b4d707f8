"""The browser's live data channel (see docs/live-protocol.md).

``WS /api/v1/live/runs``        runs-list changes (coalesced run summaries)
``WS /api/v1/live/runs/{run}``  one run: snapshot, then incremental deltas

Binary msgpack frames, one message each, with typed arrays as little-endian
``bin`` values. Per client the server keeps only cursors: each sender task
waits for a change, sleeps to the next tick (so clients wake together and
share cached encodings), then sends everything the client is missing as one
coalesced batch. A slow client therefore gets fewer, bigger updates -- never a
growing queue, and never a delay for anyone else.
"""

from __future__ import annotations

import asyncio
import logging
import time

import anyio

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect

from beamwatch import __version__
from beamwatch.analysis.model import pack
from beamwatch.server.deps import resolve_run, ws_core
from beamwatch.server.summaries import summary

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/live", tags=["live"])

RUN_TICK = 0.05   # s: at most 20 updates per second per client
RUNS_TICK = 0.25  # s: runs list


async def _tick(period: float) -> None:
    now = time.time()
    await asyncio.sleep(period - (now % period))


async def _close_with_error(ws: WebSocket, code: int, detail: str) -> None:
    try:
        await ws.send_bytes(pack({"t": "error", "code": code, "detail": detail}))
        await ws.close(code=4000 + code if code < 1000 else code, reason=detail[:120])
    except Exception:
        pass


async def _until_disconnect(ws: WebSocket) -> None:
    """Read (and ignore) client messages until the client goes away."""
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
    except Exception:
        return


async def _serve(ws: WebSocket, sender) -> None:
    """Run ``sender`` until it ends or the client disconnects (a closed tab frees its state at once)."""
    async with anyio.create_task_group() as tg:
        async def send() -> None:
            try:
                await sender
            except (WebSocketDisconnect, RuntimeError, OSError):
                pass  # the client went away mid-send
            finally:
                tg.cancel_scope.cancel()

        async def watch() -> None:
            await _until_disconnect(ws)
            tg.cancel_scope.cancel()

        tg.start_soon(send)
        tg.start_soon(watch)


def _rows(core, uids: list[str]) -> list[dict]:
    return [r for r in (core.archive.run_row(u) for u in uids) if r]


@router.websocket("/runs")
async def live_runs(ws: WebSocket):
    """Run summaries that changed (started, progressed, stopped), coalesced per tick."""
    core = ws_core(ws)
    await ws.accept()
    service = ws.app.state.live
    board = service.board
    seen = board.changed.version

    async def sender():
        nonlocal seen
        await ws.send_bytes(pack({"t": "hello", "version": __version__, "server_time": time.time(),
                                  "channel": "runs"}))
        while True:
            await board.changed.wait_past(seen)
            await _tick(RUNS_TICK)
            now = board.changed.version
            uids = board.since(seen)
            seen = now
            if uids is None:
                await ws.send_bytes(pack({"t": "runs", "reset": True, "runs": []}))
                continue
            rows = await core.read(_rows, core, uids)
            await ws.send_bytes(pack({"t": "runs", "reset": False, "runs": [summary(core, r) for r in rows]}))

    try:
        await _serve(ws, sender())
    except (WebSocketDisconnect, RuntimeError):
        pass


@router.websocket("/runs/{run}")
async def live_run(ws: WebSocket, run: str):
    """One run's view model: ``snapshot`` then deltas (``run``, ``streams``, ``rows``, ``cells``, ``docs``...)."""
    core = ws_core(ws)
    await ws.accept()
    try:
        uid = await resolve_run(core, run)
    except HTTPException as exc:
        await _close_with_error(ws, exc.status_code, str(exc.detail))
        return
    service = ws.app.state.live
    try:
        h = await service.open(uid)
    except RuntimeError as exc:
        await _close_with_error(ws, 500, str(exc))
        return
    h.clients += 1

    async def sender():
        row = await core.read(core.archive.run_row, uid)
        model = h.model
        await ws.send_bytes(pack({**model.snapshot(), "summary": summary(core, row) if row else None,
                                  "server_time": time.time()}))
        cursors: dict = {}
        seen = -1
        while True:
            if seen >= 0:
                await h.changed.wait_past(seen)
                await _tick(RUN_TICK)
            seen = h.changed.version
            frames, cursors = model.frames(cursors)
            for frame in frames:
                await ws.send_bytes(frame)
            if model.stop is not None and seen == h.changed.version:
                # a final summary (status, duration) once the run is over
                row = await core.read(core.archive.run_row, uid)
                if row:
                    await ws.send_bytes(pack({"t": "summary", "summary": summary(core, row)}))
                await h.changed.wait_past(seen)  # only a rebuild can change it now

    try:
        await _serve(ws, sender())
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        h.clients -= 1

"""Health and counters."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from beamwatch import __version__
from beamwatch.core import Core
from beamwatch.server.deps import get_core

router = APIRouter(prefix="/api/v1", tags=["system"])


@router.get("/health", summary="Liveness, archive and ingest counters")
async def health(request: Request, core: Core = Depends(get_core)):
    sources = []
    for s in getattr(request.app.state, "sources", []):
        info = {"name": s.name}
        for attr in ("received", "undecodable"):
            if hasattr(s, attr):
                info[attr] = getattr(s, attr)
        sources.append(info)
    return {
        "status": "ok",
        "version": __version__,
        "archive": core.archive.dialect,
        "ingest": dict(core.ingestor.counts),
        "subscribers": getattr(core.hub, "subscribers", None),
        "sources": sources,
        "open_runs": [s.uid for s in core.registry.open_runs()],
        "demo": hasattr(request.app.state, "demo"),
    }

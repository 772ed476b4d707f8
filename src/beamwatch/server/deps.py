"""Request-scoped helpers shared by the routes."""

from __future__ import annotations

from fastapi import HTTPException, Response
from starlette.requests import HTTPConnection

from beamwatch import documents as docs

from beamwatch.core import Core


def get_core(conn: HTTPConnection) -> Core:
    """The app's Core, for HTTP and websocket routes alike (as a dependency or called directly)."""
    return conn.app.state.core


ws_core = get_core  # older name, still used by the websocket routes


async def resolve_run(core: Core, ident: str) -> str:
    """A uid, a unique uid prefix or a scan id (newest run with it) -> uid."""
    hits = await core.read(core.archive.resolve, ident)
    if not hits:
        raise HTTPException(404, f"no run matches {ident!r} (give a uid, a unique uid prefix or a scan id)")
    if len(hits) > 1:
        raise HTTPException(400, f"{ident!r} is ambiguous: it starts {len(hits)} run uids ({', '.join(h[:12] for h in hits)})")
    return hits[0]


def json_response(obj, status_code: int = 200) -> Response:
    """JSON via orjson (numpy-aware), the project's one encoder."""
    return Response(docs.dumps(obj), status_code=status_code, media_type="application/json")

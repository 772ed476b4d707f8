"""The FastAPI application: REST + websockets over one Core."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from beamwatch import __version__, demo
from beamwatch.config import Settings
from beamwatch.core import Core
from beamwatch.analysis.roi_sums import RoiSums
from beamwatch.framestore import FrameStore
from beamwatch.analysis.service import startup_hook as live_startup
from beamwatch.server.routes import documents, frames, live, maps, rois, runs, system
from beamwatch.sources import configured_sources

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

TAGS = [
    {"name": "documents", "description": "Ingest bluesky documents; follow them live."},
    {"name": "runs", "description": "Search runs; read their documents and data."},
    {"name": "frames", "description": "Detector frames resolved from HDF5 files (SWMR)."},
    {"name": "rois", "description": "Regions of interest per detector field."},
    {"name": "system", "description": "Health and counters."},
    {"name": "demo", "description": "Simulated scans on demand (`beamwatch demo` only; 404 otherwise)."},
]

ROUTERS = [documents.router, runs.router, frames.router, rois.router, maps.router, live.router, system.router,
           demo.router]


def create_app(settings: Settings | None = None, extra_sources=()) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        core = Core(settings)
        app.state.core = core
        app.state.frames = FrameStore(core.archive, settings)
        app.state.roi_sums = RoiSums(core, app.state.frames)
        core.spawn(app.state.roi_sums.run(core), name="roi_sums")
        sources = list(configured_sources(settings)) + list(extra_sources)
        app.state.sources = sources
        for source in sources:
            core.spawn(source.run(core), name=source.name)
        for hook in app.state.startup_hooks:
            await hook(app, core)
        _connect_roi_sums(app.state.live, app.state.roi_sums)
        try:
            yield
        finally:
            await core.aclose()
            app.state.frames.close()

    app = FastAPI(title="beamwatch", version=__version__, lifespan=lifespan, openapi_tags=TAGS,
                  default_response_class=JSONResponse)
    app.state.settings = settings
    app.state.startup_hooks = [live_startup]
    for router in ROUTERS:
        app.include_router(router)
    _mount_web(app)
    return app


def _connect_roi_sums(live, roi_sums: RoiSums) -> None:
    """ROI sums flow to the browsers through the run models' ``rois`` stage."""
    live.on_new_model.append(roi_sums.request)
    roi_sums.on_update.append(lambda uid, field, table: live.push(uid, "rois", "set_table", field, table))


def _mount_web(app: FastAPI) -> None:
    index = STATIC / "index.html"
    if not index.exists():
        @app.get("/", include_in_schema=False)
        async def no_web():
            return JSONResponse({"detail": "the web client is not built; run `make web` (needs Node.js)",
                                 "api": "/docs"}, status_code=503)
        return
    app.mount("/assets", StaticFiles(directory=STATIC / "assets"), name="assets")

    @app.get("/{path:path}", include_in_schema=False)
    async def spa(path: str):
        if path.startswith("api/"):
            return JSONResponse({"detail": f"no API route /{path}"}, status_code=404)
        candidate = (STATIC / path).resolve()
        if path and candidate.is_file() and STATIC.resolve() in candidate.parents:
            return FileResponse(candidate)
        return FileResponse(index)

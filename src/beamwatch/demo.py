"""Demo mode: a simulated beamline feeding the server through the HTTP client.

The RunEngine runs in its own thread and publishes with
:class:`beamwatch.client.Publisher` -- the same ingest path a real beamline
uses. ``POST /api/v1/demo/scans`` starts a scan on demand (demo mode only).
"""

from __future__ import annotations

import logging
import threading

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

log = logging.getLogger(__name__)


class ScanRequest(BaseModel):
    kind: str = "snake_grid"


router = APIRouter(prefix="/api/v1/demo", tags=["demo"])


@router.post("/scans", status_code=202, summary="Start a simulated scan (demo mode only)")
async def launch(req: ScanRequest, request: Request):
    demo: Demo | None = getattr(request.app.state, "demo", None)
    if demo is None:
        raise HTTPException(404, "not in demo mode: simulated scans start only under `beamwatch demo`")
    if req.kind not in demo.kinds:
        raise HTTPException(422, f"unknown scan kind {req.kind!r}; choose one of {', '.join(demo.kinds)}")
    demo.launch(req.kind)
    return {"queued": req.kind}


#: the loop's order: the headline (a snake grid with frames and ROI maps) first
LOOP_KINDS = ("snake_grid", "line", "grid", "spiral", "ophyd_v1")


class Demo:
    def __init__(self, settings, loop: bool, rate: float = 20.0):
        from beamwatch.client import Publisher
        from beamwatch.sources.simulated import SimulatedBeamline

        self.data_dir = (settings.data_dir / "demo").resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.publisher = Publisher(f"http://127.0.0.1:{settings.port}")
        self.beamline = SimulatedBeamline(self.data_dir, self.publisher,
                                          exposure=1.0 / rate if rate and rate > 0 else 0.0)
        self.kinds = tuple(self.beamline.SCAN_KINDS)
        self.stop = threading.Event()
        self.loop = loop

    def start(self) -> None:
        if self.loop:
            threading.Thread(target=self.beamline.run_forever, args=(self.stop, LOOP_KINDS),
                             name="demo-loop", daemon=True).start()

    def default_rois(self) -> list[dict]:
        """Boxes around the simulated sample's three spots (detector pixels)."""
        return [{"name": f"roi{i + 1}", "x": c0, "y": r0, "width": c1 - c0, "height": r1 - r0}
                for i, (r0, r1, c0, c1) in enumerate(self.beamline.sample.rois())]

    def launch(self, kind: str) -> None:
        threading.Thread(target=self._run_one, args=(kind,), name=f"demo-{kind}", daemon=True).start()

    def _run_one(self, kind: str) -> None:
        try:
            self.beamline.run(kind)
        except Exception:
            log.exception("demo scan %s failed", kind)


def install(app, settings, loop: bool = True, rate: float = 20.0) -> None:
    demo = Demo(settings, loop, rate)
    settings.data_roots.append(demo.data_dir)
    app.state.demo = demo  # the router is always mounted (see server.app); it answers 404 without this

    async def _start(app, core):
        from beamwatch.analysis.roi_sums import set_rois
        from beamwatch.frames import validate_rois

        # give the demo's detectors three ROIs unless the user already chose some
        rois = validate_rois(demo.default_rois())
        for field in ("det-image", "v1det_image"):
            if await core.read(core.archive.kv_get, f"rois:{field}") is None:
                await set_rois(core, field, rois)
        demo.start()

    app.state.startup_hooks.append(_start)

"""Grid-scan maps: ``GET /api/v1/runs/{run}/maps/{field}``."""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, HTTPException, Request

from beamwatch.core import Core
from beamwatch.server.deps import get_core, json_response, resolve_run

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])


@router.get(
    "/{run}/maps/{field}",
    summary="2-D map of a field of a grid scan",
    description=(
        'JSON `{"shape": [ny, nx], "extents": [[y0, y1], [x0, x1]], "data": [[...], ...], ...}`: '
        "`data[i][j]` is the value at slow-axis index `i` and fast-axis index `j` of the grid as the start "
        "document's `shape` orders it, with snaking undone (neighbours in `data` are neighbours on the "
        "sample); `null` where no point was measured yet. Also `snaking`, `motors`, `measured` (count) "
        "and `num_points`. 404 for an unknown run or field, or a run that is not a grid scan."
    ),
)
async def get_map(run: str, field: str, request: Request, core: Core = Depends(get_core)):
    uid = await resolve_run(core, run)
    try:
        h = await request.app.state.live.open(uid)
    except RuntimeError as exc:
        raise HTTPException(500, str(exc)) from None
    model = h.model
    grid = model.stage("grid")
    if grid is None:
        plan = (model.start or {}).get("plan_name")
        raise HTTPException(404, f"run {uid[:8]} ({plan}) is not a grid scan: its start document has no "
                                 "2-D 'shape' with rectilinear gridding, so it has no maps")
    columns = model.stage("columns")
    fields = columns.streams.get(grid.STREAM).fields if grid.STREAM in columns.streams else []
    if field in fields or field in ("seq_num", "time"):
        values, measured = grid.map(field)
    else:
        values, measured = await _roi_map(request, core, uid, field, fields, grid.spec)
    data = [[(None if not m or math.isnan(v) else v) for v, m in zip(vr, mr)]
            for vr, mr in zip(values.tolist(), measured.tolist())]
    return json_response({
        "uid": uid, "field": field, **grid.spec.as_dict(),
        "measured": int(measured.sum()), "num_points": (model.start or {}).get("num_points"),
        "data": data,
    })


async def _roi_map(request: Request, core: Core, uid: str, name: str, fields: list[str], spec):
    """Map of an ROI name or ``total:<detector field>`` (sums over each point's frames)."""
    roi_sums = request.app.state.roi_sums
    try:
        values = await core.read(roi_sums.values, uid, name)
    except KeyError:
        rois = await core.read(_roi_names, roi_sums, uid)
        raise HTTPException(404, f"run {uid[:8]} has no numeric scalar field, ROI or detector total {name!r} "
                                 f"(fields: {', '.join(fields) or 'none yet'}; ROIs and totals: "
                                 f"{', '.join(rois) or 'none'})") from None
    return spec.place_values(values)


def _roi_names(roi_sums, uid: str) -> list[str]:
    names = []
    for field in roi_sums.detector_fields(uid):
        names += [r.name for r in roi_sums.rois_for(field)] + [f"total:{field}"]
    return names

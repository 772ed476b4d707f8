"""Regions of interest per detector field, shared by every viewer."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, HTTPException

from beamwatch.analysis.roi_stage import frame_shape
from beamwatch.analysis.roi_sums import set_rois
from beamwatch.core import Core
from beamwatch.frames import validate_rois
from beamwatch.server.deps import get_core, json_response

router = APIRouter(prefix="/api/v1/rois", tags=["rois"])


def _frame_shape(core: Core, field: str) -> tuple[int, int] | None:
    """Frame shape of ``field`` from the newest run in memory that records it."""
    for state in reversed(list(core.registry.runs.values())):
        for desc in reversed(list(state.descriptors.values())):
            shape = frame_shape(desc.get("data_keys", {}).get(field, {}))
            if shape is not None:
                return shape
    return None


@router.get("/{field}", summary="The ROIs of a detector field")
async def get_rois(field: str, core: Core = Depends(get_core)):
    return json_response(await core.read(core.archive.kv_get, f"rois:{field}") or [])


@router.put(
    "/{field}",
    summary="Replace the ROIs of a detector field",
    description='A JSON list `[{"name": "roi1", "x": 10, "y": 20, "width": 30, "height": 40}, ...]` in detector '
                "pixel coordinates (x = column, y = row, origin at the first element of the frame as stored; "
                "x+width and y+height exclusive). Applies to the running run (its sums are recomputed over every "
                "frame so far) and to the next runs.",
)
async def put_rois(field: str, rois: list = Body(...), core: Core = Depends(get_core)):
    try:
        parsed = validate_rois(rois, _frame_shape(core, field))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return json_response(await set_rois(core, field, parsed))

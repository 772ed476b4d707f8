"""Detector frames: the frames of one event, as .npy or PNG."""

from __future__ import annotations

import io

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from beamwatch.core import Core
from beamwatch.frames import FrameError, bin_frame, squeeze_frames
from beamwatch.imaging import contrast_limits, to_png
from beamwatch.server.deps import get_core, resolve_run

router = APIRouter(prefix="/api/v1/runs", tags=["frames"])


@router.get(
    "/{run}/streams/{stream}/frames/{field}/{seq_num}",
    summary="The detector frame(s) of one event",
    description="NumPy `.npy` by default (one frame: `(ny, nx)`; several frames per point: stacked on the "
                "first axis). `?format=png`: 8-bit image with contrast clipped at percentiles `?lo`/`?hi` "
                "(or `?vmin`/`?vmax`), several frames summed. `?bin=N` downsamples (`?bin_mode=max` keeps "
                "single-pixel peaks).",
)
async def frame(request: Request, run: str, stream: str, field: str, seq_num: int,
                format: str = Query("npy", pattern="^(npy|png)$"),
                bin: int = Query(1, ge=1, le=64), bin_mode: str = Query("mean", pattern="^(mean|max)$"),
                lo: float = Query(0.5, ge=0, le=100), hi: float = Query(99.5, ge=0, le=100),
                vmin: float | None = None, vmax: float | None = None, log: bool = False,
                core: Core = Depends(get_core)):
    uid = await resolve_run(core, run)
    store = request.app.state.frames
    try:
        stack = await core.read(store.read, uid, stream, field, seq_num)
        if bin > 1:
            stack = bin_frame(stack, bin, bin_mode)
    except FrameError as exc:
        raise HTTPException(exc.status, exc.message) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if format == "png":
        image = stack.sum(axis=0) if stack.shape[0] > 1 else stack[0]
        limits = contrast_limits(image, lo, hi, log=log)
        limits = (vmin if vmin is not None else limits[0], vmax if vmax is not None else limits[1])
        return Response(to_png(image, limits, log=log), media_type="image/png",
                        headers={"X-Contrast": f"{limits[0]},{limits[1]}"})
    buf = io.BytesIO()
    np.save(buf, squeeze_frames(stack), allow_pickle=False)
    return Response(buf.getvalue(), media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{field}-{seq_num}.npy"'})

"""The ``rois`` stage: a run's detector fields and their live ROI sums, for browsers.

The sums themselves are computed by :class:`beamwatch.analysis.roi_sums.RoiSums`
(it reads the HDF5 frames off the event loop); it hands each updated
:class:`~beamwatch.analysis.roi_sums.FieldSums` table to this stage with
:meth:`RoiStage.set_table`, and the stage describes it to clients
incrementally:

``detectors``  ``{"t": "detectors", "detectors": {field: {"stream", "shape", "dtype"}}}``
               -- the run's external 2-D (or more) data keys, when descriptors change.
``roisums``    ``{"t": "roisums", "field", "stream", "reset", "rois", "names",
               "seq": <int32 LE>, "values": {name: <float64 LE>}, "errors",
               "error", "error_seq"}`` -- ``reset`` means "drop what you had for
               this field" (first message, or the ROIs changed); otherwise the
               rows are appended. Names are the ROI names then ``total:<field>``.
"""

from __future__ import annotations

import array
from typing import TYPE_CHECKING, Any

from beamwatch.analysis.stages import Message, Stage, register

if TYPE_CHECKING:  # pragma: no cover
    from beamwatch.analysis.roi_sums import FieldSums


def frame_shape(data_key: dict) -> tuple[int, int] | None:
    """``(ny, nx)`` of a data key: its last two dimensions > 1; None with fewer than two."""
    shape = [int(s) for s in (data_key.get("shape") or []) if s and s > 1]
    return (shape[-2], shape[-1]) if len(shape) >= 2 else None


def detector_keys(descriptors) -> dict[str, dict]:
    """``{field: {"stream", "shape", "dtype"}}`` of external data keys with >= 2 non-trivial dims."""
    out: dict[str, dict] = {}
    for desc in descriptors:
        for key, info in (desc.get("data_keys") or {}).items():
            shape = frame_shape(info)
            if info.get("external") and shape is not None and key not in out:
                out[key] = {"stream": desc.get("name", "primary"), "shape": list(shape),
                            "dtype": str(info.get("dtype_numpy") or info.get("dtype") or "")}
    return out


@register("rois", order=30)
class RoiStage(Stage):
    def __init__(self, run):
        super().__init__(run)
        self.detectors: dict[str, dict] = {}
        self.tables: dict[str, "FieldSums"] = {}
        self.meta_version = 0

    def descriptor(self, doc):
        found = detector_keys([doc])
        new = {k: v for k, v in found.items() if k not in self.detectors}
        if new:
            self.detectors.update(new)
            self.meta_version += 1
            self.touch()

    def set_table(self, field: str, table: "FieldSums") -> None:
        """Called (on the event loop) by the ROI-sums service after it added sums."""
        self.tables[field] = table
        self.touch()

    # ---------------------------------------------------------------- views
    def _message(self, field: str, table: "FieldSums", start: int, end: int) -> Message:
        seqs = table.order[start:end]
        names = [r.name for r in table.rois] + [f"total:{field}"]
        values: dict[str, bytes] = {}
        for j, name in enumerate(names[:-1]):
            values[name] = array.array("d", (float(table.sums[s][j]) for s in seqs)).tobytes()
        values[names[-1]] = array.array("d", (table.totals[s] for s in seqs)).tobytes()
        last_error = None
        if table.errors:
            seq = max(table.errors)
            last_error = (seq, table.errors[seq])
        return {"t": "roisums", "field": field, "stream": table.stream, "reset": start == 0,
                "rois": [r.to_dict() for r in table.rois], "names": names,
                "seq": array.array("i", seqs).tobytes(), "values": values,
                "errors": len(table.errors), "error": last_error[1] if last_error else None,
                "error_seq": last_error[0] if last_error else None}

    def snapshot(self) -> dict[str, Any] | None:
        if not self.detectors:
            return None
        return {"detectors": self.detectors}

    def delta(self, cursor):
        meta_v, have = cursor if cursor is not None else (-1, ())
        have = dict(have)
        messages: list[Message] = []
        if meta_v != self.meta_version and self.detectors:
            messages.append({"t": "detectors", "detectors": self.detectors})
        new = []
        for field, table in self.tables.items():
            gen, n, nerr = have.get(field, (None, 0, 0))
            end = len(table.order)
            if gen != table.gen:
                messages.append(self._message(field, table, 0, end))
            elif end > n or len(table.errors) != nerr:
                messages.append(self._message(field, table, n, end))
            new.append((field, (table.gen, end, len(table.errors))))
        return messages, (self.meta_version, tuple(new))

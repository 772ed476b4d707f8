"""Map (field, seq_num) of one run to frames in an HDF5 dataset."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any

import event_model

from .errors import FrameError
from .paths import PathPolicy

HDF5_MIMETYPES = {"application/x-hdf5"}
#: Resource specs whose frames live in one HDF5 file at a fixed dataset.
AD_HDF5_SPECS = {"AD_HDF5": "/entry/data/data", "AD_HDF5_SWMR": "/entry/data/data"}


@dataclass(frozen=True)
class FrameRef:
    """Frames ``[start, stop)`` along the first axis of ``dataset`` in ``path``."""

    path: Path
    dataset: str
    start: int
    stop: int


@dataclass
class _Block:
    """One StreamDatum: events [seq_start, seq_stop) -> indices [idx_start, idx_stop)."""

    seq_start: int
    seq_stop: int
    idx_start: int
    idx_stop: int
    resource: str


@dataclass
class _Descriptor:
    name: str
    external: list[str]
    blocks: dict[str, list[_Block]] = dc_field(default_factory=dict)  # StreamDatum
    datum_ids: dict[str, dict[int, str]] = dc_field(default_factory=dict)  # Resource/Datum


class FrameIndex:
    """Incremental index of one run's external detector data.

    Feed it every document of the run with :meth:`add` (unknown names are
    ignored), then call :meth:`locate`.
    """

    def __init__(self, policy: PathPolicy) -> None:
        self.policy = policy
        self._descriptors: dict[str, _Descriptor] = {}
        self._stream_resources: dict[str, dict[str, Any]] = {}
        self._resources: dict[str, dict[str, Any]] = {}
        self._datums: dict[str, tuple[str, int]] = {}  # datum_id -> (resource, point)
        self._paths: dict[str, Path] = {}

    # ---- ingestion -------------------------------------------------------
    def add(self, name: str, doc: dict[str, Any]) -> None:
        handler = getattr(self, f"_add_{name}", None)
        if handler is not None:
            handler(doc)

    def _add_descriptor(self, doc: dict[str, Any]) -> None:
        keys = doc.get("data_keys", {})
        external = [k for k, v in keys.items() if v.get("external")]
        self._descriptors[doc["uid"]] = _Descriptor(doc.get("name", "primary"), external)

    def _add_stream_resource(self, doc: dict[str, Any]) -> None:
        self._stream_resources[doc["uid"]] = doc

    def _add_stream_datum(self, doc: dict[str, Any]) -> None:
        sres = self._stream_resources.get(doc["stream_resource"])
        desc = self._descriptors.get(doc["descriptor"])
        if sres is None or desc is None:
            return
        seq, idx = doc["seq_nums"], doc["indices"]
        block = _Block(seq["start"], seq["stop"], idx["start"], idx["stop"], sres["uid"])
        blocks = desc.blocks.setdefault(sres["data_key"], [])
        bisect.insort(blocks, block, key=lambda b: b.seq_start)

    def _add_resource(self, doc: dict[str, Any]) -> None:
        self._resources[doc["uid"]] = doc

    def _add_datum(self, doc: dict[str, Any]) -> None:
        self._add_datum_page(event_model.pack_datum_page(doc))

    def _add_datum_page(self, doc: dict[str, Any]) -> None:
        points = doc.get("datum_kwargs", {}).get("point_number")
        if points is None:
            return
        for datum_id, point in zip(doc["datum_id"], points, strict=True):
            if point is not None:  # a datum without a point number names no frame of ours
                self._datums[datum_id] = (doc["resource"], int(point))

    def _add_event(self, doc: dict[str, Any]) -> None:
        self._add_event_page(event_model.pack_event_page(doc))

    def _add_event_page(self, doc: dict[str, Any]) -> None:
        desc = self._descriptors.get(doc["descriptor"])
        if desc is None:
            return
        for key in desc.external:
            values = doc["data"].get(key)
            if values is None:
                continue
            table = desc.datum_ids.setdefault(key, {})
            for seq_num, value in zip(doc["seq_num"], values, strict=True):
                if isinstance(value, str):
                    table[seq_num] = value

    # ---- queries ---------------------------------------------------------
    def fields(self) -> list[str]:
        """External data keys of all descriptors seen so far (in order)."""
        out: list[str] = []
        for desc in self._descriptors.values():
            out.extend(k for k in desc.external if k not in out)
        return out

    def locate(self, field: str, seq_num: int, stream: str | None = None) -> FrameRef:
        """Frames of event ``seq_num`` (1-based) for ``field``.

        ``stream`` picks the descriptor when several carry ``field``
        (default: "primary" if present, else the first).
        """
        desc = self._descriptor_for(field, stream)
        if not isinstance(seq_num, int) or isinstance(seq_num, bool) or seq_num < 1:
            raise FrameError(f"seq_num must be an integer >= 1, got {seq_num!r}", status=422)
        if field in desc.blocks:
            return self._locate_stream(desc, field, seq_num)
        if field in desc.datum_ids:
            return self._locate_datum(desc, field, seq_num)
        raise FrameError(f"no frames recorded yet for {field!r}", status=404)

    def _descriptor_for(self, field: str, stream: str | None) -> _Descriptor:
        cands = [d for d in self._descriptors.values() if field in d.external]
        if stream is not None:
            cands = [d for d in cands if d.name == stream]
        if not cands:
            where = f" in stream {stream!r}" if stream else ""
            raise FrameError(
                f"unknown detector field {field!r}{where}; known: {self.fields()}", status=422
            )
        return next((d for d in cands if d.name == "primary"), cands[0])

    def _locate_stream(self, desc: _Descriptor, field: str, seq_num: int) -> FrameRef:
        blocks = desc.blocks[field]
        i = bisect.bisect_right(blocks, seq_num, key=lambda b: b.seq_start) - 1
        if i < 0 or seq_num >= blocks[i].seq_stop:
            raise FrameError(f"no stream_datum yet for {field!r} event {seq_num}", status=404)
        b = blocks[i]
        n_events, n_idx = b.seq_stop - b.seq_start, b.idx_stop - b.idx_start
        if n_events <= 0 or n_idx % n_events:
            raise FrameError(
                f"stream_datum for {field!r}: {n_idx} indices do not divide over "
                f"{n_events} events",
                status=422,
            )
        per = n_idx // n_events
        start = b.idx_start + (seq_num - b.seq_start) * per
        sres = self._stream_resources[b.resource]
        if sres.get("mimetype", "application/x-hdf5") not in HDF5_MIMETYPES:
            raise FrameError(f"unsupported mimetype {sres.get('mimetype')!r}", status=422)
        dataset = sres.get("parameters", {}).get("dataset", "/entry/data/data")
        return FrameRef(self._path_of(sres), dataset, start, start + per)

    def _locate_datum(self, desc: _Descriptor, field: str, seq_num: int) -> FrameRef:
        datum_id = desc.datum_ids[field].get(seq_num)
        if datum_id is None:
            raise FrameError(f"no event {seq_num} yet for {field!r}", status=404)
        if datum_id not in self._datums:
            raise FrameError(f"datum {datum_id!r} for {field!r} not seen", status=404)
        res_uid, point = self._datums[datum_id]
        res = self._resources.get(res_uid)
        if res is None:
            raise FrameError(f"resource {res_uid!r} for {field!r} not seen", status=404)
        spec = res.get("spec")
        if spec not in AD_HDF5_SPECS:
            raise FrameError(
                f"unsupported resource spec {spec!r} (supported: {sorted(AD_HDF5_SPECS)})",
                status=422,
            )
        fpp = int(res.get("resource_kwargs", {}).get("frame_per_point", 1))
        return FrameRef(self._path_of(res), AD_HDF5_SPECS[spec], point * fpp, (point + 1) * fpp)

    def _path_of(self, res: dict[str, Any]) -> Path:
        uid = res["uid"]
        if uid not in self._paths:
            if res.get("uri"):
                self._paths[uid] = self.policy.from_uri(res["uri"])
            else:
                self._paths[uid] = self.policy.from_resource(
                    res.get("root", ""), res["resource_path"]
                )
        return self._paths[uid]

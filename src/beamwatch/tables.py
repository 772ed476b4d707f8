"""Columnar view of a run's stream, read from the archive."""

from __future__ import annotations

from beamwatch import documents as docs


def stream_table(core, uid: str, stream: str, fields: list[str] | None) -> dict[str, list]:
    """``{"seq_num": [...], "time": [...], field: [...]}`` in seq_num order.

    Raises KeyError with a clear message for an unknown stream or field.
    """
    state = core.registry.peek(uid)  # a reader thread: must not mutate the registry
    descriptors = state.streams.get(stream)
    if not descriptors:
        raise KeyError(f"run {uid[:8]} has no stream {stream!r} (streams: {', '.join(state.streams) or 'none yet'})")
    known: dict[str, None] = {}
    for d in descriptors:
        known.update(dict.fromkeys(state.descriptors[d].get("data_keys", {})))
    if fields is None:
        fields = list(known)
    missing = [f for f in fields if f not in known]
    if missing:
        raise KeyError(f"stream {stream!r} has no field {', '.join(map(repr, missing))} (fields: {', '.join(known)})")
    rows: list[tuple[int, float, dict]] = []
    for _, name, blob in core.archive.iter_documents(uid, names=["event", "event_page"], descriptors=descriptors):
        doc = docs.loads(blob)
        if name == "event":
            rows.append((doc["seq_num"], doc["time"], doc["data"]))
        else:
            data = doc["data"]
            for i, (s, t) in enumerate(zip(doc["seq_num"], doc["time"])):
                rows.append((s, t, {k: v[i] for k, v in data.items()}))
    rows.sort(key=lambda r: r[0])
    out: dict[str, list] = {"seq_num": [r[0] for r in rows], "time": [r[1] for r in rows]}
    for f in fields:
        out[f] = [r[2].get(f) for r in rows]
    return out

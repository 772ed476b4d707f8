"""Run summaries as the API shows them (status, progress)."""

from __future__ import annotations

from beamwatch import documents as docs
from beamwatch.core import Core


def summary(core: Core, row: dict) -> dict:
    status = core.registry.status(row, core.settings.stale_after)
    num = row.get("num_points")
    n = row.get("n_events") or 0
    return {
        "uid": row["uid"],
        "scan_id": row.get("scan_id"),
        "plan_name": row.get("plan_name"),
        "time_start": row.get("time_start"),
        "time_stop": row.get("time_stop"),
        "duration": (row["time_stop"] - row["time_start"]) if row.get("time_stop") else None,
        "status": status,
        "exit_status": row.get("exit_status"),
        "reason": row.get("reason"),
        "num_points": num,
        "events": n,  # in the primary stream, as num_points counts them
        "progress": (min(1.0, n / num) if num else None),
        "seq_gaps": row.get("seq_gaps") or 0,
        "last_doc_time": row.get("last_doc_time"),
        "start": docs.loads(row["start"]),
    }

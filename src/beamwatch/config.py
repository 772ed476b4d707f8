"""Settings shared by the CLI, the server and the sources."""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./beamwatch-data")
    archive_url: str | None = None  # default: SQLite file in data_dir
    zmq: list[str] = dataclasses.field(default_factory=list)
    zmq_prefix: bytes = b""
    zmq_format: str = "msgpack"  # msgpack | json | pickle (pickle needs zmq_unsafe_pickle)
    zmq_unsafe_pickle: bool = False
    max_body_bytes: int = 64 * 1024 * 1024
    ws_queue_docs: int = 20_000  # per websocket client, then resync
    stale_after: float = 3600.0  # a run with no document for this long shows "interrupted"
    data_roots: list[Path] = dataclasses.field(default_factory=list)
    path_map: list[tuple[str, str]] = dataclasses.field(default_factory=list)

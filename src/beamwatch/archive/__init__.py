"""The archive: every accepted document, persisted before it is acknowledged.

SQLAlchemy Core, so the same code runs on the embedded SQLite file (default)
and on PostgreSQL (``--archive-url postgresql+psycopg://...``).
"""

from beamwatch.archive.store import Archive, DocRow, RunQuery

__all__ = ["Archive", "DocRow", "RunQuery"]

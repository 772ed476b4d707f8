"""Table definitions (SQLAlchemy Core)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# One row per document, in the order it was accepted. ``id`` is the global
# sequence used by live subscribers to resume without gap or duplicate.
documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("run_uid", sa.String(64), nullable=False),
    sa.Column("name", sa.String(32), nullable=False),
    # identity for idempotent re-delivery (uid, datum_id, or a page key)
    sa.Column("key", sa.String(256), nullable=True),
    sa.Column("descriptor", sa.String(64), nullable=True),
    sa.Column("seq_first", sa.Integer, nullable=True),
    sa.Column("seq_last", sa.Integer, nullable=True),
    sa.Column("doc", sa.LargeBinary, nullable=False),  # orjson bytes, as received
    sa.Index("ix_documents_run", "run_uid", "id"),
    sa.Index("ix_documents_key", "key", unique=True),
    sa.Index("ix_documents_descriptor", "descriptor", "id"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("uid", sa.String(64), primary_key=True),
    sa.Column("scan_id", sa.Integer, nullable=True, index=True),
    sa.Column("plan_name", sa.String(256), nullable=True, index=True),
    sa.Column("time_start", sa.Float, nullable=False, index=True),
    sa.Column("time_stop", sa.Float, nullable=True),
    sa.Column("exit_status", sa.String(32), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("num_points", sa.Integer, nullable=True),
    sa.Column("n_events", sa.Integer, nullable=False, default=0),
    sa.Column("seq_gaps", sa.Integer, nullable=False, default=0),
    sa.Column("last_doc_time", sa.Float, nullable=True),
    sa.Column("search_text", sa.Text, nullable=False, default=""),
    sa.Column("start", sa.LargeBinary, nullable=False),  # the start document (JSON)
)

# Small shared settings (ROIs per detector field, ...), JSON values.
kv = sa.Table(
    "kv",
    metadata,
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("value", sa.LargeBinary, nullable=False),
)

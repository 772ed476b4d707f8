"""Archive: SQLAlchemy Core store for documents and run summaries.

Synchronous by design (SQLAlchemy Core + a pool); the ingest path calls it
from one dedicated worker thread so the event loop never blocks on disk.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Collection, Iterable, Iterator, Sequence

import sqlalchemy as sa

from beamwatch import documents as docs
from beamwatch.archive.schema import documents, kv, metadata, runs


@dataclasses.dataclass(slots=True)
class DocRow:
    """A document ready to be stored (``blob`` is its JSON encoding)."""

    run_uid: str
    name: str
    key: str | None
    descriptor: str | None
    seq_first: int | None
    seq_last: int | None
    blob: bytes
    id: int | None = None


@dataclasses.dataclass(slots=True)
class RunQuery:
    plan_name: str | None = None
    scan_id: int | None = None
    since: float | None = None
    until: float | None = None
    text: str | None = None
    limit: int = 50
    offset: int = 0


def sqlite_url(data_dir: str | os.PathLike) -> str:
    path = Path(data_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'archive.sqlite'}"


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a committed transaction survives a crash of the
    # process (kill -9); only a power loss could drop the last commits.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


class Archive:
    def __init__(self, url: str):
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False}
        self.engine = sa.create_engine(url, **kwargs)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    # ---------------------------------------------------------------- writes
    def append(self, rows: Sequence[DocRow], starts: Sequence[dict], stops: Sequence[dict],
               counts: dict[str, tuple[int, int, float]]) -> None:
        """Store ``rows`` and the run-summary changes in ONE transaction.

        ``counts`` maps run uid -> (events added, seq gaps added, last doc time).
        Assigns ``row.id`` (the global order) to every row.
        """
        with self.engine.begin() as conn:
            for start in starts:
                conn.execute(runs.insert().values(**_run_values(start)))
            if rows and self.dialect == "sqlite":
                _insert_sqlite(conn, rows)
            elif rows:
                result = conn.execute(
                    documents.insert().returning(documents.c.id, sort_by_parameter_order=True),
                    [
                        {
                            "run_uid": r.run_uid,
                            "name": r.name,
                            "key": r.key,
                            "descriptor": r.descriptor,
                            "seq_first": r.seq_first,
                            "seq_last": r.seq_last,
                            "doc": r.blob,
                        }
                        for r in rows
                    ],
                )
                for row, (rid,) in zip(rows, result.all()):
                    row.id = rid
            for uid, (n, gaps, t) in counts.items():
                conn.execute(
                    runs.update()
                    .where(runs.c.uid == uid)
                    .values(n_events=runs.c.n_events + n, seq_gaps=runs.c.seq_gaps + gaps, last_doc_time=t)
                )
            for stop in stops:
                conn.execute(
                    runs.update()
                    .where(runs.c.uid == stop["run_start"])
                    .values(time_stop=stop.get("time"), exit_status=stop.get("exit_status"),
                            reason=stop.get("reason") or None)
                )

    def existing(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Stored documents for these identities (for idempotent re-delivery)."""
        out: dict[str, bytes] = {}
        keys = list(keys)
        with self.engine.connect() as conn:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                for key, blob in conn.execute(
                    sa.select(documents.c.key, documents.c.doc).where(documents.c.key.in_(chunk))
                ):
                    out[key] = blob
        return out

    def kv_get(self, key: str) -> Any | None:
        with self.engine.connect() as conn:
            blob = conn.execute(sa.select(kv.c.value).where(kv.c.key == key)).scalar()
        return None if blob is None else docs.loads(blob)

    def kv_set(self, key: str, value: Any) -> None:
        blob = docs.dumps(value)
        with self.engine.begin() as conn:
            n = conn.execute(kv.update().where(kv.c.key == key).values(value=blob)).rowcount
            if not n:
                conn.execute(kv.insert().values(key=key, value=blob))

    # ----------------------------------------------------------------- reads
    def max_id(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(documents.c.id))).scalar() or 0

    def owner(self, name: str, key: str) -> str | None:
        """Run uid of the document ``name`` with identity ``key``."""
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(documents.c.run_uid).where(documents.c.key == key, documents.c.name == name)
            ).scalar()

    def documents(self, run_uid: str | None = None, after_id: int = 0, limit: int | None = None,
                  names: Sequence[str] | None = None, descriptors: Sequence[str] | None = None,
                  ) -> list[tuple[int, str, bytes]]:
        """(id, name, json bytes) in acceptance order."""
        q = _select_documents((documents.c.id, documents.c.name, documents.c.doc), after_id, limit,
                              run_uid=run_uid, names=names, descriptors=descriptors)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(q)]

    def documents_of(self, run_uids: frozenset[str] | None, after_id: int, limit: int
                     ) -> list[tuple[int, str, str, bytes]]:
        """(id, run_uid, name, json bytes) after ``after_id`` for these runs (None: all)."""
        if run_uids is not None and not run_uids:
            return []
        q = _select_documents((documents.c.id, documents.c.run_uid, documents.c.name, documents.c.doc),
                              after_id, limit, run_uids=run_uids)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(q)]

    def first_id(self, run_uids: str | Iterable[str]) -> int | None:
        """The smallest document id of one run, or of several (None: no document)."""
        return self._id_of(sa.func.min, run_uids)

    def last_id(self, run_uids: str | Iterable[str]) -> int | None:
        """The largest document id of one run, or of several (None: no document)."""
        return self._id_of(sa.func.max, run_uids)

    def _id_of(self, agg, run_uids: str | Iterable[str]) -> int | None:
        if isinstance(run_uids, str):
            cond = documents.c.run_uid == run_uids
        else:
            run_uids = list(run_uids)
            if not run_uids:
                return None
            cond = documents.c.run_uid.in_(run_uids)
        with self.engine.connect() as conn:
            return conn.execute(sa.select(agg(documents.c.id)).where(cond)).scalar()

    def iter_documents(self, run_uid: str, page: int = 5000, after: int = 0,
                       **kw) -> Iterator[tuple[int, str, bytes]]:
        while True:
            batch = self.documents(run_uid, after_id=after, limit=page, **kw)
            yield from batch
            if len(batch) < page:
                return
            after = batch[-1][0]

    def last_seq(self, run_uid: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                d: s
                for d, s in conn.execute(
                    sa.select(documents.c.descriptor, sa.func.max(documents.c.seq_last))
                    .where(documents.c.run_uid == run_uid, documents.c.descriptor.is_not(None),
                           documents.c.name.in_(["event", "event_page"]))
                    .group_by(documents.c.descriptor)
                )
            }

    def event_counts(self, run_uid: str) -> dict[str, int]:
        """Events received per descriptor (event pages counted by their seq_num span)."""
        span = documents.c.seq_last - documents.c.seq_first + 1
        with self.engine.connect() as conn:
            return {
                d: int(n or 0)
                for d, n in conn.execute(
                    sa.select(documents.c.descriptor, sa.func.sum(span))
                    .where(documents.c.run_uid == run_uid, documents.c.name.in_(["event", "event_page"]))
                    .group_by(documents.c.descriptor)
                )
            }

    def run_row(self, uid: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.uid == uid)).mappings().first()
        return dict(row) if row else None

    def resolve(self, ident: str) -> list[str]:
        """Run uids matching a scan id (newest first) or a uid prefix."""
        ident = ident.strip()
        with self.engine.connect() as conn:
            if ident.isdigit() and len(ident) < 10:
                q = sa.select(runs.c.uid).where(runs.c.scan_id == int(ident)).order_by(runs.c.time_start.desc())
                hits = [r for (r,) in conn.execute(q.limit(1))]
                if hits:
                    return hits
            exact = conn.execute(sa.select(runs.c.uid).where(runs.c.uid == ident)).scalar()
            if exact:
                return [exact]
            q = sa.select(runs.c.uid).where(runs.c.uid.startswith(ident, autoescape=True)).limit(5)
            return [r for (r,) in conn.execute(q)]

    def search(self, query: RunQuery) -> tuple[list[dict], int]:
        cond = []
        if query.plan_name:
            cond.append(runs.c.plan_name == query.plan_name)
        if query.scan_id is not None:
            cond.append(runs.c.scan_id == query.scan_id)
        if query.since is not None:
            cond.append(runs.c.time_start >= query.since)
        if query.until is not None:
            cond.append(runs.c.time_start <= query.until)
        if query.text:
            for word in query.text.lower().split():
                cond.append(runs.c.search_text.contains(word, autoescape=True))
        where = sa.and_(*cond) if cond else sa.true()
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(runs).where(where)).scalar()
            rows = conn.execute(
                sa.select(runs).where(where).order_by(runs.c.time_start.desc(), runs.c.uid)
                .limit(query.limit).offset(query.offset)
            ).mappings().all()
        return [dict(r) for r in rows], int(total or 0)

    def run_documents(self, uid: str, names: Sequence[str]) -> list[tuple[str, dict]]:
        return [(n, docs.loads(b)) for _, n, b in self.documents(uid, names=names)]


_SQLITE_INSERT = ("INSERT INTO documents (id, run_uid, name, key, descriptor, seq_first, seq_last, doc) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def _insert_sqlite(conn, rows: Sequence[DocRow]) -> None:
    """Insert ``rows`` in order and set their ids, with one executemany.

    SQLAlchemy's ``RETURNING ... sort_by_parameter_order`` runs one INSERT per
    row on SQLite (it cannot batch it there), which was most of the ingest
    time. The first row's INSERT takes SQLite's write lock for the rest of the
    transaction and returns max(id) + 1; nobody else can insert until commit,
    so the ids after it are ours to assign.
    """
    first = rows[0]
    first.id = conn.execute(
        documents.insert().returning(documents.c.id),
        {"run_uid": first.run_uid, "name": first.name, "key": first.key, "descriptor": first.descriptor,
         "seq_first": first.seq_first, "seq_last": first.seq_last, "doc": first.blob},
    ).scalar_one()
    params = []
    for i, r in enumerate(rows[1:], 1):
        r.id = first.id + i
        params.append((r.id, r.run_uid, r.name, r.key, r.descriptor, r.seq_first, r.seq_last, r.blob))
    if params:
        conn.exec_driver_sql(_SQLITE_INSERT, params)


def _select_documents(columns, after_id: int, limit: int | None, *, run_uid: str | None = None,
                      run_uids: Collection[str] | None = None, names: Sequence[str] | None = None,
                      descriptors: Sequence[str] | None = None) -> sa.Select:
    """``columns`` of the documents after ``after_id`` in id order, filtered (None/empty: no filter)."""
    q = sa.select(*columns).where(documents.c.id > after_id)
    if run_uid is not None:
        q = q.where(documents.c.run_uid == run_uid)
    if run_uids is not None:
        q = q.where(documents.c.run_uid.in_(list(run_uids)))
    if names:
        q = q.where(documents.c.name.in_(list(names)))
    if descriptors:
        q = q.where(documents.c.descriptor.in_(list(descriptors)))
    q = q.order_by(documents.c.id)
    return q.limit(limit) if limit else q


def _run_values(start: dict) -> dict:
    scan_id = start.get("scan_id")
    blob = docs.dumps(start)
    return {
        "uid": start["uid"],
        "scan_id": scan_id if isinstance(scan_id, int) and not isinstance(scan_id, bool) else None,
        "plan_name": start.get("plan_name"),
        "time_start": start["time"],
        "num_points": start.get("num_points") if isinstance(start.get("num_points"), int) else None,
        "n_events": 0,
        "seq_gaps": 0,
        "last_doc_time": start["time"],
        # the metadata a person searches; not the uid, whose random hex would match words like "ada"
        # (uids are found by prefix, see resolve())
        "search_text": docs.dumps({k: v for k, v in start.items() if k != "uid"}).decode().lower(),
        "start": blob,
    }

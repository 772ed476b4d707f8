"""Shared fixtures.

Services: PostgreSQL (127.0.0.1:5432, trust auth) and Redis (127.0.0.1:6379).
Outside CI a missing service skips the tests that need it, with the reason;
under ``CI=true`` it is a failure, never a silent skip.

Archives: ``archive_url`` is parametrised over ``sqlite`` and ``postgres``;
each PostgreSQL test gets a fresh schema in one uniquely-named database
created for the session and dropped after it.
"""

from __future__ import annotations

import itertools
import os
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py

from helpers import ServerThread  # noqa: E402

from beamwatch.config import Settings  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_URL = os.environ.get("BEAMWATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")


def service_missing(what: str, why: str) -> None:
    """Skip (with the reason) outside CI; fail under CI=true."""
    msg = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(f"{msg} (CI=true: a missing service is a failure, not a skip)", pytrace=False)
    pytest.skip(msg)


# --------------------------------------------------------------------------- PostgreSQL
def _pg_connect(dbname: str):
    import psycopg

    last = None
    for user in ("postgres", "root"):
        try:
            return psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname=dbname, autocommit=True,
                                   connect_timeout=3), user
        except Exception as exc:  # noqa: BLE001 - reported below
            last = exc
    raise last  # type: ignore[misc]


@pytest.fixture(scope="session")
def pg_database():
    """A uniquely-named database for this session (dropped after); yields (user, dbname)."""
    try:
        conn, user = _pg_connect("test")
    except Exception as exc:  # noqa: BLE001
        service_missing(f"PostgreSQL at {PG_HOST}:{PG_PORT}", str(exc).strip().splitlines()[0] if str(exc) else repr(exc))
    dbname = f"beamwatch_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn.execute(f'CREATE DATABASE "{dbname}"')
    try:
        yield user, dbname
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.close()


_schemas = itertools.count()


@pytest.fixture
def postgres_url(pg_database):
    """SQLAlchemy URL of a fresh, empty schema in the session database."""
    user, dbname = pg_database
    schema = f"t{next(_schemas)}_{uuid.uuid4().hex[:6]}"
    conn, _ = _pg_connect(dbname)
    conn.execute(f'CREATE SCHEMA "{schema}"')
    conn.close()
    yield f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{dbname}?options=-csearch_path%3D{schema}"
    conn, _ = _pg_connect(dbname)
    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'archive.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def archive_url(request, tmp_path):
    """Each test using it runs against the embedded SQLite file and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'archive.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def archive(archive_url):
    from beamwatch.archive import Archive

    a = Archive(archive_url)
    yield a
    a.close()


# --------------------------------------------------------------------------- Redis
@pytest.fixture(scope="session")
def redis_url():
    """URL of the local Redis (db 0); others' tests use it for the Redis hub."""
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001
        service_missing(f"Redis at {REDIS_URL}", str(exc) or repr(exc))
    return REDIS_URL


# --------------------------------------------------------------------------- servers
def make_settings(tmp_path: Path, archive_url: str | None = None, **kw) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    return Settings(data_dir=data_dir, archive_url=archive_url, **kw)


@pytest.fixture
def make_server(tmp_path):
    """Factory: ``make_server(archive_url=None, **settings)`` -> started ServerThread
    (uvicorn in a thread, real sockets); all are stopped after the test."""
    started: list[ServerThread] = []

    def factory(archive_url: str | None = None, extra_sources=(), **kw) -> ServerThread:
        srv = ServerThread(make_settings(tmp_path, archive_url, **kw), extra_sources=extra_sources).start()
        started.append(srv)
        return srv

    yield factory
    for srv in reversed(started):
        srv.stop()


@pytest.fixture
def server(make_server):
    """A beamwatch server on the embedded SQLite archive."""
    return make_server()


@pytest.fixture
def any_server(make_server, archive_url):
    """A beamwatch server, parametrised over the SQLite and PostgreSQL archives."""
    return make_server(archive_url)


@pytest.fixture(scope="session")
def beamline_factory():
    """Build a Beamline (real RunEngine + ophyd-async sim devices)."""
    from helpers import Beamline

    return Beamline

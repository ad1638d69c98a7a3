"""Engine and session plumbing. The one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

from haven.db.base import Base, utcnow

__all__ = ["Base", "Database", "utcnow"]


def _configure_sqlite(engine: Engine) -> None:
    """WAL for concurrent readers, and BEGIN IMMEDIATE for writers so they queue instead of deadlocking."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        write = conn.get_execution_options().get("haven_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=20, max_overflow=20)
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, pool_size=20, max_overflow=20)
    _configure_postgres(engine)
    return engine


def _configure_postgres(engine: Engine) -> None:
    """Plan every statement for its parameters and without JIT, and check a pooled connection without a round trip.

    psycopg prepares a statement run five times on a connection, and PostgreSQL then switches a prepared
    statement to a generic plan, blind to its parameters, when that looks no dearer on average: at 1M
    repositories the search walk for `mistral gguf` went from 25-29 ms to 65-70 ms per page once it did.
    `force_custom_plan` keeps the preparation (no parsing again) and plans each run for its values.
    JIT is off: it compiles a statement whose estimate passes `jit_above_cost` (100,000 by default; some
    listing statements estimate 35,000-44,000 at 1M repositories), which costs tens of milliseconds, more
    than any of Haven's statements runs.

    `pool_pre_ping` sent `;` on every checkout (a round trip per request); a connection the server closed
    (restart, terminated backend) has its socket readable (the server's goodbye, then EOF), so only such a
    socket is pinged, and one that fails is replaced, as pre-ping would."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True  # a session setting, outside any transaction
        dbapi_conn.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_conn.execute("SET jit = off")
        dbapi_conn.autocommit = autocommit

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, _record, _proxy) -> None:  # type: ignore[no-untyped-def]
        if _readable(dbapi_conn) and not _pings(engine, dbapi_conn):
            raise exc.DisconnectionError("the server closed the pooled connection")


def _readable(dbapi_conn: Any) -> bool:
    """Whether an idle connection has something to read (which an idle, healthy one never has but for a
    rare notice), or is closed or broken."""
    if dbapi_conn.closed or dbapi_conn.broken:
        return True
    poller = select.poll()
    try:
        poller.register(dbapi_conn.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
    except (OSError, ValueError):
        return True
    return bool(poller.poll(0))


def _pings(engine: Engine, dbapi_conn: Any) -> bool:
    try:
        return bool(engine.dialect.do_ping(dbapi_conn))
    except Exception:
        return False


class Database:
    """Hands out sessions: `read()` for queries, `write()` for a transaction that commits on success."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # On PostgreSQL reads run outside a transaction: its READ COMMITTED gives each statement its own
        # snapshot anyway, and this spares psycopg's BEGIN and the pool's ROLLBACK (a round trip each).
        reads = self.engine if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read = sessionmaker(reads, expire_on_commit=False)
        self._write = sessionmaker(self.engine.execution_options(haven_write=True), expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._write() as session, session.begin():
            yield session

    def migrate(self) -> None:
        from haven.db.migrate import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

"""The engine adapter: what a session costs on each engine, and how a pooled connection that died is replaced.

On PostgreSQL a read runs outside a transaction (its statements take their own snapshots under READ
COMMITTED anyway) and a pooled connection is checked without a round trip; one the server closed must
still be replaced unseen, as `pool_pre_ping` did.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from haven.db import Database


@pytest.fixture
def pg(db: Database) -> Database:
    if db.is_sqlite:
        pytest.skip("PostgreSQL only")
    return db


def test_a_read_sees_what_writes_committed(db: Database) -> None:
    with db.write() as session:
        session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(20))"))
        session.execute(text("INSERT INTO notes VALUES (1, 'one')"))
    with db.read() as session:
        assert session.scalar(text("SELECT body FROM notes WHERE id = 1")) == "one"
    with db.write() as session:
        session.execute(text("UPDATE notes SET body = 'two' WHERE id = 1"))
    with db.read() as session:
        assert session.scalar(text("SELECT body FROM notes WHERE id = 1")) == "two"


def test_a_postgres_read_holds_no_transaction(pg: Database) -> None:
    """No BEGIN before a read's first statement, so no ROLLBACK when its connection goes back to the pool."""
    with pg.read() as session:
        session.scalar(text("SELECT 1"))
        dbapi_conn = session.connection().connection.dbapi_connection
        assert dbapi_conn is not None
        assert dbapi_conn.info.transaction_status.name == "IDLE"
    with pg.write() as session:
        session.scalar(text("SELECT 1"))
        dbapi_conn = session.connection().connection.dbapi_connection
        assert dbapi_conn is not None
        assert dbapi_conn.info.transaction_status.name == "INTRANS", "writes stay transactions"


def test_postgres_plans_each_statement_for_its_parameters_without_jit(pg: Database) -> None:
    """psycopg prepares statements it runs often; PostgreSQL must not then plan them blind to their values,
    nor spend longer compiling a statement than running it."""
    for session_of in (pg.read, pg.write):
        with session_of() as session:
            assert session.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
            assert session.scalar(text("SHOW jit")) == "off"


def test_a_pooled_connection_the_server_closed_is_replaced_unseen(pg: Database) -> None:
    with pg.read() as session:
        victim = session.scalar(text("SELECT pg_backend_pid()"))
    admin = create_engine(pg.url, isolation_level="AUTOCOMMIT")  # another client, as an operator's psql
    with admin.connect() as other:
        # (waits until the backend is gone: a request in the instant before would see the error, pinged or not)
        assert other.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": victim})
    admin.dispose()
    for _ in range(3):  # the terminated connection is back in the pool: whichever read gets it must not fail
        with pg.read() as session:
            assert session.scalar(text("SELECT pg_backend_pid()")) != victim
    with pg.write() as session:
        assert session.scalar(text("SELECT 1")) == 1

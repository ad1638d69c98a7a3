"""Servers of a test's own for the operations tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import Hub, _seed
from tests.support import Postgres, Server, tempdir


def own_hub(pg: Postgres | None = None, **env: str) -> Hub:
    """A seeded server of the test's own (SQLite, or PostgreSQL when `pg` is given)."""
    root = tempdir("haven-ops-")
    url = pg.create_database(f"haven_{uuid.uuid4().hex[:8]}") if pg else None
    server = Server(root / "data", database_url=url, extra_env=dict(env))
    server.data_dir.mkdir(parents=True)
    tokens, read_tokens = _seed(server)
    server.start()
    return Hub(server, "postgres" if pg else "sqlite", tokens, read_tokens)


@pytest.fixture(scope="module")
def two_workers() -> Iterator[Hub]:
    """A server with two worker processes and JSON logs, shared by a module's tests that leave it running."""
    hub = own_hub(HAVEN_WORKERS="2", HAVEN_LOG_FORMAT="json")
    yield hub
    hub.server.stop()

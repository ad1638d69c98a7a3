"""Servers of a test's own for the operations tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Hub, start_hub
from tests.support import Postgres


def own_hub(pg: Postgres | None = None, **env: str) -> Hub:
    """A seeded server of the test's own (SQLite, or PostgreSQL when `pg` is given)."""
    return start_hub("haven-ops-", pg, env)


@pytest.fixture(scope="module")
def two_workers() -> Iterator[Hub]:
    """A server with two worker processes and JSON logs, shared by a module's tests that leave it running."""
    hub = own_hub(HAVEN_WORKERS="2", HAVEN_LOG_FORMAT="json")
    yield hub
    hub.server.stop()

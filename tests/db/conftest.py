"""A bare database of its own per test, on each engine (nothing migrated)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from haven.db import Database
from tests.support import Postgres, tempdir


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, postgres: Postgres | None) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tempdir('haven-engine-') / 'haven.db'}"
    elif postgres is None:
        pytest.skip("PostgreSQL is not installed")
    else:
        url = postgres.create_database(f"haven_engine_{uuid.uuid4().hex[:8]}")
    database = Database(url)
    yield database
    database.dispose()

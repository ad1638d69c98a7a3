"""The job tests' database: SQLite and PostgreSQL, migrated."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from haven.db import Database
from tests.support import Postgres, tempdir


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tempdir('haven-jobs-') / 'jobs.db'}"
    else:
        pg: Postgres | None = request.getfixturevalue("postgres")
        if pg is None:
            pytest.skip("PostgreSQL is not installed")
        url = pg.create_database(f"jobs_{uuid.uuid4().hex[:8]}")
    database = Database(url)
    database.migrate()
    yield database
    database.dispose()

"""A migrated database per backend (SQLite file, PostgreSQL database in the session's private cluster),
with a few accounts, for in-process tests of the search index, the listing planner and the signals."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from haven import search
from haven.auth import service as accounts
from haven.auth.models import Account
from haven.auth.permissions import Actor
from haven.db import Database
from haven.repos.models import Repo
from haven.repos.tagsig import store_tags
from tests.support import Postgres, tempdir

ANON = Actor()


@pytest.fixture(scope="session")
def sqlite_db() -> Iterator[Database]:
    db = Database(f"sqlite:///{tempdir('haven-search-') / 'haven.db'}")
    db.migrate()
    _seed(db)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def postgres_db(postgres: Postgres | None) -> Iterator[Database]:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed")
    db = Database(postgres.create_database(f"search_{uuid.uuid4().hex[:8]}"))
    db.migrate()
    _seed(db)
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> Database:
    return request.getfixturevalue(f"{request.param}_db")


def _seed(db: Database) -> None:
    with db.write() as session:
        for name in ("ann", "ben"):
            accounts.create_user(session, name, email=f"{name}@example.org")


def owner_id(db: Database, name: str) -> int:
    with db.read() as session:
        return session.scalars(select(Account.id).where(Account.name == name)).one()


def add_repo(
    db: Database,
    full_id: str,
    *,
    readme: str = "",
    tags: tuple[str, ...] = (),
    repo_type: str = "model",
    private: bool = False,
    **columns: object,
) -> int:
    """A repository row (no git behind it) indexed as a commit would index it."""
    namespace, name = full_id.split("/")
    with db.write() as session:
        row = Repo(
            type=repo_type,
            owner_id=session.scalars(select(Account.id).where(Account.name == namespace)).one(),
            namespace=namespace,
            name=name,
            full_id=full_id,
            storage_key=uuid.uuid4().hex,
            private=private,
            **columns,
        )
        session.add(row)
        session.flush()
        store_tags(session, row, list(tags))
        search.index_card(session, row.id, full_id, readme, list(tags))
        return row.id


def unique(prefix: str = "q") -> str:
    """A fresh lower-case word of letters only (digits would be terms of their own in camel-case names)."""
    return prefix + uuid.uuid4().hex[:8].translate(str.maketrans("0123456789", "ghijklmnop"))

"""Tag counts (the listing's facets) are cached FACET_TTL seconds; once expired, a caller that can open a
session of its own (the API) is answered the old count while one thread counts again, so that no request
waits for a count (seconds at a million repositories)."""

from __future__ import annotations

import time

import pytest

from haven.db import Database
from haven.repos import listing
from haven.repos.listing import Query, count_tags
from tests.search.conftest import ANON, add_repo, unique

TTL = 0.2


def alpha(db: Database, q: Query, **kwargs: object) -> int:
    with db.read() as session:
        return dict(count_tags(session, ANON, q, **kwargs).counts).get("alpha", 0)  # type: ignore[arg-type]


@pytest.fixture
def counted_once(sqlite_db: Database, monkeypatch: pytest.MonkeyPatch) -> Query:
    """A query whose count (kept TTL seconds) was taken with one repository tagged `alpha`; a second one
    was tagged after."""
    monkeypatch.setattr(listing._facet_cache, "ttl", TTL)
    word = unique("fc")
    q = Query(repo_type="model", search=[word])
    add_repo(sqlite_db, f"ann/{word}-1", readme=word, tags=("alpha",))
    assert alpha(sqlite_db, q) == 1
    add_repo(sqlite_db, f"ann/{word}-2", readme=word, tags=("alpha",))
    return q


def test_an_expired_count_is_answered_while_a_thread_counts_again(sqlite_db: Database, counted_once: Query) -> None:
    q = counted_once
    assert alpha(sqlite_db, q, reopen=sqlite_db.read) == 1  # still fresh: the cached count
    time.sleep(TTL * 1.5)
    assert alpha(sqlite_db, q, reopen=sqlite_db.read) == 1  # expired: answered at once, recounted aside
    deadline = time.monotonic() + 30
    while alpha(sqlite_db, q, reopen=sqlite_db.read) != 2:
        assert time.monotonic() < deadline, "the expired count was never recounted"
        time.sleep(0.05)


def test_without_a_session_of_its_own_the_caller_counts_an_expired_entry_itself(
    sqlite_db: Database, counted_once: Query
) -> None:
    time.sleep(TTL * 1.5)
    assert alpha(sqlite_db, counted_once) == 2


def test_a_count_expired_too_long_ago_is_counted_by_the_caller(
    sqlite_db: Database, counted_once: Query, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing._facet_cache, "stale", TTL / 2)
    time.sleep(TTL * 2)
    assert alpha(sqlite_db, counted_once, reopen=sqlite_db.read) == 2

"""The repository write lock excludes writers in other processes, and dies with its holder.

On PostgreSQL it is an advisory lock (hosts sharing a storage volume cannot trust flock on it); on SQLite an
flock. Each backend is driven from a second, real process, as a second server process would hold it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from haven.db import Database
from haven.errors import Conflict
from haven.repos.locks import repo_lock
from tests.support import Postgres, tempdir


@dataclass
class Row:
    id: int


@dataclass
class FakeRepo:
    """Just what the lock reads of a repository (a RepoRef's row id and directory)."""

    row: Row
    path: Path


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, postgres: Postgres | None) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tempdir('haven-locks-') / 'haven.db'}"
    if postgres is None:
        pytest.skip("PostgreSQL is not installed")
    return postgres.create_database(f"haven_locks_{uuid.uuid4().hex[:8]}")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def repo() -> FakeRepo:
    return FakeRepo(Row(7), tempdir("haven-locks-repo-"))


def hold_in_other_process(db_url: str, repo: FakeRepo, seconds: float) -> subprocess.Popen[str]:
    """A second process that takes the lock, says so on stdout, and keeps it for `seconds`."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from haven.db import Database
        from haven.repos.locks import repo_lock
        from tests.repos.test_locks import FakeRepo, Row
        with repo_lock(Database({db_url!r}), FakeRepo(Row({repo.row.id}), Path({str(repo.path)!r}))):
            print("held", flush=True)
            time.sleep({seconds})
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_lock_held_by_another_process_keeps_writers_out_until_released(
    db: Database, db_url: str, repo: FakeRepo
) -> None:
    holder = hold_in_other_process(db_url, repo, 1.5)
    with pytest.raises(Conflict), repo_lock(db, repo, timeout=0.3):
        pass
    started = time.monotonic()
    with repo_lock(db, repo, timeout=10):
        waited = time.monotonic() - started
    assert holder.wait(5) == 0
    assert waited > 0.5  # it really waited for the other process


def test_a_killed_holder_leaves_no_lock_behind(db: Database, db_url: str, repo: FakeRepo) -> None:
    holder = hold_in_other_process(db_url, repo, 60)
    holder.kill()
    holder.wait()
    with repo_lock(db, repo, timeout=10):
        pass


def test_other_repositories_are_not_blocked(db: Database, db_url: str, repo: FakeRepo) -> None:
    holder = hold_in_other_process(db_url, repo, 30)
    try:
        other = FakeRepo(Row(repo.row.id + 1), tempdir("haven-locks-repo-"))
        with repo_lock(db, other, timeout=1):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_threads_of_one_process_exclude_each_other(db: Database, repo: FakeRepo) -> None:
    import threading

    inside = 0
    overlaps = 0
    guard = threading.Lock()

    def writer() -> None:
        nonlocal inside, overlaps
        for _ in range(5):
            with repo_lock(db, repo, timeout=30):
                with guard:
                    inside += 1
                    overlaps += inside > 1
                time.sleep(0.005)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == 0

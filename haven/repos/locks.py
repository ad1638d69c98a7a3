"""Per-repository write lock, held across threads, processes and (on PostgreSQL) hosts.

SQLite means one host: an flock on a file in the repository serialises its writers. PostgreSQL may have
several hosts sharing one storage volume, where flock is unreliable (NFS and friends), so the lock is a
PostgreSQL advisory lock keyed by the repository id, which every host sees the same. Either lock dies
with its holder (the file is closed, the connection drops), so a killed process never leaves one behind.
A lock lost with the database connection is not a hazard for the data: every ref move is a git
compare-and-swap against the head the commit was built on, the lock only avoids wasted work and keeps
the metadata updates in commit order.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, text

from haven.db import Database
from haven.errors import Conflict

log = logging.getLogger("haven.locks")

# First half of the two-int advisory lock key, so Haven's locks never collide with another application's
# sharing the database; the second half is the repository id.
NAMESPACE = 0x48617665  # "Have"
TIMEOUT = 60.0


class _Row(Protocol):
    id: int


class Lockable(Protocol):
    """What the lock needs of a repository (a RepoRef): its id and its directory."""

    @property
    def row(self) -> _Row: ...

    @property
    def path(self) -> Path: ...


@contextmanager
def repo_lock(db: Database, repo: Lockable, timeout: float = TIMEOUT) -> Iterator[None]:
    """Exclusive write access to one repository; Conflict after `timeout` seconds of waiting."""
    if db.is_sqlite:
        with file_lock(repo.path / "haven.lock", timeout):
            yield
    else:
        with advisory_lock(db, repo.row.id, timeout):
            yield


@dataclass(frozen=True)
class _Id:
    id: int


@dataclass(frozen=True)
class RepoAt:
    """A repository known by id and directory only (maintenance and mirror code holds no RepoRef)."""

    repo_id: int
    path: Path

    @property
    def row(self) -> _Row:
        return _Id(self.repo_id)


@contextmanager
def file_lock(path: Path, timeout: float = TIMEOUT) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _poll(lambda: _try_flock(fd), timeout)
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process dies


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def advisory_lock(db: Database, key: int, timeout: float = TIMEOUT) -> Iterator[None]:
    """A session-level advisory lock on its own connection. Waiters poll with pg_try_advisory_lock and give
    their connection back between tries, so many writers queued on one repository cannot drain the pool
    the holder needs for its own metadata transaction."""
    held: list[Connection] = []

    def attempt() -> bool:
        conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = conn.scalar(text("SELECT pg_try_advisory_lock(:ns, :key)"), {"ns": NAMESPACE, "key": key})
        except Exception:
            conn.close()
            raise
        if got:
            held.append(conn)
            return True
        conn.close()
        return False

    _poll(attempt, timeout)
    conn = held[0]
    try:
        yield
    finally:
        _unlock(conn, key)


def _unlock(conn: Connection, key: int) -> None:
    try:
        conn.execute(text("SELECT pg_advisory_unlock(:ns, :key)"), {"ns": NAMESPACE, "key": key})
    except Exception:  # the connection died, and the lock with it; never pool a connection that may hold it
        log.warning("could not release the advisory lock of repository %d; dropping its connection", key)
        conn.invalidate()
    finally:
        conn.close()


def _poll(attempt: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not attempt():
        if time.monotonic() > deadline:
            raise Conflict("The repository is busy with another commit; try again")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)

"""A process killed right after a commit moved its ref, before it recorded the rest (the head of main, the
card, the jobs a move of main sets off), leaves the database knowing every LFS object the commit references:
commits record them (and count them in used storage) before the ref moves. After a restart, the next commit
records the head of main, and `haven fsck` finds nothing without `--repair`.

The moment is made exact with PostgreSQL: a transaction of the test's own holds the jobs table (SHARE mode),
so the server's bookkeeping after the move, which queues jobs, waits on it while the test kills the server.
"""

from __future__ import annotations

import contextlib
import threading
import uuid

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import Hub
from tests.faults.conftest import add, commit, fsck, git_ref, repo_dir_of, start_hub
from tests.support import Postgres, wait_for


def test_a_process_killed_after_moving_a_ref_leaves_nothing_to_repair(postgres: Postgres | None) -> None:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed")
    hub = start_hub("postgres", postgres)
    try:
        repo_id = f"alice/killed-{uuid.uuid4().hex[:8]}"
        hub.api().create_repo(repo_id)
        repo_dir = repo_dir_of(hub, repo_id)
        before = git_ref(repo_dir, "refs/heads/main")
        assert hub.server.database_url is not None
        engine = create_engine(hub.server.database_url)
        with engine.connect() as conn, conn.begin():
            conn.execute(text("LOCK TABLE jobs IN SHARE MODE"))
            # weights.bin is an LFS file by the repository's .gitattributes: the commit stores it as a new object.
            sender = threading.Thread(target=_send, args=(hub, repo_id, "weights.bin"), daemon=True)
            sender.start()
            wait_for(lambda: git_ref(repo_dir, "refs/heads/main") != before, timeout=60, what="main to move")
            hub.server.kill()
        engine.dispose()
        sender.join(30)
        hub.server.start()
        assert _send(hub, repo_id, "README.md") == 200
        assert fsck(hub) == []
    finally:
        hub.server.stop()


def _send(hub: Hub, repo_id: str, path: str) -> int:
    """A commit adding `path`: its status, 0 when the server died under it."""
    with contextlib.suppress(httpx.HTTPError), httpx.Client(base_url=hub.url, timeout=120) as http:
        return commit(http, hub, repo_id, [add(path, b"bytes " + uuid.uuid4().bytes)]).status_code
    return 0

"""Two Haven processes on one PostgreSQL and one data directory, as two hosts behind a load balancer would run.

Commits to one branch from both never lose an update (the repository lock is a PostgreSQL advisory lock,
and every ref move a compare-and-swap); a PostgreSQL restart under load gives clients errors, never
corruption, and Haven recovers by itself; kill -9 of one process in the middle of uploads and commits leaves
the other serving, every branch at a complete commit and every file whole.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from tests.conftest import Hub, _seed
from tests.faults.conftest import (
    add,
    add_lfs,
    blob_path,
    commit,
    download,
    files,
    fsck,
    lfs_batch,
    repo_dir_of,
    sha256,
)
from tests.support import Postgres, Server, tempdir, wait_for


@dataclass
class Fleet:
    pg: Postgres
    a: Hub
    b: Hub

    @property
    def hubs(self) -> list[Hub]:
        return [self.a, self.b]


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    """A PostgreSQL cluster of the module's own (it gets restarted) and two servers sharing it and one data dir."""
    if not Postgres.available():
        pytest.skip("PostgreSQL is not installed")
    pg = Postgres(tempdir("haven-pg-fleet-"))
    pg.start()
    url = pg.create_database("haven_fleet")
    data = tempdir("haven-fleet-") / "data"
    data.mkdir()
    servers = [Server(data, database_url=url) for _ in range(2)]
    tokens, read_tokens = _seed(servers[0])
    for server in servers:
        server.start()
    yield Fleet(pg, *(Hub(s, "postgres", tokens, read_tokens) for s in servers))
    for server in servers:
        server.stop()
    pg.stop()


def new_repo(fleet: Fleet) -> str:
    repo_id = f"alice/fleet-{uuid.uuid4().hex[:8]}"
    fleet.a.api().create_repo(repo_id)
    return repo_id


@dataclass
class Ledger:
    """What the servers acknowledged: path -> content."""

    acked: dict[str, bytes] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)  # of the failures; 0: no answer at all
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, path: str, content: bytes, status: int) -> None:
        with self.lock:
            if status == 200:
                self.acked[path] = content
            else:
                self.statuses[status] += 1

    @property
    def failures(self) -> int:
        return sum(self.statuses.values())


def commit_one(http: httpx.Client, hub: Hub, repo_id: str, path: str, lfs: bool) -> tuple[int, bytes]:
    """One commit adding `path` (an LFS object uploaded first when `lfs`): the status of the step that failed,
    or of the commit; 0 when the connection failed."""
    try:
        if lfs:
            data = os.urandom(120_000)
            (obj,) = lfs_batch(http, hub, repo_id, [(sha256(data), len(data))])
            if "upload" in obj.get("actions", {}):
                put = http.put(obj["actions"]["upload"]["href"], content=data)
                if put.status_code != 200:
                    return put.status_code, data
            return commit(http, hub, repo_id, [add_lfs(path, sha256(data), len(data))]).status_code, data
        data = f"{path} {uuid.uuid4()}".encode()
        return commit(http, hub, repo_id, [add(path, data)]).status_code, data
    except httpx.HTTPStatusError as e:
        return e.response.status_code, b""
    except httpx.HTTPError:
        return 0, b""


def committer(hub: Hub, repo_id: str, name: str, ledger: Ledger, stop: threading.Event, limit: int = 10**9) -> None:
    """Commit new files (every third one through LFS) until stopped, recording what was acknowledged."""
    with httpx.Client(base_url=hub.url, timeout=30) as http:
        for i in range(limit):
            if stop.is_set():
                return
            path = f"{name}/f{i}.bin"
            status, data = commit_one(http, hub, repo_id, path, lfs=i % 3 == 2)
            ledger.record(path, data, status)
            if status != 200:
                time.sleep(0.05)


def run_committers(
    hubs: list[Hub], repo_id: str, per_hub: int, ledger: Ledger, stop: threading.Event, limit: int = 10**9
) -> list[threading.Thread]:
    threads = [
        threading.Thread(target=committer, args=(hub, repo_id, f"p{h}t{t}", ledger, stop, limit))
        for h, hub in enumerate(hubs)
        for t in range(per_hub)
    ]
    for t in threads:
        t.start()
    return threads


@contextmanager
def under_load(fleet: Fleet, per_hub: int, warm_up: int) -> Iterator[tuple[str, Ledger]]:
    """Committers on both servers to a new repository, busy (`warm_up` commits acknowledged) when this yields;
    stopped and joined when it exits."""
    repo_id, ledger, stop = new_repo(fleet), Ledger(), threading.Event()
    threads = run_committers(fleet.hubs, repo_id, per_hub, ledger, stop)
    try:
        wait_for(lambda: len(ledger.acked) >= warm_up, timeout=90, what="a busy fleet")
        yield repo_id, ledger
    finally:
        stop.set()
        for t in threads:
            t.join(60)


def assert_consistent(hub: Hub, repo_id: str, ledger: Ledger) -> dict[str, dict]:  # type: ignore[type-arg]
    """git fsck is clean, every ref resolves, every acknowledged file is there, every file downloads whole,
    and `haven fsck --verify-hashes` (refs, LFS bytes, database against git, counters) finds nothing: a
    commit records its LFS objects before its ref moves, so even a process killed right after a move leaves
    the database complete (the survivor's later commits record the head of main)."""
    assert fsck(hub) == []
    with httpx.Client(base_url=hub.url, timeout=60) as http:
        repo_dir = repo_dir_of(hub, repo_id)
        git_fsck = subprocess.run(
            ["git", "--git-dir", str(repo_dir), "fsck", "--no-dangling"], capture_output=True, text=True, check=False
        )
        assert git_fsck.returncode == 0, git_fsck.stderr
        refs = subprocess.run(
            ["git", "--git-dir", str(repo_dir), "for-each-ref", "--format=%(objectname)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for sha in refs:
            kind = subprocess.run(["git", "--git-dir", str(repo_dir), "cat-file", "-t", sha], capture_output=True)
            assert kind.stdout.strip() == b"commit", f"a ref points at {sha}, which is not a commit"
        tree = files(http, hub, repo_id)
        lost = set(ledger.acked) - set(tree)
        assert not lost, f"acknowledged files were lost: {sorted(lost)}"
        for path, entry in tree.items():
            data = download(http, hub, repo_id, path)
            assert len(data) == entry["size"]
            if path in ledger.acked:
                assert data == ledger.acked[path]
            if "lfs" in entry:
                assert sha256(data) == entry["lfs"]["oid"]
                assert blob_path(hub, entry["lfs"]["oid"]).exists()
    return tree


def test_parallel_committers_on_two_processes_lose_no_update(fleet: Fleet) -> None:
    repo_id = new_repo(fleet)
    ledger = Ledger()
    for t in run_committers(fleet.hubs, repo_id, per_hub=4, ledger=ledger, stop=threading.Event(), limit=4):
        t.join(120)
    assert ledger.failures == 0, "a commit failed although nothing went wrong"
    tree = assert_consistent(fleet.b, repo_id, ledger)
    assert len(ledger.acked) == 2 * 4 * 4
    assert {p for p in tree if "/" in p} == set(ledger.acked)
    history = fleet.a.api().list_repo_commits(repo_id)
    assert len(history) == 1 + len(ledger.acked), "every commit is in the branch's history, one after another"


def ready(hub: Hub) -> int:
    try:
        return httpx.get(f"{hub.url}/api/ready", timeout=10).status_code
    except httpx.HTTPError:
        return 0


def test_postgres_restart_under_load_gives_errors_not_corruption(fleet: Fleet) -> None:
    with under_load(fleet, per_hub=2, warm_up=6) as (repo_id, ledger):
        fleet.pg.stop()  # immediate: connections drop mid-transaction
        try:
            assert {ready(hub) for hub in fleet.hubs} == {503}
            time.sleep(2)
        finally:
            fleet.pg.resume()
        acked_at_restart = len(ledger.acked)
        wait_for(lambda: all(ready(hub) == 200 for hub in fleet.hubs), timeout=60, what="both servers ready")
        wait_for(lambda: len(ledger.acked) >= acked_at_restart + 6, timeout=60, what="commits after the restart")
    assert ledger.failures > 0, "the clients should have noticed the outage"
    assert set(ledger.statuses) <= {0, 503}, f"an outage is 503 (retry), not {ledger.statuses}"
    assert_consistent(fleet.a, repo_id, ledger)
    for n, hub in enumerate(fleet.hubs):  # each process commits again, without a restart of its own
        with httpx.Client(base_url=hub.url, timeout=30) as http:
            assert commit_one(http, hub, repo_id, f"after-{n}.txt", lfs=False)[0] == 200


def test_kill_9_of_one_process_leaves_the_other_serving_and_the_data_whole(fleet: Fleet) -> None:
    with under_load(fleet, per_hub=3, warm_up=15) as (repo_id, ledger):
        fleet.a.server.kill()
        acked_at_kill = len(ledger.acked)
        wait_for(lambda: len(ledger.acked) >= acked_at_kill + 10, timeout=60, what="the survivor to keep going")
    assert ledger.failures > 0, "the killed process's clients should have seen errors"
    assert_consistent(fleet.b, repo_id, ledger)
    # An upload cut off with the dead process is retried against the survivor, and lands.
    data = os.urandom(300_000)
    fleet.b.api().upload_file(path_or_fileobj=data, path_in_repo="retried.bin", repo_id=repo_id)
    with httpx.Client(base_url=fleet.b.url, timeout=30) as http:
        assert download(http, fleet.b, repo_id, "retried.bin") == data

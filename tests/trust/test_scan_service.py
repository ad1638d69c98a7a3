"""The scan job in-process: a long scan is split across jobs, each making progress, and only the last one
records the head as scanned."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from haven.auth import service as auth
from haven.auth.permissions import Actor
from haven.config import Settings
from haven.hub import Hub
from haven.jobs import queue
from haven.jobs.models import Job
from haven.repos import commits, service
from haven.scanning import service as scanning
from haven.scanning import tasks
from haven.scanning.models import FileScan, RepoScan
from tests.trust.payloads import malicious_pickle


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = Hub.open(Settings(data_dir=tmp_path / "data"))
    yield h
    h.close()


def test_a_long_scan_continues_in_a_new_job(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    with hub.db.write() as session:
        user = auth.create_user(session, "ann")
        actor = Actor(user_id=user.id, name="ann")
    row = service.create_repo(hub, actor, repo_type="model", namespace="ann", name="m")
    ops = [commits.AddFile(f"f{i}.txt", b"plain text\n" * (i + 1)) for i in range(3)]
    ops.append(commits.AddFile("evil.pkl", malicious_pickle()))
    commits.create_commit(hub, actor, "model", "ann/m", "main", commits.CommitRequest("files", operations=ops))
    with hub.db.write() as session:  # the commit queued a scan: drop it, this test runs the job by hand
        session.execute(delete(Job).where(Job.kind == tasks.KIND))
    monkeypatch.setattr(scanning, "RUN_SECONDS", 0.0)
    runs = 0
    while True:
        scanning.scan_repo(hub, row.id)
        runs += 1
        with hub.db.read() as session:
            done = session.get(RepoScan, row.id)
            scanned = session.query(FileScan).filter(FileScan.repo_id == row.id).count()
        if done is not None:
            break
        assert queue.pending(hub.db, tasks.KIND) == 1 and scanned == runs  # one file per run, then a new job
        with hub.db.write() as session:
            session.execute(delete(Job).where(Job.kind == tasks.KIND))
    assert runs == 5  # .gitattributes, three text files, the pickle
    assert [f["path"] for f in done.files_with_issues] == ["evil.pkl"]

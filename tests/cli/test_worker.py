"""`haven worker` runs background jobs in a process of its own, only the kinds it is given, until SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Hub
from tests.ops.conftest import own_hub
from tests.ops.test_metrics import scrape, value
from tests.support import HAVEN, Postgres, tempdir, wait_for

METADATA, SCAN = "repo.metadata", "repo.security_scan"


@pytest.fixture
def jobless(postgres: Postgres | None) -> Iterator[Hub]:
    """A server that runs no jobs itself (HAVEN_JOB_WORKERS=0), on PostgreSQL when there is one."""
    hub = own_hub(postgres, HAVEN_JOB_WORKERS="0")
    yield hub
    hub.server.stop()


def waiting(hub: Hub, kind: str) -> float:
    return value(scrape(hub), "haven_jobs", kind=kind)


def worker(hub: Hub, *args: str) -> subprocess.Popen[str]:
    return start_worker(hub.server.data_dir, hub.server.env, *args)


def start_worker(data_dir: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*HAVEN, "worker", *args, "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_worker_process_takes_only_its_kinds_and_stops_cleanly_on_sigterm(jobless: Hub) -> None:
    hub = jobless
    repo_id = f"alice/jobs-{uuid.uuid4().hex[:8]}"
    hub.api().create_repo(repo_id)
    hub.api().upload_file(path_or_fileobj=b"# card\n", path_in_repo="README.md", repo_id=repo_id)
    time.sleep(3)  # the server's own job threads would have run them by now
    assert waiting(hub, METADATA) >= 1 and waiting(hub, SCAN) >= 1
    proc = worker(hub, "--kinds", METADATA, "--threads", "2")
    try:
        wait_for(lambda: waiting(hub, METADATA) == 0, timeout=90, what="the worker to run the metadata jobs")
        assert waiting(hub, SCAN) >= 1, "scans are not this worker's kind"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "worker stopping" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_unknown_kinds_are_refused_before_anything_runs() -> None:
    data_dir = tempdir("haven-worker-") / "data"
    proc = start_worker(data_dir, dict(os.environ), "--kinds", "repo.metadata,no.such.kind")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "unknown job kinds no.such.kind" in out
    assert not data_dir.exists(), "nothing was created"

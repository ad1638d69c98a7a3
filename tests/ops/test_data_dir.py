"""Only setup creates the data directories (`haven serve` before its workers start, and the CLI's commands);
the processes that serve or work beside it only open them. A server worker or `haven worker` that starts while
`repos/` is away (an unmounted volume) recreates nothing, so readiness keeps saying what is missing; one
started without a data directory at all stops with a message that says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Hub
from tests.support import HAVEN, tempdir

# What granian runs in each server worker process (haven.server.run hands it the settings in the environment).
SERVER_WORKER = [sys.executable, "-c", "from haven.server import app_factory; app_factory()"]


@pytest.fixture
def repos_away(two_workers: Hub) -> Iterator[Path]:
    """The hub's repos/ directory, moved away (as an unmounted volume) for the test and put back after it."""
    repos = two_workers.server.data_dir / "repos"
    hidden = repos.with_name("repos-away")
    repos.rename(hidden)
    try:
        yield repos
    finally:
        if repos.is_dir() and not any(repos.iterdir()):
            repos.rmdir()  # recreated by the process under test (the failure being tested for)
        hidden.rename(repos)


def test_a_server_worker_starting_while_repos_is_away_creates_nothing(two_workers: Hub, repos_away: Path) -> None:
    run = subprocess.run(SERVER_WORKER, env=two_workers.server.env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    assert not repos_away.exists()


def test_a_job_worker_starting_while_repos_is_away_creates_nothing(two_workers: Hub, repos_away: Path) -> None:
    proc = subprocess.Popen(
        [*HAVEN, "worker", "--data-dir", str(two_workers.server.data_dir)],
        env=two_workers.server.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # its start-up is done once it says it runs
            if "worker running" in line:
                break
        assert not repos_away.exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def test_processes_without_a_data_directory_stop_and_say_so() -> None:
    missing = tempdir("haven-no-data-") / "data"
    env = {**os.environ, "HAVEN_DATA_DIR": str(missing)}
    server_worker = subprocess.run(SERVER_WORKER, env=env, capture_output=True, text=True, timeout=180)
    assert server_worker.returncode != 0
    assert f"The data directory {missing} does not exist" in server_worker.stderr
    job_worker = subprocess.run(
        [*HAVEN, "worker", "--data-dir", str(missing)], env=env, capture_output=True, text=True, timeout=180
    )
    assert job_worker.returncode == 1
    assert f"The data directory {missing} does not exist: `haven serve` creates it" in job_worker.stderr
    assert not missing.exists(), "nothing was created"

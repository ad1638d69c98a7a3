"""Helpers for the viewer tests: push a dataset, wait for its conversion, load it with `datasets`."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from huggingface_hub import CommitOperationAdd

from tests.conftest import Hub
from tests.support import wait_for

SCRIPTS = Path(__file__).parent / "scripts"
CONVERSION_TIMEOUT = 120.0


def push_dataset(hub: Hub, files: dict[str, bytes], *, user: str = "alice", private: bool = False) -> str:
    """A new dataset repository holding `files`, committed to main in one commit."""
    api = hub.api(user)
    repo_id = api.create_repo(f"ds-{time.monotonic_ns()}", repo_type="dataset", private=private).repo_id
    ops = [CommitOperationAdd(path, io.BytesIO(data)) for path, data in files.items()]
    api.create_commit(repo_id, ops, commit_message="data", repo_type="dataset")
    return repo_id


def viewer(hub: Hub, endpoint: str, user: str | None = "alice", **params: Any) -> httpx.Response:
    """GET /datasets-server/<endpoint> as `user` (None: anonymous)."""
    headers = {"Authorization": f"Bearer {hub.tokens[user]}"} if user else {}
    return httpx.get(f"{hub.url}/datasets-server/{endpoint}", params=params, headers=headers, timeout=60)


def converted(hub: Hub, repo_id: str, user: str = "alice") -> dict[str, Any]:
    """Wait until the conversion of the dataset's head finished (ok or failed); returns /is-valid's body."""

    def probe() -> dict[str, Any] | None:
        r = viewer(hub, "is-valid", user, dataset=repo_id)
        body = r.json()
        return None if r.status_code != 200 or body.get("pending") else body

    return wait_for(probe, CONVERSION_TIMEOUT, "the dataset conversion")


def load_rows(hub: Hub, repo_id: str, home: Path, *args: str, user: str = "alice") -> dict[str, Any]:
    """Every split of the dataset as `datasets.load_dataset` returns it, loaded in a client subprocess."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "load_rows.py"), repo_id, *args],
        env=hub.client_env(user, home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"load_rows.py {repo_id} {args} failed:\n{proc.stderr[-5000:]}")
    line = next(ln for ln in reversed(proc.stdout.splitlines()) if ln.startswith("RESULT:"))
    return json.loads(line[len("RESULT:") :])

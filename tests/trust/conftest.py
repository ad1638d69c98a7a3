"""Helpers for the trust tests (security scans, webhooks, audit log) on the shared real servers."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import Hub


def scanned(hub: Hub, repo_id: str, timeout: float = 60.0) -> Any:
    """model_info with the security status, once the scan of the head of main has finished."""
    api = hub.api("alice")
    deadline = time.monotonic() + timeout
    while True:
        info = api.model_info(repo_id, securityStatus=True)
        if info.security_repo_status and info.security_repo_status["scansDone"]:
            return info
        if time.monotonic() > deadline:
            raise AssertionError(f"the scan of {repo_id} did not finish: {info.security_repo_status}")
        time.sleep(0.2)


def file_security(hub: Hub, repo_id: str, *paths: str) -> dict[str, Any]:
    """path -> the client's BlobSecurityInfo for each path (get_paths_info with expand=True)."""
    infos = hub.api("alice").get_paths_info(repo_id, list(paths), expand=True)
    return {i.path: i.security for i in infos}


from tests.git.conftest import git  # noqa: E402, F401 - the git tests' fixture, for pushes here

"""The scan job: queued by every move of main (API commits and git pushes), run by the job workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from haven.hub import Hub
from haven.jobs import queue

KIND = "repo.security_scan"


def enqueue_for(session: Session, repo_id: int) -> None:
    """Queue the repository's scan in the caller's transaction; one waiting job scans whatever main is
    when it runs, so commits in quick succession share it."""
    queue.enqueue(session, KIND, f"repo:{repo_id}", {"repo_id": repo_id})


def handler(hub: Hub) -> Callable[[dict[str, Any]], None]:
    """The function the worker calls for KIND jobs."""
    from haven.scanning.service import scan_repo

    def run(payload: dict[str, Any]) -> None:
        scan_repo(hub, int(payload["repo_id"]))

    return run

"""The metadata job: queued by every move of main, run by the job workers."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from haven.hub import Hub
from haven.jobs import queue

KIND = "repo.metadata"


def enqueue_for(session: Session, repo_id: int) -> None:
    """Queue the repository's metadata job in the caller's transaction. One waiting job per repository is
    enough: it describes whatever main is when it runs, so commits in quick succession share it."""
    queue.enqueue(session, KIND, f"repo:{repo_id}", {"repo_id": repo_id})


def handler(hub: Hub):  # type: ignore[no-untyped-def]
    """The function the worker calls for KIND jobs."""
    from haven.metadata.service import refresh

    def run(payload: dict[str, Any]) -> None:
        refresh(hub, int(payload["repo_id"]))

    return run

"""The viewer job: queued by every move of main of a dataset, run by the job workers."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from haven.hub import Hub
from haven.jobs import queue

KIND = "dataset.viewer"


def enqueue_for(session: Session, repo_id: int) -> None:
    """Queue the conversion in the caller's transaction; one waiting job per dataset converts whatever main
    is when it runs, so commits in quick succession share it."""
    queue.enqueue(session, KIND, f"repo:{repo_id}", {"repo_id": repo_id})


def handler(hub: Hub):  # type: ignore[no-untyped-def]
    """The function the worker calls for KIND jobs."""
    from haven.viewer.service import refresh

    def run(payload: dict[str, Any]) -> None:
        repo_id = int(payload["repo_id"])
        refresh(hub, repo_id, heartbeat_key=(KIND, f"repo:{repo_id}"))

    return run

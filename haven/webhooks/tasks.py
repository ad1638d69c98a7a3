"""The delivery job: one per attempt, queued with the backoff's delay (see delivery.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from haven.hub import Hub
from haven.jobs import queue

KIND = "webhook.deliver"


def enqueue(session: Session, delivery_id: int, *, attempt: int, run_after: datetime | None = None) -> None:
    """Queue attempt `attempt` of a delivery in the caller's transaction. The queue's own retry is off
    (max_attempts=1): a failed send schedules the next attempt itself, with exponential backoff."""
    key = f"delivery:{delivery_id}:{attempt}"
    queue.enqueue(session, KIND, key, {"delivery_id": delivery_id}, max_attempts=1, run_after=run_after)


def handler(hub: Hub) -> Callable[[dict[str, Any]], None]:
    from haven.webhooks.delivery import deliver

    def run(payload: dict[str, Any]) -> None:
        deliver(hub, int(payload["delivery_id"]))

    return run

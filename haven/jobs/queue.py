"""The job queue: enqueue inside the caller's transaction, claim with a compare-and-swap, finish or retry.

Every statement here is plain SQL both databases run alike. A claim reads a few candidates, then moves
one with `UPDATE ... WHERE id = :id AND <still claimable>`: of two processes racing for a job, the
database lets exactly one UPDATE match (PostgreSQL re-checks the condition after the row lock; SQLite
runs writers one at a time), and the loser tries the next candidate.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from haven.db import Database, utcnow
from haven.jobs.models import Job

LEASE = timedelta(minutes=5)  # a running job whose worker has not finished it by then is claimed again
MAX_ATTEMPTS = 3
BACKOFF = timedelta(seconds=5)  # after the n-th failure a job waits n * BACKOFF
CANDIDATES = 8
CLAIM_ROUNDS = 5
MAX_ERROR = 2000

_wakers: list[threading.Event] = []  # the workers of this process, woken when a job is enqueued here


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int
    worker: str


def worker_id() -> str:
    """A name unique to this worker: host, process and a random part (pids are reused across restarts)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def enqueue(
    session: Session,
    kind: str,
    key: str,
    payload: dict[str, Any],
    *,
    max_attempts: int = MAX_ATTEMPTS,
    run_after: datetime | None = None,
) -> bool:
    """Queue a job in the caller's transaction (so it exists only if that commits), to run from `run_after`
    (default: now); False if an identical job (same kind and key) is already waiting, which then does the
    work for both."""
    waiting = session.scalar(select(Job.id).where(Job.kind == kind, Job.key == key, Job.status == "queued").limit(1))
    if waiting is not None:
        return False
    job = Job(kind=kind, key=key, payload=payload, status="queued", max_attempts=max_attempts)
    if run_after is not None:
        job.run_after = run_after
    session.add(job)
    return True


def wake() -> None:
    """Tell this process's workers that there is work (call after the enqueuing transaction commits)."""
    for event in list(_wakers):
        event.set()


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        and_(Job.status == "queued", Job.run_after <= now),
        and_(Job.status == "running", Job.lease_until < now),
    )


def claim(db: Database, worker: str, kinds: list[str], now: datetime | None = None) -> Claimed | None:
    """Take the oldest runnable job of one of `kinds` (queued, or running with an expired lease)."""
    now = now or utcnow()
    for _ in range(CLAIM_ROUNDS):
        with db.read() as session:
            ids = list(
                session.scalars(
                    select(Job.id)
                    .where(_claimable(now), Job.kind.in_(kinds))
                    .order_by(Job.run_after, Job.id)
                    .limit(CANDIDATES)
                )
            )
        if not ids:
            return None
        for job_id in ids:
            claimed = _try_claim(db, job_id, worker, now)
            if claimed is not None:
                return claimed
        # Every candidate went to someone else (or was abandoned): look again.
    return None


def _try_claim(db: Database, job_id: int, worker: str, now: datetime) -> Claimed | None:
    with db.write() as session:
        moved = session.execute(
            update(Job)
            .where(Job.id == job_id, _claimable(now))
            .values(status="running", attempts=Job.attempts + 1, lease_until=now + LEASE, worker=worker)
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:
            return None
        job = session.get(Job, job_id)
        assert job is not None
        if job.attempts > job.max_attempts:
            # Claimed again after its worker died every time it ran it: give up rather than crash-loop.
            job.status, job.lease_until = "failed", None
            gave_up = f"abandoned: its worker stopped during each of {job.max_attempts} attempts"
            job.last_error = (job.last_error or gave_up)[:MAX_ERROR]
            return None
        return Claimed(job.id, job.kind, job.key, dict(job.payload or {}), job.attempts, worker)


def release_orphans(db: Database, now: datetime | None = None) -> int:
    """End the leases of jobs held by workers of this host whose process is gone (a server restarted after
    a crash), so they run again at once instead of after LEASE. Other hosts' jobs wait for their lease."""
    now = now or utcnow()
    host = socket.gethostname()[:60]
    with db.read() as session:
        held = session.execute(select(Job.id, Job.worker).where(Job.status == "running")).all()
    orphans = [job_id for job_id, worker in held if _dead_local(worker or "", host)]
    if orphans:
        with db.write() as session:
            session.execute(
                update(Job)
                .where(Job.id.in_(orphans), Job.status == "running")
                .values(lease_until=now - timedelta(seconds=1))
            )
    return len(orphans)


def _dead_local(worker: str, host: str) -> bool:
    name, _, rest = worker.partition(":")
    pid = rest.partition(":")[0]
    if name != host or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def complete(db: Database, job: Claimed) -> None:
    """The job is done: remove it (unless its lease expired and another worker holds it now)."""
    with db.write() as session:
        session.execute(delete(Job).where(Job.id == job.id, Job.worker == job.worker, Job.status == "running"))


def fail(db: Database, job: Claimed, error: str, now: datetime | None = None) -> None:
    """Record the error; the job runs again after a pause, or is marked failed after its last attempt."""
    now = now or utcnow()
    with db.write() as session:
        row = session.get(Job, job.id)
        if row is None or row.worker != job.worker or row.status != "running":
            return
        row.last_error = error[:MAX_ERROR]
        row.lease_until = None
        if row.attempts >= row.max_attempts:
            row.status = "failed"
        else:
            row.status = "queued"
            row.run_after = now + BACKOFF * row.attempts


def extend(db: Database, job: Claimed, now: datetime | None = None) -> None:
    """Renew a long job's lease."""
    now = now or utcnow()
    with db.write() as session:
        session.execute(
            update(Job)
            .where(Job.id == job.id, Job.worker == job.worker, Job.status == "running")
            .values(lease_until=now + LEASE)
        )


def pending(db: Database, kind: str | None = None) -> int:
    """Jobs not yet done (queued or running), of one kind or all."""
    with db.read() as session:
        q = select(func.count()).select_from(Job).where(Job.status.in_(("queued", "running")))
        if kind is not None:
            q = q.where(Job.kind == kind)
        return int(session.scalar(q) or 0)

"""The job queue, against SQLite and PostgreSQL: a job runs once however many workers race for it, survives
its worker's death (claimed again once the lease expires), and retries a bounded number of times."""

from __future__ import annotations

import threading
from datetime import timedelta

from haven.db import Database, utcnow
from haven.jobs import queue
from haven.jobs.models import Job
from haven.jobs.worker import Worker

KIND = "test.job"


def _enqueue(db: Database, key: str, max_attempts: int = queue.MAX_ATTEMPTS) -> bool:
    with db.write() as session:
        return queue.enqueue(session, KIND, key, {"key": key}, max_attempts=max_attempts)


def _jobs(db: Database) -> list[Job]:
    with db.read() as session:
        return list(session.query(Job).order_by(Job.id))


def test_one_waiting_job_per_key(db: Database) -> None:
    assert _enqueue(db, "repo:1")
    assert not _enqueue(db, "repo:1")  # already waiting: it will do the work for both
    assert _enqueue(db, "repo:2")
    job = queue.claim(db, "w1", [KIND])
    assert job is not None and job.key == "repo:1" and job.payload == {"key": "repo:1"}
    assert _enqueue(db, "repo:1")  # the first is running now; a new commit needs a new run
    assert queue.pending(db, KIND) == 3


def test_a_job_is_claimed_by_exactly_one_of_many_racing_workers(db: Database) -> None:
    for i in range(20):
        _enqueue(db, f"repo:{i}")
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def work(name: str) -> None:
        start.wait()
        while (job := queue.claim(db, name, [KIND])) is not None:
            with lock:
                claimed.append((name, job.id))
            queue.complete(db, job)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = [job_id for _, job_id in claimed]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 20  # every job once, none twice
    assert _jobs(db) == []  # done jobs are removed


def test_a_job_whose_worker_died_is_claimed_again_after_its_lease(db: Database) -> None:
    _enqueue(db, "repo:1")
    first = queue.claim(db, "dead-worker", [KIND])
    assert first is not None
    assert queue.claim(db, "w2", [KIND]) is None  # leased: nobody else runs it meanwhile
    later = utcnow() + queue.LEASE + timedelta(seconds=1)  # ... the server restarts, the lease runs out
    again = queue.claim(db, "w2", [KIND], now=later)
    assert again is not None and again.id == first.id and again.attempts == 2
    queue.complete(db, first)  # the dead worker's late completion changes nothing
    assert [j.status for j in _jobs(db)] == ["running"]
    queue.complete(db, again)
    assert _jobs(db) == []


def test_after_a_restart_on_the_same_host_a_dead_workers_jobs_run_at_once(db: Database) -> None:
    import socket
    import subprocess

    dead = subprocess.Popen(["true"])  # a process that has exited: its pid names no one
    dead.wait()
    _enqueue(db, "repo:1")
    _enqueue(db, "repo:2")
    held = queue.claim(db, f"{socket.gethostname()[:60]}:{dead.pid}:abcd", [KIND])
    alive = queue.claim(db, queue.worker_id(), [KIND])  # this process: alive, keeps its lease
    assert held is not None and alive is not None
    assert queue.release_orphans(db) == 1
    again = queue.claim(db, "w2", [KIND])
    assert again is not None and again.id == held.id and again.attempts == 2
    assert queue.claim(db, "w2", [KIND]) is None


def test_failures_are_retried_then_recorded(db: Database) -> None:
    _enqueue(db, "repo:1", max_attempts=2)
    job = queue.claim(db, "w1", [KIND])
    assert job is not None
    queue.fail(db, job, "RuntimeError: disk on fire")
    assert queue.claim(db, "w1", [KIND]) is None  # backing off
    retry = queue.claim(db, "w1", [KIND], now=utcnow() + queue.BACKOFF * 2)
    assert retry is not None and retry.attempts == 2
    queue.fail(db, retry, "RuntimeError: still on fire")
    (row,) = _jobs(db)
    assert (row.status, row.attempts, row.last_error) == ("failed", 2, "RuntimeError: still on fire")
    assert queue.claim(db, "w1", [KIND], now=utcnow() + timedelta(days=1)) is None  # never again


def test_a_job_that_kills_its_worker_every_time_is_given_up(db: Database) -> None:
    """No crash loop: each claim counts as an attempt, so a job whose worker always dies stops after the bound."""
    _enqueue(db, "repo:1", max_attempts=2)
    now = utcnow()
    for _ in range(2):
        assert queue.claim(db, "w", [KIND], now=now) is not None  # ... and the worker dies
        now += queue.LEASE + timedelta(seconds=1)
    assert queue.claim(db, "w", [KIND], now=now) is None
    (row,) = _jobs(db)
    assert row.status == "failed" and "abandoned" in (row.last_error or "")


def test_worker_threads_run_jobs_and_record_errors(db: Database) -> None:
    done: list[str] = []
    finished = threading.Event()

    def handler(payload: dict) -> None:  # type: ignore[type-arg]
        if payload["key"] == "bad":
            raise ValueError("cannot do this one")
        done.append(payload["key"])
        if len(done) == 3:
            finished.set()

    worker = Worker(db, {KIND: handler}, threads=2, poll=0.05)
    worker.start()
    try:
        _enqueue(db, "bad", max_attempts=1)
        for key in ("a", "b", "c"):
            _enqueue(db, key)
        queue.wake()
        assert finished.wait(30)
    finally:
        worker.stop()
    assert sorted(done) == ["a", "b", "c"]
    (row,) = _jobs(db)
    assert row.status == "failed" and row.last_error == "ValueError: cannot do this one"

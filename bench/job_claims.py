"""Job claims on PostgreSQL: the queue's compare-and-swap claim vs `FOR UPDATE SKIP LOCKED`, measured first.

    /work/venv/bin/python bench/job_claims.py [--jobs 2000] [--threads 8] [--rounds 3]

`--threads` claimers (each with its own engine, as separate processes would have) drain `--jobs` queued
jobs of one kind, claiming and completing each with no work in between (the worst case for contention).
Baseline: haven.jobs.queue.claim (read candidates, then UPDATE ... WHERE still claimable). Candidate: one
statement, UPDATE jobs SET ... WHERE id = (SELECT id ... FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING.
Reports jobs/s (median of alternated rounds) and the claims lost to races; each job must run exactly once.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import median

from tests.support import Postgres, tempdir

KIND = "bench.claim"

SKIP_LOCKED = """
UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = :lease, worker = :worker
WHERE id = (
    SELECT id FROM jobs
    WHERE kind = :kind AND ((status = 'queued' AND run_after <= :now) OR (status = 'running' AND lease_until < :now))
    ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING id
"""


def fill(url: str, n: int) -> None:
    from haven.db import Database
    from haven.jobs import queue

    db = Database(url)
    with db.write() as session:
        for i in range(n):
            queue.enqueue(session, KIND, f"k{i}", {})
    db.dispose()


def cas_claimer(db, me: str) -> int | None:  # type: ignore[no-untyped-def]
    from haven.jobs import queue

    job = queue.claim(db, me, [KIND])
    if job is None:
        return None
    queue.complete(db, job)
    return job.id


def skip_locked_claimer(db, me: str) -> int | None:  # type: ignore[no-untyped-def]
    from sqlalchemy import delete, text

    from haven.db import utcnow
    from haven.jobs import queue
    from haven.jobs.models import Job

    now = utcnow()
    with db.write() as session:
        job_id = session.scalar(text(SKIP_LOCKED), {"lease": now + queue.LEASE, "worker": me, "kind": KIND, "now": now})
    if job_id is None:
        return None
    with db.write() as session:
        session.execute(delete(Job).where(Job.id == job_id, Job.worker == me))
    return job_id


def drain(url: str, threads: int, claim: Callable) -> tuple[float, Counter[int]]:  # type: ignore[type-arg]
    from haven.db import Database

    ran: Counter[int] = Counter()
    lock = threading.Lock()

    def run(i: int) -> None:
        db = Database(url)
        while (job_id := claim(db, f"w{i}")) is not None:
            with lock:
                ran[job_id] += 1
        db.dispose()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    t0 = time.perf_counter()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return time.perf_counter() - t0, ran


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from haven.db import Database

    pg = Postgres(tempdir("bench-pg-"))
    pg.start()
    try:
        url = pg.create_database("claims")
        Database(url).migrate()
        rates: dict[str, list[float]] = {"compare-and-swap (current)": [], "FOR UPDATE SKIP LOCKED": []}
        claimers = {"compare-and-swap (current)": cas_claimer, "FOR UPDATE SKIP LOCKED": skip_locked_claimer}
        for _ in range(args.rounds):
            for name, claim in claimers.items():
                fill(url, args.jobs)
                seconds, ran = drain(url, args.threads, claim)
                assert len(ran) == args.jobs and set(ran.values()) == {1}, f"{name}: a job ran twice or never"
                rates[name].append(args.jobs / seconds)
        print(f"{args.jobs} jobs, {args.threads} claimers, PostgreSQL, {args.rounds} alternated rounds (jobs/s):")
        for name, xs in rates.items():
            print(f"  {name:<28} median {median(xs):.0f} [{', '.join(f'{x:.0f}' for x in xs)}]")
        base, cand = (median(xs) for xs in rates.values())
        print(f"  ratio SKIP LOCKED / current: {cand / base:.2f}x")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()

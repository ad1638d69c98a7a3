"""Job claims on PostgreSQL: the queue's one-statement `FOR UPDATE SKIP LOCKED` claim vs the former one.

    /work/venv/bin/python bench/job_claims.py [--jobs 2000] [--threads 8] [--rounds 3]

`--threads` claimers (each with its own engine, as separate processes would have) drain `--jobs` queued
jobs of one kind, claiming and completing each with no work in between (the worst case for contention).
Baseline: the former claim, kept here (read 8 candidates, then UPDATE ... WHERE id = :id AND still
claimable, next candidate when another claimer won). Haven's: haven.jobs.queue.claim, one statement,
UPDATE jobs SET ... WHERE id = (SELECT id ... FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING.
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


def fill(url: str, n: int) -> None:
    from haven.db import Database
    from haven.jobs import queue

    db = Database(url)
    with db.write() as session:
        for i in range(n):
            queue.enqueue(session, KIND, f"k{i}", {})
    db.dispose()


def former_claimer(db, me: str) -> int | None:  # type: ignore[no-untyped-def]
    """The claim Haven used before: candidates first, then a compare-and-swap on one of them."""
    from sqlalchemy import select, update

    from haven.db import utcnow
    from haven.jobs import queue
    from haven.jobs.models import Job

    now = utcnow()
    for _ in range(queue.CLAIM_ROUNDS):
        with db.read() as session:
            ids = list(
                session.scalars(
                    select(Job.id)
                    .where(queue._claimable(now), Job.kind == KIND)
                    .order_by(Job.run_after, Job.id)
                    .limit(8)
                )
            )
        if not ids:
            return None
        for job_id in ids:
            with db.write() as session:
                moved = session.execute(
                    update(Job)
                    .where(Job.id == job_id, queue._claimable(now))
                    .values(status="running", attempts=Job.attempts + 1, lease_until=now + queue.LEASE, worker=me)
                ).rowcount
            if moved == 1:
                queue.complete(db, queue.Claimed(job_id, KIND, "", {}, 1, me))
                return job_id
    return None


def haven_claimer(db, me: str) -> int | None:  # type: ignore[no-untyped-def]
    from haven.jobs import queue

    job = queue.claim(db, me, [KIND])
    if job is None:
        return None
    queue.complete(db, job)
    return job.id


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
        claimers = {"former compare-and-swap": former_claimer, "SKIP LOCKED (haven)": haven_claimer}
        rates: dict[str, list[float]] = {name: [] for name in claimers}
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
        print(f"  ratio haven / former: {cand / base:.2f}x")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()

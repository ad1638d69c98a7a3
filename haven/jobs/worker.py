"""Worker threads that run queued jobs inside the server process (no broker, no separate daemon)."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from haven.db import Database
from haven.jobs import queue

log = logging.getLogger("haven.jobs")

Handler = Callable[[dict[str, Any]], None]
POLL = 2.0  # seconds between looks at the queue when nothing woke the worker (jobs enqueued by other processes)


class Worker:
    """`threads` daemon threads claiming and running jobs of the kinds `handlers` knows."""

    def __init__(self, db: Database, handlers: dict[str, Handler], threads: int = 1, poll: float = POLL) -> None:
        self.db, self.handlers, self.poll = db, handlers, poll
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"haven-jobs-{i}", daemon=True) for i in range(threads)
        ]

    def start(self) -> None:
        if self._threads:
            try:
                queue.release_orphans(self.db)
            except Exception:  # never keep the server from starting over this
                log.exception("could not release the jobs of dead workers")
        queue._wakers.append(self._wake)
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            if t.is_alive():
                t.join(timeout)
        if self._wake in queue._wakers:
            queue._wakers.remove(self._wake)

    def _run(self) -> None:
        me = queue.worker_id()
        kinds = sorted(self.handlers)
        while not self._stop.is_set():
            try:
                ran = self.run_one(me, kinds)
            except Exception:  # the database went away for a moment: keep the thread alive
                log.exception("job queue unavailable")
                ran = False
            if not ran:
                self._wake.wait(self.poll)
                self._wake.clear()

    def run_one(self, me: str, kinds: list[str]) -> bool:
        """Claim and run one job; False when there was none."""
        job = queue.claim(self.db, me, kinds)
        if job is None:
            return False
        try:
            self.handlers[job.kind](job.payload)
        except Exception as e:
            log.warning("job %s %s (attempt %d) failed: %s", job.kind, job.key, job.attempts, e)
            detail = "".join(traceback.format_exception_only(e)).strip()
            queue.fail(self.db, job, detail)
        else:
            queue.complete(self.db, job)
        return True

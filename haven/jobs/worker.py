"""Worker threads that run queued jobs inside the server process (no broker, no separate daemon)."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from haven.db import Database
from haven.jobs import queue
from haven.ops import metrics

log = logging.getLogger("haven.jobs")

Handler = Callable[[dict[str, Any]], None]
POLL = 2.0  # seconds between looks at the queue when nothing woke the worker (jobs enqueued by other processes)


class Worker:
    """Daemon threads claiming and running jobs of the kinds `handlers` knows: `threads` per lane.

    A lane is a group of kinds with threads of its own (`lanes`, default one lane of every kind), so a
    slow kind (an hour-long dataset conversion) in its own lane never holds up the quick ones."""

    def __init__(
        self,
        db: Database,
        handlers: dict[str, Handler],
        threads: int = 1,
        poll: float = POLL,
        lanes: list[list[str]] | None = None,
    ) -> None:
        self.db, self.handlers, self.poll = db, handlers, poll
        self.lanes = [sorted(lane) for lane in (lanes or [list(handlers)]) if lane]
        unknown = {kind for lane in self.lanes for kind in lane} - set(handlers)
        if unknown:
            raise ValueError(f"no handler for job kinds {sorted(unknown)}")
        self._stop = threading.Event()
        self._wakes: list[threading.Event] = []
        self._threads: list[threading.Thread] = []
        for n, lane in enumerate(self.lanes):
            for i in range(threads):
                wake = threading.Event()  # one per thread: every thread hears every wake-up
                self._wakes.append(wake)
                self._threads.append(
                    threading.Thread(target=self._run, args=(lane, wake), name=f"haven-jobs-{n}-{i}", daemon=True)
                )

    def start(self) -> None:
        if self._threads:
            try:
                queue.release_orphans(self.db)
            except Exception:  # never keep the server from starting over this
                log.exception("could not release the jobs of dead workers")
        queue._wakers.extend(self._wakes)
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for wake in self._wakes:
            wake.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            if t.is_alive():
                t.join(max(0.0, deadline - time.monotonic()))
        for wake in self._wakes:
            if wake in queue._wakers:
                queue._wakers.remove(wake)

    @property
    def busy(self) -> bool:
        """Whether some thread is still running (a job outlived stop's timeout)."""
        return any(t.is_alive() for t in self._threads)

    def _run(self, kinds: list[str], wake: threading.Event) -> None:
        me = queue.worker_id()
        while not self._stop.is_set():
            try:
                ran = self.run_one(me, kinds)
            except Exception:  # the database went away for a moment: keep the thread alive
                log.exception("job queue unavailable")
                ran = False
            if not ran:
                wake.wait(self.poll)
                wake.clear()

    def run_one(self, me: str, kinds: list[str]) -> bool:
        """Claim and run one job; False when there was none."""
        job = queue.claim(self.db, me, kinds)
        if job is None:
            return False
        started = time.monotonic()
        try:
            self.handlers[job.kind](job.payload)
        except Exception as e:
            log.warning("job %s %s (attempt %d) failed: %s", job.kind, job.key, job.attempts, e)
            detail = "".join(traceback.format_exception_only(e)).strip()
            queue.fail(self.db, job, detail)
            metrics.observe_job(job.kind, False, time.monotonic() - started)
        else:
            queue.complete(self.db, job)
            metrics.observe_job(job.kind, True, time.monotonic() - started)
        return True

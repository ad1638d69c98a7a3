"""Download counts, batched in memory and flushed to the database, so counting never slows a download.

A flush adds the counts to today's per-repository activity rows and the all-time totals, and recomputes
the 30-day count and trending score of the repositories it touched (haven.repos.signals). When the day
changes, the next flush also recomputes every repository with recent activity, so scores decay.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

from haven.db import Database
from haven.repos import signals

log = logging.getLogger("haven")

# The file whose fetch counts as one download, per repository type (the Hub counts config.json for models).
COUNTED_FILES = {"model": {"config.json"}, "dataset": {"README.md"}, "space": set()}


class DownloadCounter:
    def __init__(self, db: Database, interval: float = 1.0) -> None:
        self.db = db
        self.interval = interval
        self._pending: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._day = signals.today()

    def start_clock(self, every: float = 900.0) -> None:
        """Flush every `every` seconds from a daemon thread, so the day's rollover recomputation happens
        even when nothing is downloaded."""

        def tick() -> None:
            try:
                self.flush()
            finally:
                timer = threading.Timer(every, tick)
                timer.daemon = True
                timer.start()

        timer = threading.Timer(every, tick)
        timer.daemon = True
        timer.start()

    def record(self, repo_type: str, repo_id: int, path: str) -> None:
        if path not in COUNTED_FILES.get(repo_type, ()):
            return
        with self._lock:
            self._pending[repo_id] += 1
            if self._timer is None:
                self._timer = threading.Timer(self.interval, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._timer = None
        with self._flush_lock:
            day = signals.today()
            if pending:
                with self.db.write() as session:
                    signals.record_downloads(session, pending, day)
            if day != self._day:
                self._day = day
                try:
                    n = signals.recompute_all(self.db, day)
                    log.info("recomputed download counts and trending scores of %d repositories", n)
                except Exception:  # the next day's flush tries again; counting itself is not affected
                    log.exception("recomputing trending scores failed")

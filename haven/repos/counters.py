"""Download counts, batched in memory and flushed to the database, so counting never slows a download."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import update

from haven.db import Database
from haven.repos.models import Repo

# The file whose fetch counts as one download, per repository type (the Hub counts config.json for models).
COUNTED_FILES = {"model": {"config.json"}, "dataset": {"README.md"}, "space": set()}


class DownloadCounter:
    def __init__(self, db: Database, interval: float = 1.0) -> None:
        self.db = db
        self.interval = interval
        self._pending: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

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
        if not pending:
            return
        with self.db.write() as session:
            for repo_id, n in sorted(pending.items()):
                session.execute(
                    update(Repo)
                    .where(Repo.id == repo_id)
                    .values(downloads=Repo.downloads + n, downloads_all_time=Repo.downloads_all_time + n)
                )

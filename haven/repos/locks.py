"""Per-repository write lock that holds across threads and processes on one host (flock)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from haven.errors import Conflict


@contextmanager
def repo_lock(repo_path: Path, timeout: float = 60.0) -> Iterator[None]:
    fd = os.open(repo_path / "haven.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Conflict("The repository is busy with another commit; try again") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process dies

"""Fixed-window request counters in one memory-mapped file, so every server process on the host shares them.

The table is a fixed array of slots (key fingerprint, window end, count) probed linearly from the key's
hash; an `flock` around each read-modify-write makes it safe across processes for about a microsecond.
When every probed slot holds a live window of another key (tens of thousands of active callers at once),
the home slot is taken over and that caller starts a fresh window: the table under-counts, never blocks.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
from pathlib import Path
from typing import NamedTuple

SLOT = struct.Struct("<QII")  # key fingerprint (0: empty), window end (unix seconds), requests counted
SLOTS = 1 << 16  # 1.5 MiB file
PROBES = 8


class Tally(NamedTuple):
    """The caller's standing after one request: allowed or not, requests left and seconds until the reset."""

    allowed: bool
    remaining: int
    reset: int


def fingerprint(key: bytes) -> int:
    """A hash stable across processes (Python's own hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") or 1


class WindowCounters:
    """Counts requests per key in fixed windows that start at the key's first request."""

    def __init__(self, path: Path | None = None, slots: int = SLOTS, *, shared: bool = True) -> None:
        """Counters in the file at `path` (None: in this process's memory only). `shared=False` skips the
        lock when this is the only process counting (one server worker, whose event loop runs one request's
        count at a time)."""
        self.slots = slots
        self._lock = shared and path is not None
        size = slots * SLOT.size
        if path is None:
            self._fd = -1
            self._map = mmap.mmap(-1, size)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)  # extending zero-fills; concurrent openers agree on the size
        self._map = mmap.mmap(self._fd, size)

    def hit(self, key: bytes, limit: int, window: int, now: float) -> Tally:
        """Count one request of `key` against `limit` per `window` seconds (refused requests are not counted)."""
        fp = fingerprint(key)
        if not self._lock:
            return self._hit(fp, limit, window, int(now))
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            return self._hit(fp, limit, window, int(now))
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def peek(self, key: bytes, window: int, now: float) -> int:
        """Requests counted for `key` in its current window (0 when none), without counting one."""
        fp, second = fingerprint(key), int(now)
        home = fp % self.slots
        for i in range(PROBES):
            slot_fp, end, count = SLOT.unpack_from(self._map, ((home + i) % self.slots) * SLOT.size)
            if slot_fp == fp:
                return count if end > second else 0
        return 0

    def _hit(self, fp: int, limit: int, window: int, second: int) -> Tally:
        home = fp % self.slots
        free = None
        for i in range(PROBES):
            offset = ((home + i) % self.slots) * SLOT.size
            slot_fp, end, count = SLOT.unpack_from(self._map, offset)
            if slot_fp == fp:
                if end <= second:
                    end, count = second + window, 0
                if count >= limit:
                    return Tally(False, 0, end - second)
                SLOT.pack_into(self._map, offset, fp, end, count + 1)
                return Tally(True, limit - count - 1, end - second)
            if free is None and (slot_fp == 0 or end <= second):
                free = offset
        offset = home * SLOT.size if free is None else free
        SLOT.pack_into(self._map, offset, fp, second + window, 1)
        return Tally(limit >= 1, max(0, limit - 1), window)

    def close(self) -> None:
        self._map.close()
        if self._fd >= 0:
            os.close(self._fd)

"""A small in-process cache whose entries expire, for answers that are costly to compute and may be a little old.

The listing keeps tag sizes, sampled shares and facet counts this way (each a query of milliseconds to seconds
at a million repositories, asked again by every request), and the web pages their home counts. They all want
the same few things, kept here once: an expiry per entry, a bound on memory (past `size` entries the cache is
emptied whole: cheaper than tracking use, and the next requests fill it again), safety across threads, and,
for the slowest, an expired entry answered for a while longer while one thread computes it again, so that no
request waits for it (`get_or_recount`).

Entries live per process: each server worker keeps its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
log = logging.getLogger("haven")


class TTLCache(Generic[K, V]):
    """Key -> value for `ttl` seconds each; past `size` entries it starts again empty. An expired entry is
    kept (for `get_or_recount`, up to `stale` seconds) until it is replaced or the cache is emptied.

    `ttl` and `stale` are attributes, read at every call: changing them applies to the entries already held."""

    def __init__(self, name: str, ttl: float, size: int, stale: float = 0.0) -> None:
        self.name = name  # names the recounting threads and their log lines
        self.ttl = ttl
        self.size = size
        self.stale = stale
        self._entries: dict[K, tuple[float, V]] = {}  # key -> (when it was stored, value)
        self._recounting: set[K] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        """The value stored under `key` in the last `ttl` seconds, or None."""
        hit = self._entries.get(key)
        if hit is None or hit[0] + self.ttl <= time.monotonic():
            return None
        return hit[1]

    def put(self, key: K, value: V) -> V:
        """Store `value` for `ttl` seconds from now; returns it."""
        with self._lock:
            self._store(key, value, time.monotonic())
        return value

    def add(self, key: K, value: V) -> bool:
        """Store `value` unless `key` holds one from the last `ttl` seconds; whether it did. Of callers racing
        on one key only one is told True: for doing something at most once per `ttl` per key."""
        with self._lock:
            now = time.monotonic()
            hit = self._entries.get(key)
            if hit is not None and hit[0] + self.ttl > now:
                return False
            self._store(key, value, now)
        return True

    def _store(self, key: K, value: V, now: float) -> None:
        if len(self._entries) > self.size:
            self._entries.clear()
        self._entries[key] = (now, value)

    def get_or_recount(self, key: K, recount: Callable[[], V]) -> V | None:
        """Like `get`, but an entry expired less than `stale` seconds ago is answered too, while `recount()` runs
        in a thread of its own (one per key at a time) and stores what it returns. A failed recount is logged
        and leaves the old entry: the next request past its expiry tries again. None: nothing recent enough."""
        hit = self._entries.get(key)
        if hit is None:
            return None
        age = time.monotonic() - hit[0]
        if age < self.ttl:
            return hit[1]
        if age >= self.ttl + self.stale:
            return None
        with self._lock:
            due = key not in self._recounting
            self._recounting.add(key)
        if due:
            threading.Thread(target=self._recount, args=(key, recount), name=f"haven-{self.name}", daemon=True).start()
        return hit[1]

    def _recount(self, key: K, recount: Callable[[], V]) -> None:
        try:
            self.put(key, recount())
        except Exception:  # the expired entry stays; the next request past it tries again
            log.exception("recounting %s failed", self.name)
        finally:
            with self._lock:
                self._recounting.discard(key)

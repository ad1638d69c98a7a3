"""The expiring cache behind the listing's counts: entries last `ttl` seconds, the cache starts again empty past
`size` entries, and an entry expired less than `stale` seconds ago is answered while one thread recounts it."""

from __future__ import annotations

import threading
import time

import pytest

from haven.ttlcache import TTLCache
from tests.support import wait_for

TTL = 0.1


def test_an_entry_lasts_its_ttl() -> None:
    cache: TTLCache[str, int] = TTLCache("t", TTL, 10)
    assert cache.get("a") is None
    assert cache.put("a", 1) == 1
    assert cache.get("a") == 1
    time.sleep(TTL * 1.5)
    assert cache.get("a") is None


def test_a_changed_ttl_applies_to_the_entries_held() -> None:
    cache: TTLCache[str, int] = TTLCache("t", 60.0, 10)
    cache.put("a", 1)
    cache.ttl = 0.0
    assert cache.get("a") is None


def test_past_its_size_the_cache_starts_again_empty() -> None:
    cache: TTLCache[int, int] = TTLCache("t", 60.0, 3)
    for i in range(4):
        cache.put(i, i)
    assert len(cache) == 4 and cache.get(0) == 0  # `size` entries and one more are held
    cache.put(4, 4)
    assert len(cache) == 1 and cache.get(0) is None and cache.get(4) == 4


def test_add_stores_a_key_once_per_ttl() -> None:
    cache: TTLCache[str, int] = TTLCache("t", TTL, 10)
    assert cache.add("a", 1)
    assert not cache.add("a", 2) and cache.get("a") == 1
    time.sleep(TTL * 1.5)
    assert cache.add("a", 3) and cache.get("a") == 3


def test_of_threads_racing_to_add_one_key_one_wins() -> None:
    cache: TTLCache[str, int] = TTLCache("t", 60.0, 10)
    start = threading.Barrier(8)
    wins: list[int] = []

    def race(i: int) -> None:
        start.wait()
        if cache.add("a", i):
            wins.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and cache.get("a") == wins[0]


class Recount:
    """A recount that waits for the test to let it finish, counting its calls."""

    def __init__(self, value: int, fail: bool = False) -> None:
        self.value, self.fail, self.calls = value, fail, 0
        self.release = threading.Event()

    def __call__(self) -> int:
        self.calls += 1
        assert self.release.wait(10)
        if self.fail:
            raise RuntimeError("the database is away")
        return self.value


def test_a_fresh_entry_is_answered_without_recounting() -> None:
    cache: TTLCache[str, int] = TTLCache("t", 60.0, 10, stale=60.0)
    recount = Recount(2)
    assert cache.get_or_recount("a", recount) is None  # nothing held: the caller counts
    cache.put("a", 1)
    assert cache.get_or_recount("a", recount) == 1
    assert recount.calls == 0


def test_an_expired_entry_is_answered_while_one_thread_recounts_it() -> None:
    cache: TTLCache[str, int] = TTLCache("t", TTL, 10, stale=60.0)
    cache.put("a", 1)
    time.sleep(TTL * 1.5)
    recount = Recount(2)
    assert [cache.get_or_recount("a", recount) for _ in range(5)] == [1] * 5  # no caller waits
    wait_for(lambda: recount.calls == 1)
    recount.release.set()
    wait_for(lambda: cache.get("a") == 2)
    assert recount.calls == 1  # one recount for all the callers that found it expired


def test_an_entry_expired_longer_than_stale_is_not_answered() -> None:
    cache: TTLCache[str, int] = TTLCache("t", TTL, 10, stale=TTL)
    cache.put("a", 1)
    time.sleep(TTL * 2.5)
    recount = Recount(2)
    assert cache.get_or_recount("a", recount) is None  # the caller counts
    assert recount.calls == 0


def test_a_failed_recount_keeps_the_old_entry_and_the_next_caller_tries_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache: TTLCache[str, int] = TTLCache("t", TTL, 10, stale=60.0)
    cache.put("a", 1)
    time.sleep(TTL * 1.5)
    failing = Recount(2, fail=True)
    failing.release.set()
    assert cache.get_or_recount("a", failing) == 1
    wait_for(lambda: "recounting t failed" in caplog.text)
    working = Recount(3)
    working.release.set()
    wait_for(lambda: cache.get_or_recount("a", working) == 3)
    assert failing.calls == 1 and working.calls == 1

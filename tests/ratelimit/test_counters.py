"""The shared fixed-window counters: exact across processes, windows that reset, a full table that
under-counts rather than blocks."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from haven.ratelimit.counters import WindowCounters

NOW = 1_800_000_000.0


def _allowed(path: Path, hits: int, limit: int) -> int:
    counters = WindowCounters(path)
    try:
        return sum(counters.hit(b"shared-key", limit, 300, NOW).allowed for _ in range(hits))
    finally:
        counters.close()


def test_processes_sharing_the_file_never_admit_more_than_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "ratelimit.counters"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        admitted = pool.starmap(_allowed, [(path, 400, 1000)] * 4)
    assert sum(admitted) == 1000  # 1,600 attempts from four processes, exactly the limit admitted


def test_a_window_counts_down_then_resets(tmp_path: Path) -> None:
    counters = WindowCounters(tmp_path / "c")
    tallies = [counters.hit(b"k", 3, 60, NOW + i) for i in range(4)]
    assert [(t.allowed, t.remaining, t.reset) for t in tallies] == [
        (True, 2, 60),
        (True, 1, 59),
        (True, 0, 58),
        (False, 0, 57),
    ]
    assert counters.peek(b"k", 60, NOW + 10) == 3
    fresh = counters.hit(b"k", 3, 60, NOW + 60)  # the window that began at NOW has ended
    assert (fresh.allowed, fresh.remaining, fresh.reset) == (True, 2, 60)
    assert counters.peek(b"k", 60, NOW + 200) == 0


def test_keys_are_counted_apart(tmp_path: Path) -> None:
    counters = WindowCounters(tmp_path / "c")
    assert not [counters.hit(b"a", 1, 60, NOW) for _ in range(2)][1].allowed
    assert counters.hit(b"b", 1, 60, NOW).allowed


def test_a_full_table_takes_over_a_slot_instead_of_refusing() -> None:
    counters = WindowCounters(None, slots=8)  # in-process: no file
    assert all(counters.hit(f"key{i}".encode(), 1, 60, NOW).allowed for i in range(50))

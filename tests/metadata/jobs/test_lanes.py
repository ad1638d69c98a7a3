"""A slow kind of job (an hour-long dataset conversion) has threads of its own: quick kinds never wait on it."""

from __future__ import annotations

import threading

import pytest

from haven.db import Database
from haven.jobs import queue, registry
from haven.jobs.worker import Worker

SLOW, QUICK = "test.slow", "test.quick"


def _enqueue(db: Database, kind: str, key: str) -> None:
    with db.write() as session:
        queue.enqueue(session, kind, key, {"key": key})
    queue.wake()


def test_a_quick_job_runs_while_a_slow_one_holds_its_own_lane(db: Database) -> None:
    release, slow_started, quick_done = threading.Event(), threading.Event(), threading.Event()

    def slow(payload: dict) -> None:  # type: ignore[type-arg]
        slow_started.set()
        assert release.wait(60)

    worker = Worker(db, {SLOW: slow, QUICK: lambda p: quick_done.set()}, threads=1, poll=0.05, lanes=[[SLOW], [QUICK]])
    worker.start()
    try:
        _enqueue(db, SLOW, "big")
        assert slow_started.wait(30)
        _enqueue(db, QUICK, "small")
        assert quick_done.wait(30), "the quick job waited for the slow one"
    finally:
        release.set()
        worker.stop()
    assert queue.pending(db) == 0


def test_dataset_conversions_have_a_lane_of_their_own() -> None:
    kinds = registry.parse_kinds(None)
    lanes = registry.lanes(kinds)
    assert ["dataset.viewer"] in lanes
    assert sorted(k for lane in lanes for k in lane) == sorted(kinds)
    assert registry.lanes(["repo.metadata"]) == [["repo.metadata"]]


def test_unknown_kinds_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown job kinds nope"):
        registry.parse_kinds("repo.metadata,nope")
    assert registry.parse_kinds(" repo.metadata , webhook.deliver ") == ["repo.metadata", "webhook.deliver"]

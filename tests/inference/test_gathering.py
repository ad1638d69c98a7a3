"""How a lane decides to send its next batch: the rules behind steady batches under closed-loop load."""

from __future__ import annotations

from haven.inference.pool import GATHER_MAX, Lane


def lane_with(pending: int) -> Lane:
    lane = Lane((0, "model", "key"))
    lane.pending = [object() for _ in range(pending)]  # type: ignore[misc]
    return lane


def test_an_idle_lane_sends_a_lone_request_at_once() -> None:
    lane = lane_with(1)
    assert lane.gathered(max_batch=32)
    assert lane.wait() == 0


def test_after_a_batch_the_lane_waits_for_its_callers_to_come_back() -> None:
    lane = lane_with(1)  # one request arrived while a batch of 31 ran
    lane.answering()
    lane.finished(size=31, seconds=0.08)
    assert lane.expect == 32
    assert not lane.gathered(max_batch=32)
    lane.pending += [object() for _ in range(30)]  # type: ignore[misc]
    assert not lane.gathered(max_batch=32)
    lane.pending.append(object())  # type: ignore[arg-type]
    assert lane.gathered(max_batch=32)


def test_a_lone_caller_back_before_the_batch_is_done_goes_at_once() -> None:
    """The answer reaches the client before the worker's "done" reaches the pool: its next request is
    already waiting then, and is the one the lane expected."""
    lane = lane_with(0)
    lane.answering()
    lane.pending.append(object())  # type: ignore[arg-type]
    lane.finished(size=1, seconds=0.015)
    assert lane.expect == 1 and lane.gathered(max_batch=32)


def test_the_wait_is_bounded_by_the_last_run_and_a_ceiling() -> None:
    lane = lane_with(0)
    lane.finished(size=8, seconds=0.02)
    assert lane.wait() == 0.01
    lane.finished(size=8, seconds=10.0)
    assert lane.wait() == GATHER_MAX


def test_expectations_follow_the_load_down() -> None:
    lane = lane_with(0)
    lane.finished(size=32, seconds=0.1)
    lane.pending = []
    lane.finished(size=1, seconds=0.01)  # the timer sent a lone request: one caller is left
    assert lane.expect == 1


def test_a_full_batch_never_waits_for_more_than_fits() -> None:
    lane = lane_with(32)
    lane.finished(size=32, seconds=0.1)
    lane.pending = lane.pending[:4]
    lane.finished(size=60, seconds=0.1)
    assert lane.expect == 60
    lane.pending += [object() for _ in range(28)]  # type: ignore[misc]
    assert lane.gathered(max_batch=32)

"""Ranking signals on both databases: per-day downloads and likes, the 30-day count, the trending score."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from haven.db import Database
from haven.repos import signals
from haven.repos.counters import DownloadCounter
from haven.repos.models import Repo, RepoActivity
from tests.search.conftest import add_repo, unique

DAY = signals.today()


def state(db: Database, repo_id: int) -> tuple[int, int, float]:
    with db.read() as session:
        row = session.get(Repo, repo_id)
        assert row is not None
        return row.downloads, row.downloads_all_time, row.trending_score


def test_downloads_count_thirty_days_and_all_time(db: Database) -> None:
    repo = add_repo(db, f"ann/{unique()}")
    with db.write() as session:
        signals.record_downloads(session, {repo: 5}, DAY - 40)
        signals.record_downloads(session, {repo: 3}, DAY - 10)
        signals.record_downloads(session, {repo: 2}, DAY)
        signals.record_downloads(session, {repo: 1}, DAY)
    downloads, total, score = state(db, repo)
    assert (downloads, total) == (6, 11)  # the day-40 downloads are outside the window
    assert score == pytest.approx(3 + 3 * 0.5 ** (10 / signals.HALF_LIFE_DAYS))


def test_trending_decays_and_old_activity_is_dropped(db: Database) -> None:
    repo = add_repo(db, f"ann/{unique()}")
    with db.write() as session:
        signals.record_downloads(session, {repo: 8}, DAY)
        signals.record_like(session, repo, 1, DAY)
    fresh = state(db, repo)[2]
    assert fresh == pytest.approx(8 + signals.LIKE_WEIGHT)
    signals.recompute_all(db, DAY + 3)
    assert state(db, repo)[2] == pytest.approx(fresh / 2)
    signals.recompute_all(db, DAY + signals.WINDOW_DAYS)
    assert state(db, repo)[:1] == (0,) and state(db, repo)[2] == 0
    with db.read() as session:
        assert session.scalars(select(RepoActivity).where(RepoActivity.repo_id == repo)).all() == []


def test_the_daily_pass_reaches_every_repository_chunk_by_chunk(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signals, "CHUNK", 2)  # five repositories: three transactions
    repos = [add_repo(db, f"ann/{unique()}") for _ in range(5)]
    with db.write() as session:
        signals.record_downloads(session, dict.fromkeys(repos, 4), DAY)
    assert {state(db, r)[0] for r in repos} == {4}
    assert signals.recompute_all(db, DAY + signals.WINDOW_DAYS) >= 5
    assert {state(db, r)[0] for r in repos} == {0}


def test_unlike_withdraws_the_like_on_its_own_day(db: Database) -> None:
    repo = add_repo(db, f"ann/{unique()}")
    with db.write() as session:
        signals.record_like(session, repo, 1, DAY - 2)
        signals.record_like(session, repo, 1, DAY - 2)
        signals.record_like(session, repo, -1, DAY - 2)
        signals.recompute(session, [repo], DAY)
    assert state(db, repo)[2] == pytest.approx(signals.LIKE_WEIGHT * 0.5 ** (2 / signals.HALF_LIFE_DAYS))


def test_counter_batches_and_flushes(db: Database) -> None:
    repo = add_repo(db, f"ann/{unique()}")
    counter = DownloadCounter(db, interval=3600)
    for _ in range(7):
        counter.record("model", repo, "config.json")
    counter.record("model", repo, "model.safetensors")  # not the counted file
    assert state(db, repo)[:2] == (0, 0)
    counter.flush()
    downloads, total, score = state(db, repo)
    assert (downloads, total) == (7, 7) and score == pytest.approx(7)

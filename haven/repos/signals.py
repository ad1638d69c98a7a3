"""Ranking signals: downloads per day, likes per day, the 30-day download count and the trending score.

Each repository has at most one `repo_activity` row per day. The 30-day count (`repos.downloads`, what
the Hub calls `downloads`) and the trending score (recent downloads plus weighted likes, each day's
weight halving every HALF_LIFE_DAYS) are sums over the last WINDOW_DAYS rows, recomputed for the
repositories a flush touched and, once a day has passed, for every repository with recent activity
(so old activity decays and leaves the window).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from sqlalchemy import ColumnElement, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from haven.db import Database
from haven.repos.models import Repo, RepoActivity

WINDOW_DAYS = 30
HALF_LIFE_DAYS = 3.0
LIKE_WEIGHT = 10  # a like weighs as much as this many downloads
CHUNK = 500


def today(now: float | None = None) -> int:
    """Days since 1970-01-01 (UTC)."""
    return int((time.time() if now is None else now) // 86400)


def _upsert(session: Session, rows: list[dict[str, int]], column: str) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(RepoActivity).values(rows)
    target = getattr(RepoActivity, column)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["repo_id", "day"], set_={column: target + getattr(stmt.excluded, column)}
        )
    )


def record_downloads(session: Session, counts: Mapping[int, int], day: int | None = None) -> None:
    """Add a flush's downloads (repo id -> count) to today's rows and to the all-time counts, then
    recompute those repositories' 30-day counts and trending scores."""
    day = today() if day is None else day
    ids = sorted(counts)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        _upsert(session, [{"repo_id": i, "day": day, "downloads": counts[i], "likes": 0} for i in chunk], "downloads")
    for repo_id in ids:
        session.execute(
            update(Repo).where(Repo.id == repo_id).values(downloads_all_time=Repo.downloads_all_time + counts[repo_id])
        )
    recompute(session, ids, day)


def record_like(session: Session, repo_id: int, delta: int, day: int | None = None) -> None:
    """A like (+1, today) or the withdrawal of one (-1, on the day it was given, so no day goes negative)."""
    day = today() if day is None else day
    if day <= today() - WINDOW_DAYS:
        return
    _upsert(session, [{"repo_id": repo_id, "day": day, "downloads": 0, "likes": delta}], "likes")
    recompute(session, [repo_id], day)


def _weight(day: int) -> ColumnElement[float]:
    """0.5 ** (age / HALF_LIFE_DAYS) for each day of the window, as a CASE both databases evaluate."""
    whens = [(RepoActivity.day == day - age, 0.5 ** (age / HALF_LIFE_DAYS)) for age in range(WINDOW_DAYS)]
    return case(*whens, else_=0.0)


def _sums(day: int) -> tuple[ColumnElement[int], ColumnElement[float]]:
    recent = (RepoActivity.repo_id == Repo.id, RepoActivity.day > day - WINDOW_DAYS, RepoActivity.day <= day)
    downloads = select(func.coalesce(func.sum(RepoActivity.downloads), 0)).where(*recent).scalar_subquery()
    points = (RepoActivity.downloads + LIKE_WEIGHT * RepoActivity.likes) * _weight(day)
    score = select(func.coalesce(func.sum(points), 0.0)).where(*recent).scalar_subquery()
    return downloads, score


def recompute(session: Session, repo_ids: Iterable[int], day: int | None = None) -> None:
    """Recompute the 30-day download count and the trending score of these repositories."""
    day = today() if day is None else day
    downloads, score = _sums(day)
    ids = sorted(set(repo_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        session.execute(
            update(Repo).where(Repo.id.in_(chunk)).values(downloads=downloads, trending_score=score),
            execution_options={"synchronize_session": False},
        )


def recompute_all(db: Database, day: int | None = None) -> int:
    """Recompute every repository with activity in the window or a non-zero count or score; old activity
    rows (outside the window) are deleted. Returns how many repositories were recomputed.

    One transaction per CHUNK repositories: the daily pass touches every active repository, and each
    change of downloads moves the repository's search document (haven.search.rank), ~0.3 ms a row, so
    a single transaction would hold SQLite's one writer for minutes at a million repositories."""
    day = today() if day is None else day
    active = select(RepoActivity.repo_id).where(RepoActivity.day > day - WINDOW_DAYS).distinct()
    stale = select(Repo.id).where(or_(Repo.downloads > 0, Repo.trending_score > 0))
    with db.read() as session:
        ids = sorted(set(session.scalars(active)) | set(session.scalars(stale)))
    for start in range(0, len(ids), CHUNK):
        with db.write() as session:
            recompute(session, ids[start : start + CHUNK], day)
    with db.write() as session:
        session.execute(RepoActivity.__table__.delete().where(RepoActivity.day <= day - WINDOW_DAYS))
    return len(ids)

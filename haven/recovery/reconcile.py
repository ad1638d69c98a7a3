"""Bringing the database's derived state back in line with git and the stores: the safe repairs.

Safe means recomputable from what git and the stores hold, never a guess: the recorded head of main (with
its card, tags, search document and the jobs a move of main sets off), the LFS objects a repository's
commits reference, and the counters (likes, 30-day downloads, used storage). fsck --repair and restore
both use these.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from haven.git.store import open_repo
from haven.hub import Hub
from haven.metadata import tasks as metadata_tasks
from haven.repos import lfs, signals
from haven.repos.commits import refresh_card
from haven.repos.models import LfsObject, Like, Repo, RepoActivity
from haven.scanning import tasks as scan_tasks
from haven.viewer import tasks as viewer_tasks


def record_head(hub: Hub, session: Session, repo: Repo, commit: str) -> None:
    """What a move of main records (haven.repos.commits.after_commit), without touching last_modified."""
    repo.head_sha = commit
    refresh_card(session, open_repo(hub.repo_path(repo.storage_key)), repo.id, commit)
    metadata_tasks.enqueue_for(session, repo.id)
    scan_tasks.enqueue_for(session, repo.id)
    if repo.type == "dataset":
        viewer_tasks.enqueue_for(session, repo.id)


def refresh_card_and_search(hub: Hub, session: Session, repo: Repo) -> None:
    """Card data, tags and the search document of main as it is (restore rebuilds the search index so)."""
    if repo.head_sha:
        refresh_card(session, open_repo(hub.repo_path(repo.storage_key)), repo.id, repo.head_sha)


def link_objects(session: Session, repo_id: int, objects: dict[str, int]) -> None:
    """Record LFS objects (oid -> size) the repository's commits reference but the database lost."""
    lfs.record(session, repo_id, objects)


def expected_likes(session: Session) -> dict[int, int]:
    return dict(session.execute(select(Like.repo_id, func.count()).group_by(Like.repo_id)).all())


def expected_downloads(session: Session, day: int | None = None) -> dict[int, int]:
    """The 30-day download count each repository's activity rows add up to (haven.repos.signals)."""
    day = signals.today() if day is None else day
    window = (RepoActivity.day > day - signals.WINDOW_DAYS, RepoActivity.day <= day)
    rows = session.execute(
        select(RepoActivity.repo_id, func.sum(RepoActivity.downloads)).where(*window).group_by(RepoActivity.repo_id)
    ).all()
    return {repo_id: int(total) for repo_id, total in rows}


def lfs_bytes(session: Session) -> dict[int, int]:
    """Bytes of the LFS objects each repository holds: the least its used_storage can be (git objects come
    on top, measured at each commit, so they are not compared)."""
    rows = session.execute(select(LfsObject.repo_id, func.sum(LfsObject.size)).group_by(LfsObject.repo_id)).all()
    return {repo_id: int(total) for repo_id, total in rows}


def expected_storage(hub: Hub, session: Session, repo: Repo) -> int:
    """What after_commit stores as used_storage: the repository's LFS objects plus its git objects on disk."""
    lfs_total = session.scalar(select(func.coalesce(func.sum(LfsObject.size), 0)).where(LfsObject.repo_id == repo.id))
    return int(lfs_total) + open_repo(hub.repo_path(repo.storage_key)).disk_usage()


def set_likes(session: Session, repo_id: int, likes: int) -> None:
    session.execute(update(Repo).where(Repo.id == repo_id).values(likes=likes))


def recompute_downloads(session: Session, repo_ids: list[int]) -> None:
    signals.recompute(session, repo_ids)


def set_storage(session: Session, repo_id: int, used: int) -> None:
    session.execute(update(Repo).where(Repo.id == repo_id).values(used_storage=used))

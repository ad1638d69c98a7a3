"""Discussion threads and their events. A pull request is a discussion with a `refs/pr/{num}` branch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haven.db.base import Base, utcnow

OPEN, CLOSED, MERGED, DRAFT = "open", "closed", "merged", "draft"


class Discussion(Base):
    __tablename__ = "discussions"
    __table_args__ = (
        UniqueConstraint("repo_id", "num", name="uq_discussions_repo_id_num"),
        Index("ix_discussions_repo_id_status", "repo_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    num: Mapped[int] = mapped_column(Integer)  # per repository, shared by discussions and pull requests
    title: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    is_pull_request: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(8), default=OPEN)  # open | closed | merged | draft
    target_branch: Mapped[str | None] = mapped_column(String(255), default=None)  # pull requests: e.g. refs/heads/main
    merge_commit: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class DiscussionEvent(Base):
    """One entry of a thread: comment | status-change | title-change | commit.

    `data` holds what the type needs (status, from/to, subject/oid; a comment's edit history), `content`
    the current text of a comment (emptied when it is hidden, which cannot be undone)."""

    __tablename__ = "discussion_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    discussion_id: Mapped[int] = mapped_column(ForeignKey("discussions.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(24), unique=True)  # the hex id clients address comments by
    type: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    content: Mapped[str | None] = mapped_column(Text, default=None)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

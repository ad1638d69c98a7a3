"""Repository metadata. Git holds the content; these rows are what listings, search and access need."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from haven.db.base import Base, utcnow

SORT_COLUMNS = ("downloads", "likes", "last_modified", "created_at", "trending_score")


class Repo(Base):
    __tablename__ = "repos"
    __table_args__ = (
        UniqueConstraint("type", "full_id", name="uq_repos_type_full_id"),
        # One per listing order: (type, sort value, id) is the whole order, so that PostgreSQL walks it index-only
        # (SQLite's index entries end with the rowid anyway); `private` is there for the anonymous visibility
        # check, so that a walk which skips most rows never visits them (haven.repos.listing); `tag_sig` for tag
        # filters, tested on the entry so that only the few entries passing it are checked exactly.
        *(Index(f"ix_repos_type_{c}_listing", "type", c, "id", "private", "tag_sig") for c in SORT_COLUMNS),
        Index("ix_repos_namespace_id", "namespace", "id"),  # an author's ids, index-only on PostgreSQL too
        # Private repositories only (a few percent of rows), for counting visible repositories: a full index
        # on `private` would tempt planners without statistics away from the sort indexes of listings.
        Index(
            "ix_repos_private_type_owner",
            "type",
            "owner_id",
            sqlite_where=text("private = 1"),
            postgresql_where=text("private"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(8))  # model | dataset | space
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    namespace: Mapped[str] = mapped_column(String(96))
    name: Mapped[str] = mapped_column(String(96))
    full_id: Mapped[str] = mapped_column(String(193))
    storage_key: Mapped[str] = mapped_column(String(32), unique=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    gated: Mapped[str | None] = mapped_column(String(8), default=None)  # None | auto | manual
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    head_sha: Mapped[str | None] = mapped_column(String(40), default=None)
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    downloads_all_time: Mapped[int] = mapped_column(BigInteger, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    # Recent likes and downloads, each day's weight halving every few days (haven.repos.signals).
    trending_score: Mapped[float] = mapped_column(Float, default=0.0)
    card_data: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    card_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The tags' signature (haven.repos.tagsig), written with them: part of every sort index.
    tag_sig: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    library_name: Mapped[str | None] = mapped_column(String(64), default=None)
    pipeline_tag: Mapped[str | None] = mapped_column(String(64), default=None)
    sdk: Mapped[str | None] = mapped_column(String(32), default=None)
    used_storage: Mapped[int] = mapped_column(BigInteger, default=0)


class RepoTag(Base):
    """One row per (repo, tag): lets tag filters use an index instead of scanning JSON."""

    __tablename__ = "repo_tags"
    # A tag's repository ids without row lookups (the listing's membership sets; migration 0017).
    __table_args__ = (Index("ix_repo_tags_tag_repo_id", "tag", "repo_id"),)

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)


class Like(Base):
    __tablename__ = "likes"

    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RepoActivity(Base):
    """Downloads and likes of one repository on one day (days since 1970-01-01, UTC): the 30-day download
    count and the trending score are sums over the last 30 of these rows."""

    __tablename__ = "repo_activity"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    likes: Mapped[int] = mapped_column(Integer, default=0)


class LfsObject(Base):
    """An LFS object a repository may reference: uploaded to it, or present in one of its commits."""

    __tablename__ = "lfs_objects"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    oid: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

"""Scan results: one row per (repository, path, content) scanned, and the commit each repository's last
scan described. A row stays valid as long as the file's blob id (content, or LFS pointer) is the same."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haven.db.base import Base, utcnow

SAFE, CAUTION, UNSAFE, UNSCANNED = "safe", "caution", "unsafe", "unscanned"


class FileScan(Base):
    __tablename__ = "file_scans"
    __table_args__ = (UniqueConstraint("repo_id", "key", name="uq_file_scans_repo_id_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))  # sha256 of path and blob id: bounded, indexable
    path: Mapped[str] = mapped_column(String(1000))
    oid: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # safe | caution | unsafe
    pickle_scan: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    av_scan: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    secrets: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    scanned_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RepoScan(Base):
    """The head of main the repository's last finished scan looked at, and what it found there."""

    __tablename__ = "repo_scans"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    commit: Mapped[str] = mapped_column(String(40))
    files_with_issues: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    scanned_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

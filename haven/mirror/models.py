"""What Haven remembers about mirrored repositories: where each came from and when it last asked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from haven.db.base import Base, utcnow


class MirrorNamespace(Base):
    """A namespace (an organisation without members) Haven created to hold mirrored repositories: only
    such namespaces receive mirrors, so a local user's or organisation's name is never taken over."""

    __tablename__ = "mirror_namespaces"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    upstream: Mapped[str] = mapped_column(String(512))


class MirrorRepo(Base):
    """A repository that is a read-only copy of an upstream one (same commit ids: fetched with git)."""

    __tablename__ = "mirror_repos"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    upstream: Mapped[str] = mapped_column(String(512))
    checked_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # last successful look upstream

"""One access request per (repository, user): its status is the decision, its fields what the user filled in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haven.db.base import Base, utcnow

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
STATUSES = (PENDING, ACCEPTED, REJECTED)


class AccessRequest(Base):
    __tablename__ = "gated_access_requests"
    __table_args__ = (
        UniqueConstraint("repo_id", "user_id", name="uq_gated_access_requests_repo_id_user_id"),
        Index("ix_gated_access_requests_repo_id_status", "repo_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)  # the Hub's request ids are 24 hex digits
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(8), default=PENDING)
    fields: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    granted: Mapped[bool] = mapped_column(Boolean, default=False)  # added by an admin, not asked for by the user
    rejection_reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(96), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

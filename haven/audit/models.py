"""One row per audited event. The actor's name is copied, so the trail survives the account's deletion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from haven.db.base import Base, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"), Index("ix_audit_events_action", "action"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(64))  # <object>.<verb>, e.g. repo.delete, token.create
    actor_id: Mapped[int | None] = mapped_column(Integer, default=None)  # no foreign key: outlives the account
    actor_name: Mapped[str | None] = mapped_column(String(96), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)  # None: not from a request (the CLI)
    target: Mapped[str] = mapped_column(String(300), default="")
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

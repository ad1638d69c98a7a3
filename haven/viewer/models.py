"""What the viewer job stores: one row per dataset, describing the head of main it converted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from haven.db.base import Base, utcnow


class DatasetViewer(Base):
    __tablename__ = "dataset_viewer"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    commit: Mapped[str] = mapped_column(String(40))  # the head of main this describes
    status: Mapped[str] = mapped_column(String(16))  # "pending" | "ok" | "failed" (no split converted) | "error"
    parquet_commit: Mapped[str | None] = mapped_column(String(40), default=None)  # on refs/convert/parquet
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)  # configs, splits, files, features
    error: Mapped[str | None] = mapped_column(String(2000), default=None)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

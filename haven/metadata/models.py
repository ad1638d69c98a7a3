"""What the metadata job stores: one row per repository, describing the head of main it was computed at."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from haven.db.base import Base, utcnow


class RepoMetadata(Base):
    __tablename__ = "repo_metadata"

    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    commit: Mapped[str] = mapped_column(String(40))
    safetensors: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    gguf: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    transformers_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    data_files: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    errors: Mapped[dict[str, str] | None] = mapped_column(JSON, default=None)  # file path -> why it was skipped
    computed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

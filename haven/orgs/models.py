"""Resource groups (the Hugging Face Hub's name for teams): a role on a set of an organisation's repositories."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haven.db.base import Base, utcnow


class ResourceGroup(Base):
    __tablename__ = "resource_groups"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_resource_groups_org_id_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(96))
    description: Mapped[str | None] = mapped_column(String(1000), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ResourceGroupRepo(Base):
    __tablename__ = "resource_group_repos"

    group_id: Mapped[int] = mapped_column(ForeignKey("resource_groups.id", ondelete="CASCADE"), primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True, index=True)


class ResourceGroupMember(Base):
    __tablename__ = "resource_group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("resource_groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))  # read | contributor | write | admin

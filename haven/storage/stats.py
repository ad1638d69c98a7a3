"""Storage accounting: what repositories reference (logical) against what is on disk (stored)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from haven.cas.models import XetXorb
from haven.hub import Hub
from haven.repos.models import LfsObject, Repo


@dataclass(frozen=True)
class StorageStats:
    repos: int
    logical_bytes: int  # every repository's large files counted in full, as if each stored its own copy
    unique_object_bytes: int  # each distinct file once
    blob_bytes: int  # whole-file blobs (Git LFS uploads)
    xorb_bytes: int  # chunk containers (Xet uploads)

    @property
    def stored_bytes(self) -> int:
        return self.blob_bytes + self.xorb_bytes

    @property
    def dedup_ratio(self) -> float:
        return self.logical_bytes / self.stored_bytes if self.stored_bytes else 1.0


def collect(hub: Hub) -> StorageStats:
    with hub.db.read() as session:
        repos = session.scalar(select(func.count()).select_from(Repo)) or 0
        logical = session.scalar(select(func.coalesce(func.sum(LfsObject.size), 0))) or 0
        distinct = select(LfsObject.oid, func.max(LfsObject.size).label("size")).group_by(LfsObject.oid).subquery()
        unique = session.scalar(select(func.coalesce(func.sum(distinct.c.size), 0))) or 0
        xorbs = session.scalar(select(func.coalesce(func.sum(XetXorb.size), 0))) or 0
    return StorageStats(int(repos), int(logical), int(unique), hub.blobs.total_bytes(), int(xorbs))

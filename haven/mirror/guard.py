"""The one rule mirrored repositories add to writes: there are none (they change only by fetching)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from haven.errors import Forbidden
from haven.mirror.models import MirrorRepo
from haven.repos.models import Repo


def refuse_writes(session: Session, row: Repo) -> None:
    mirror = session.get(MirrorRepo, row.id)
    if mirror is not None:
        raise Forbidden(f"{row.full_id} is a read-only mirror of {mirror.upstream}")

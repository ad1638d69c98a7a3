"""The rules mirrored repositories add: no writes (they change only by fetching), and, with
`mirror_require_login`, no place in the listings anonymous callers see."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists
from sqlalchemy.orm import Session

from haven.errors import Forbidden
from haven.mirror.models import MirrorRepo
from haven.repos.models import Repo


def refuse_writes(session: Session, row: Repo) -> None:
    mirror = session.get(MirrorRepo, row.id)
    if mirror is not None:
        raise Forbidden(f"{row.full_id} is a read-only mirror of {mirror.upstream}")


def mirrored() -> ColumnElement[bool]:
    """Rows of Repo that are mirrors (a condition on the row, for listings)."""
    return exists().where(MirrorRepo.repo_id == Repo.id)

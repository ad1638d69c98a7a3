"""Listing and searching repositories, with the one visibility rule every listing must use."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from haven.auth.permissions import Actor
from haven.errors import BadRequest
from haven.repos.models import Repo, RepoTag

SORTS = {
    "downloads": Repo.downloads,
    "likes": Repo.likes,
    "lastModified": Repo.last_modified,
    "last_modified": Repo.last_modified,
    "createdAt": Repo.created_at,
    "created_at": Repo.created_at,
    "trendingScore": Repo.likes,  # until discovery brings a real trending score
    "id": Repo.id,
}
MAX_PAGE = 1000


def visible(actor: Actor) -> ColumnElement[bool]:
    """Rows `actor` may see: public ones, plus private ones of accounts they belong to (all, for admins)."""
    if actor.is_admin:
        return true()
    if actor.anonymous:
        return Repo.private == false()
    owners = [actor.user_id, *actor.org_roles]
    return or_(Repo.private == false(), Repo.owner_id.in_(owners))


@dataclass
class Query:
    repo_type: str
    search: list[str] = field(default_factory=list)
    author: str | None = None
    tags: list[str] = field(default_factory=list)
    sort: str | None = None
    descending: bool = True
    limit: int | None = None
    cursor: str | None = None
    gated: bool | None = None


def _encode_cursor(value: Any, repo_id: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([value, repo_id])).decode()


def _decode_cursor(cursor: str) -> tuple[Any, int]:
    try:
        value, repo_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return value, int(repo_id)
    except (ValueError, TypeError):
        raise BadRequest("Invalid cursor") from None


def list_repos(session: Session, actor: Actor, q: Query) -> tuple[list[Repo], str | None]:
    """One page of matching repositories and the cursor of the next page (None at the end)."""
    if q.sort is not None and q.sort not in SORTS:
        raise BadRequest(
            f"Invalid sort {q.sort!r}: use one of downloads, likes, lastModified, createdAt, trendingScore"
        )
    column = SORTS[q.sort or "id"]
    stmt = select(Repo).where(Repo.type == q.repo_type, visible(actor))
    for term in q.search:
        if term:
            like = "%" + term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(Repo.full_id.ilike(like, escape="\\"))
    if q.author:
        stmt = stmt.where(Repo.namespace == q.author)
    if q.gated is not None:
        stmt = stmt.where(Repo.gated.is_not(None) if q.gated else Repo.gated.is_(None))
    for tag in q.tags:
        stmt = stmt.where(exists().where(RepoTag.repo_id == Repo.id, RepoTag.tag == tag))
    desc = q.descending if q.sort else False
    if q.cursor:
        value, last_id = _decode_cursor(q.cursor)
        if q.sort in ("lastModified", "last_modified", "createdAt", "created_at") and value is not None:
            value = datetime.fromisoformat(value)
        if desc:
            stmt = stmt.where(or_(column < value, and_(column == value, Repo.id < last_id)))
        else:
            stmt = stmt.where(or_(column > value, and_(column == value, Repo.id > last_id)))
    order = [column.desc(), Repo.id.desc()] if desc else [column.asc(), Repo.id.asc()]
    page = min(q.limit or MAX_PAGE, MAX_PAGE)
    rows = list(session.scalars(stmt.order_by(*order).limit(page + 1)))
    more = len(rows) > page
    rows = rows[:page]
    if not more or not rows:
        return rows, None
    last = rows[-1]
    value = getattr(last, column.key)
    return rows, _encode_cursor(value.isoformat() if hasattr(value, "isoformat") else value, last.id)

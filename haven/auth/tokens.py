"""Fine-grained tokens as people handle them: scopes written with names, expiry written as "30d", and the
site admins' view of every token (never a secret: only hashes are stored)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.auth.models import ORG, USER, Account, Token
from haven.auth.permissions import Actor, Permission, can
from haven.auth.scopes import ScopeEntry, ScopeRequest, TokenScope
from haven.auth.service import _audit_revoke
from haven.db import utcnow
from haven.errors import BadRequest, Forbidden, NotFound, Unauthorized
from haven.repos.models import Repo

_DURATION = re.compile(r"^(\d{1,5})([hdwy])$")
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1), "y": timedelta(days=365)}


def parse_expiry(text: str | None) -> datetime | None:
    """`30d`, `12h`, `2w`, `1y` from now, or an ISO date/time (UTC); empty or `never`: no expiry."""
    text = (text or "").strip()
    if text in ("", "never"):
        return None
    match = _DURATION.match(text)
    if match:
        return utcnow() + int(match.group(1)) * _UNIT[match.group(2)]
    try:
        at = datetime.fromisoformat(text.removesuffix("Z"))
    except ValueError:
        raise BadRequest(f"Invalid expiry {text!r}: use e.g. 30d, 12h, 2w, 1y or an ISO date") from None
    return at.replace(tzinfo=None) if at.tzinfo is None else at.astimezone(tz=None).replace(tzinfo=None)


def resolve_scope(session: Session, requests: list[ScopeRequest], owner: Actor | None = None) -> TokenScope:
    """Names to ids. With `owner`, repositories they cannot see are refused exactly like missing ones."""
    if not requests:
        raise BadRequest("A fine-grained token needs at least one scope")
    entries: list[ScopeEntry] = []
    global_perms: set[str] = set()
    for r in requests:
        if r.kind == "global":
            global_perms |= r.permissions
        elif r.kind in (USER, ORG):
            account = session.scalar(select(Account).where(Account.name == r.name, Account.kind == r.kind))
            if account is None:
                raise NotFound(f"No {'user' if r.kind == USER else 'organisation'} named {r.name!r}")
            entries.append(ScopeEntry(r.kind, account.id, r.permissions))
        else:
            repo = session.scalar(select(Repo).where(Repo.type == r.kind, Repo.full_id == r.name))
            if repo is None or (owner is not None and not can(owner, Permission.READ, repo)):
                raise NotFound(f"No {r.kind} named {r.name!r}")
            entries.append(ScopeEntry(r.kind, repo.id, r.permissions))
    return TokenScope(tuple(entries), frozenset(global_perms))


def describe_scope(session: Session, scope: TokenScope) -> dict[str, Any]:
    """The scope as whoami-v2 reports a fine-grained token's (`auth.accessToken.fineGrained`)."""
    scoped = []
    for e in scope.entries:
        if e.is_repo:
            name = session.scalar(select(Repo.full_id).where(Repo.id == e.entity_id))
        else:
            name = session.scalar(select(Account.name).where(Account.id == e.entity_id))
        if name is not None:  # a deleted entity gives nothing any more
            entity = {"_id": f"{e.entity_id:024x}", "type": e.kind, "name": name}
            scoped.append({"entity": entity, "permissions": sorted(e.permissions)})
    return {"canReadGatedRepos": True, "global": sorted(scope.global_permissions), "scoped": scoped}


def scope_lines(session: Session, scopes: dict[str, Any] | None) -> list[str]:
    """A token's scope as the lines people type (`model:alice/bert=repo.write`), for pages and the CLI."""
    if scopes is None:
        return []
    described = describe_scope(session, TokenScope.from_json(scopes))
    lines = [f"{s['entity']['type']}:{s['entity']['name']}={','.join(s['permissions'])}" for s in described["scoped"]]
    if described["global"]:
        lines.append("global=" + ",".join(described["global"]))
    return lines


@dataclass(frozen=True)
class TokenRow:
    """One token as the admin view shows it."""

    id: int
    owner: str
    name: str
    role: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()


def require_site_admin(actor: Actor) -> None:
    if actor.anonymous:
        raise Unauthorized("Invalid credentials in Authorization header")
    if not actor.is_admin or actor.fine_grained or actor.token_role == "read":
        raise Forbidden("Only site admins (with a write credential) may see and revoke every token")


def all_tokens(session: Session, actor: Actor, limit: int = 1000, owner: str | None = None) -> list[TokenRow]:
    """Every token, newest first (optionally one user's)."""
    require_site_admin(actor)
    query = select(Token, Account.name).join(Account, Account.id == Token.user_id)
    if owner:
        query = query.where(Account.name == owner)
    rows = session.execute(query.order_by(Token.id.desc()).limit(limit)).all()
    return [
        TokenRow(
            t.id,
            name,
            t.name,
            t.role,
            scope_lines(session, t.scopes),
            t.created_at,
            t.last_used_at,
            t.expires_at,
            t.revoked_at,
        )
        for t, name in rows
    ]


def admin_revoke(session: Session, actor: Actor, token_id: int) -> None:
    """A site admin revokes anyone's token; revoking a revoked one is a no-op."""
    require_site_admin(actor)
    row = session.get(Token, token_id)
    if row is None:
        raise NotFound(f"No token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        _audit_revoke(session, row, by=actor)

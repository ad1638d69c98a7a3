"""Recording audit events (inside the caller's transaction, so an event exists only if what it describes
happened) and reading them back for admins."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.audit.context import client_ip
from haven.audit.models import AuditEvent
from haven.auth.permissions import Actor
from haven.errors import Forbidden, Unauthorized

if TYPE_CHECKING:  # the hub imports auth, which records through here
    from haven.hub import Hub

MAX_LIMIT = 1000

# The actions recorded, for the admin page's filter and the docs.
ACTIONS = (
    "user.login",
    "user.login_failed",
    "user.signup",
    "token.create",
    "token.revoke",
    "repo.create",
    "repo.delete",
    "repo.move",
    "repo.visibility",
    "org.member_set",
    "org.member_remove",
    "org.group_create",
    "org.group_delete",
    "org.group_member_set",
    "org.group_member_remove",
    "org.group_repo_add",
    "org.group_repo_remove",
    "webhook.create",
    "webhook.update",
    "webhook.enable",
    "webhook.disable",
    "webhook.delete",
)


def record(
    session: Session,
    action: str,
    *,
    actor: Actor | None = None,
    actor_name: str | None = None,
    actor_id: int | None = None,
    target: str = "",
    **details: Any,
) -> None:
    """Add an event to the caller's transaction; the address comes from the request being served."""
    session.add(
        AuditEvent(
            action=action,
            actor_id=actor.user_id if actor is not None else actor_id,
            actor_name=actor.name if actor is not None else actor_name,
            ip=client_ip.get(),
            target=target[:300],
            details={k: v for k, v in details.items() if v is not None} or None,
        )
    )


def record_now(hub: Hub, action: str, **kw: Any) -> None:
    """Record an event in a transaction of its own (for events that change nothing else: a failed login)."""
    with hub.db.write() as session:
        record(session, action, **kw)


def require_admin(actor: Actor) -> None:
    if actor.anonymous:
        raise Unauthorized("Invalid credentials in Authorization header")
    if not actor.is_admin:
        raise Forbidden("Only site admins may read the audit log")


def as_json(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at.isoformat() + "Z",
        "action": e.action,
        "actor": e.actor_name,
        "actorId": e.actor_id,
        "ip": e.ip,
        "target": e.target,
        "details": e.details or {},
    }


def export(
    hub: Hub,
    actor: Actor,
    *,
    since: datetime | None = None,
    after: int | None = None,
    limit: int = 100,
    action: str | None = None,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Events at or after `since` and with an id above `after`, oldest first (so `after=<last id>` pages
    through everything), or newest first for the admin page."""
    require_admin(actor)
    query = select(AuditEvent)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if after is not None:
        query = query.where(AuditEvent.id > after)
    if action:
        query = query.where(AuditEvent.action == action)
    order = AuditEvent.id.desc() if newest_first else AuditEvent.id
    with hub.db.read() as session:
        rows = session.scalars(query.order_by(order).limit(min(max(limit, 1), MAX_LIMIT)))
        return [as_json(r) for r in rows]

"""Managing a user's webhooks (the Hub's /api/settings/webhooks): each caller sees and changes only their
own; the target URL passes the SSRF guard whenever it is set."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from haven.audit import service as audit
from haven.auth.permissions import Actor
from haven.db import utcnow
from haven.errors import BadRequest, Forbidden, NotFound, Unauthorized
from haven.hub import Hub
from haven.webhooks.guard import check_target
from haven.webhooks.models import Webhook, WebhookDelivery, WebhookWatch

DOMAINS = ("repo", "discussion")
WATCH_TYPES = ("user", "org", "model", "dataset", "space")
MAX_WATCHED = 100
MAX_WEBHOOKS = 100  # per user
MAX_SECRET = 256


@dataclass
class Spec:
    """What a create or update sets; None leaves a field as it is (on update)."""

    url: str | None = None
    watched: list[dict[str, str]] | None = None
    domains: list[str] | None = None
    secret: str | None = None


def _user(actor: Actor, write: bool = False) -> int:
    """The webhooks' owner. Changing them needs a write credential; fine-grained tokens hold no webhook
    permission, so they neither read (secrets) nor change them."""
    if actor.anonymous or actor.user_id is None:
        raise Unauthorized("Invalid credentials in Authorization header")
    if actor.fine_grained:
        raise Forbidden("Fine-grained tokens cannot manage webhooks: use a write token")
    if write and actor.token_role != "write":
        raise Forbidden("Your token is read-only: it cannot change webhooks")
    return actor.user_id


def _check(hub: Hub, spec: Spec) -> None:
    if spec.url is not None:
        check_target(spec.url, hub.settings.webhooks_allow_private)
    if spec.watched is not None:
        if not spec.watched or len(spec.watched) > MAX_WATCHED:
            raise BadRequest(f"A webhook watches 1 to {MAX_WATCHED} items")
        for item in spec.watched:
            if item.get("type") not in WATCH_TYPES or not 0 < len(item.get("name") or "") <= 200:
                raise BadRequest(f"Each watched item is {{type: one of {', '.join(WATCH_TYPES)}, name}}")
    if spec.domains is not None and (not spec.domains or not set(spec.domains) <= set(DOMAINS)):
        raise BadRequest(f"domains must be a non-empty subset of {', '.join(DOMAINS)}")
    if spec.secret is not None and len(spec.secret) > MAX_SECRET:
        raise BadRequest(f"The secret is longer than {MAX_SECRET} characters")


def _own(session: Session, actor: Actor, public_id: str, write: bool = False) -> Webhook:
    owner = _user(actor, write)
    row = session.scalar(select(Webhook).where(Webhook.public_id == public_id, Webhook.owner_id == owner))
    if row is None:
        raise NotFound(f"Webhook {public_id} not found")
    return row


def as_json(session: Session, row: Webhook) -> dict[str, Any]:
    watches = session.scalars(select(WebhookWatch).where(WebhookWatch.webhook_id == row.id).order_by(WebhookWatch.id))
    return {
        "id": row.public_id,
        "url": row.url,
        "job": None,
        "watched": [{"type": w.type, "name": w.name} for w in watches],
        "domains": list(row.domains or []),
        "secret": row.secret,
        "disabled": row.disabled,
    }


def _set_watched(session: Session, row: Webhook, watched: list[dict[str, str]]) -> None:
    session.execute(delete(WebhookWatch).where(WebhookWatch.webhook_id == row.id))
    unique = {(w["type"], w["name"]) for w in watched}
    session.add_all(WebhookWatch(webhook_id=row.id, type=t, name=n) for t, n in sorted(unique))


def create_webhook(hub: Hub, actor: Actor, spec: Spec) -> dict[str, Any]:
    """Serves create_webhook: url and watched are required; domains default to all."""
    owner = _user(actor, write=True)
    if spec.url is None or spec.watched is None:
        raise BadRequest("A webhook needs a url and watched items")
    _check(hub, spec)
    with hub.db.write() as session:
        count = session.scalar(select(func.count()).select_from(Webhook).where(Webhook.owner_id == owner))
        if (count or 0) >= MAX_WEBHOOKS:
            raise BadRequest(f"A user has at most {MAX_WEBHOOKS} webhooks")
        row = Webhook(
            public_id=secrets.token_hex(12),
            owner_id=owner,
            url=spec.url,
            secret=spec.secret or None,
            domains=list(dict.fromkeys(spec.domains or DOMAINS)),
        )
        session.add(row)
        session.flush()
        _set_watched(session, row, spec.watched)
        session.flush()
        audit.record(session, "webhook.create", actor=actor, target=row.public_id, url=row.url)
        return as_json(session, row)


def list_webhooks(hub: Hub, actor: Actor) -> list[dict[str, Any]]:
    owner = _user(actor)
    with hub.db.read() as session:
        rows = session.scalars(select(Webhook).where(Webhook.owner_id == owner).order_by(Webhook.id))
        return [as_json(session, r) for r in rows]


def get_webhook(hub: Hub, actor: Actor, public_id: str) -> dict[str, Any]:
    with hub.db.read() as session:
        return as_json(session, _own(session, actor, public_id))


def update_webhook(hub: Hub, actor: Actor, public_id: str, spec: Spec) -> dict[str, Any]:
    """Serves update_webhook: the fields given replace the stored ones."""
    _check(hub, spec)
    with hub.db.write() as session:
        row = _own(session, actor, public_id, write=True)
        if spec.url is not None:
            row.url = spec.url
        if spec.domains is not None:
            row.domains = list(dict.fromkeys(spec.domains))
        if spec.secret is not None:
            row.secret = spec.secret or None
        if spec.watched is not None:
            _set_watched(session, row, spec.watched)
        row.updated_at = utcnow()
        session.flush()
        audit.record(session, "webhook.update", actor=actor, target=row.public_id, url=row.url)
        return as_json(session, row)


def set_disabled(hub: Hub, actor: Actor, public_id: str, disabled: bool) -> dict[str, Any]:
    """Serves enable_webhook / disable_webhook."""
    with hub.db.write() as session:
        row = _own(session, actor, public_id, write=True)
        if disabled is False and row.disabled:
            check_target(row.url, hub.settings.webhooks_allow_private)  # the rules may have changed since
        row.disabled, row.updated_at = disabled, utcnow()
        action = "webhook.disable" if disabled else "webhook.enable"
        audit.record(session, action, actor=actor, target=row.public_id)
        return as_json(session, row)


def delete_webhook(hub: Hub, actor: Actor, public_id: str) -> None:
    with hub.db.write() as session:
        row = _own(session, actor, public_id, write=True)
        audit.record(session, "webhook.delete", actor=actor, target=row.public_id, url=row.url)
        session.delete(row)


def list_deliveries(hub: Hub, actor: Actor, public_id: str, limit: int) -> list[dict[str, Any]]:
    """The webhook's delivery log, newest first."""
    with hub.db.read() as session:
        row = _own(session, actor, public_id)
        rows = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == row.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
        return [delivery_json(d) for d in rows]


def delivery_json(d: WebhookDelivery) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() + "Z" if value is not None else None

    return {
        "id": str(d.id),
        "event": d.event,
        "status": d.status,
        "attempts": d.attempts,
        "responseStatus": d.response_status,
        "error": d.error,
        "createdAt": iso(d.created_at),
        "lastAttemptAt": iso(d.last_attempt_at),
        "nextAttemptAt": iso(d.next_attempt_at),
        "deliveredAt": iso(d.delivered_at),
        "payload": d.payload,
    }

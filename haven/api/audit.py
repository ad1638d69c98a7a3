"""The audit log's admin export (GET /api/haven/audit) and the middleware that gives services the client's
address. Thin: the rules are in haven.audit.service."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query
from starlette.types import ASGIApp, Receive, Scope, Send

from haven.api.deps import ActorDep, HubDep
from haven.api.responses import JSON
from haven.audit import service
from haven.audit.context import client_ip
from haven.errors import BadRequest

router = APIRouter()


class ClientAddressMiddleware:
    """Puts the peer's address in the audit context for the duration of each request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        token = client_ip.set(client[0] if client else None)
        try:
            await self.app(scope, receive, send)
        finally:
            client_ip.reset(token)


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest("since must be an ISO 8601 date or time, e.g. 2026-12-01T00:00:00Z") from None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


@router.get("/api/haven/audit")
def export_audit(
    hub: HubDep,
    actor: ActorDep,
    since: str | None = None,
    after: int | None = Query(None, ge=0),
    limit: int = Query(100, ge=1, le=service.MAX_LIMIT),
    action: str | None = Query(None, max_length=64),
) -> JSON:
    """Site admins only: audit events from `since` (and after event id `after`), oldest first."""
    return JSON(service.export(hub, actor, since=_since(since), after=after, limit=limit, action=action))

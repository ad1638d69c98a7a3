"""Site admins' view of every access token (GET /api/haven/tokens) and revocation of any of them.
Never shows a secret: only hashes are stored. Thin: the rules are in haven.auth.tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from haven.api.deps import ActorDep, HubDep
from haven.api.format import iso
from haven.api.responses import JSON
from haven.auth import tokens
from haven.auth.tokens import TokenRow

router = APIRouter()


def as_json(t: TokenRow) -> dict[str, Any]:
    return {
        "id": t.id,
        "owner": t.owner,
        "name": t.name,
        "role": t.role,
        "scopes": t.scopes,
        "createdAt": iso(t.created_at),
        "lastUsedAt": iso(t.last_used_at),
        "expiresAt": iso(t.expires_at),
        "expired": t.expired,
        "revokedAt": iso(t.revoked_at),
    }


@router.get("/api/haven/tokens")
def list_tokens(
    hub: HubDep,
    actor: ActorDep,
    owner: str | None = Query(None, max_length=96),
    limit: int = Query(1000, ge=1, le=10_000),
) -> JSON:
    with hub.db.read() as session:
        return JSON([as_json(t) for t in tokens.all_tokens(session, actor, limit, owner)])


@router.delete("/api/haven/tokens/{token_id:int}")
def revoke_token(token_id: int, hub: HubDep, actor: ActorDep) -> JSON:
    with hub.db.write() as session:
        tokens.admin_revoke(session, actor, token_id)
    return JSON({})

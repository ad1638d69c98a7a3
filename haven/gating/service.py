"""Gated access: who may read a gated repository's files, asking for access, and the admins' decisions.

Metadata of a gated repository stays public; its file contents are for those with a role over the repository
(owner, org members, site admins) and those whose request was accepted. Requests never widen visibility:
every entry point looks the repository up for the caller first, so a private repository stays a 404.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.audit import service as audit
from haven.auth.models import Account
from haven.auth.permissions import Actor, Permission
from haven.db import utcnow
from haven.errors import BadRequest, Forbidden, GatedRepo, NotFound, Unauthorized
from haven.gating import form
from haven.gating.models import ACCEPTED, PENDING, REJECTED, STATUSES, AccessRequest
from haven.hub import Hub
from haven.repos.models import Repo
from haven.repos.service import RepoRef, find_repo, refusal, web_path


@dataclass(frozen=True)
class MyRequest:
    """What a user sees of their own request on the repository page."""

    status: str
    rejection_reason: str | None


def has_access(hub: Hub, row: Repo, actor: Actor) -> bool:
    """Whether `actor` may read the files of the repository `row` (always, unless it is gated)."""
    if not row.gated or actor.has_role_on(row):
        return True
    if actor.anonymous:
        return False
    with hub.db.read() as session:
        status = session.scalar(
            select(AccessRequest.status).where(AccessRequest.repo_id == row.id, AccessRequest.user_id == actor.user_id)
        )
    return status == ACCEPTED


def check(hub: Hub, ref: RepoRef, actor: Actor) -> None:
    """GatedRepo (what huggingface_hub turns into GatedRepoError) unless `actor` may read the files:
    401 for anonymous callers, 403 for signed-in ones without an accepted request."""
    if has_access(hub, ref.row, actor):
        return
    if actor.anonymous:
        raise GatedRepo(
            f"Access to {ref.type} {ref.full_id} is restricted. You must have access to it and be authenticated "
            "to access it. Please log in."
        ).with_status(401)
    raise GatedRepo(
        f"Access to {ref.type} {ref.full_id} is restricted and you are not in the authorized list. "
        f"Visit {web_path(ref.type, ref.full_id)} to ask for access."
    )


def my_request(hub: Hub, row: Repo, actor: Actor) -> MyRequest | None:
    if actor.anonymous:
        return None
    with hub.db.read() as session:
        req = _request_of(session, row.id, actor.user_id)
        return None if req is None else MyRequest(req.status, req.rejection_reason)


def request_access(hub: Hub, actor: Actor, repo_type: str, full_id: str, answers: dict[str, Any]) -> str:
    """Ask for access with the card's form filled in: accepted at once in auto mode, pending in manual mode.
    Asking again changes nothing (a rejected user stays rejected until an admin changes their mind)."""
    if actor.anonymous:
        raise Unauthorized("You must be signed in to ask for access")
    with hub.db.write() as session:
        row = find_repo(hub, session, actor, repo_type, full_id, Permission.READ).row
        if not actor.token_allows(Permission.CONTRIBUTE, row):  # asking is a write: not with a read token
            raise Forbidden(refusal(actor, Permission.CONTRIBUTE, row))
        _require_gated(row)
        existing = _request_of(session, row.id, actor.user_id)
        if existing is not None:
            return existing.status
        fields = form.check_answers(form.card_fields(row.card_data), answers)
        status = ACCEPTED if row.gated == "auto" else PENDING
        session.add(
            AccessRequest(public_id=_new_id(), repo_id=row.id, user_id=actor.user_id, status=status, fields=fields)
        )
        if status == ACCEPTED:
            audit.record(
                session, "gated.accept", actor=actor, target=f"{repo_type}:{full_id}", user=actor.name, auto=True
            )
        return status


def list_requests(hub: Hub, actor: Actor, repo_type: str, full_id: str, status: str) -> list[dict[str, Any]]:
    """The requests with `status`, oldest first, for the repository's admins."""
    if status not in STATUSES:
        raise NotFound(f"No such access request list: {status}")
    with hub.db.read() as session:
        row = _admin_repo(hub, session, actor, repo_type, full_id)
        rows = session.execute(
            select(AccessRequest, Account)
            .join(Account, Account.id == AccessRequest.user_id)
            .where(AccessRequest.repo_id == row.id, AccessRequest.status == status)
            .order_by(AccessRequest.created_at, AccessRequest.id)
        ).all()
        return [as_json(req, user) for req, user in rows]


def handle(
    hub: Hub,
    actor: Actor,
    repo_type: str,
    full_id: str,
    *,
    user: str | None,
    request_id: str | None,
    status: str,
    reason: str | None = None,
) -> None:
    """Move a request to `status`: accept, reject (with a reason the user sees) or cancel (back to pending)."""
    if status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    if (user is None) == (request_id is None):
        raise BadRequest("Give exactly one of 'user' or 'requestId'")
    if reason is not None and status != REJECTED:
        raise BadRequest("A rejection reason goes only with status 'rejected'")
    with hub.db.write() as session:
        row = _admin_repo(hub, session, actor, repo_type, full_id)
        query = select(AccessRequest).where(AccessRequest.repo_id == row.id)
        if user is not None:
            query = query.join(Account, Account.id == AccessRequest.user_id).where(Account.name == user)
        else:
            query = query.where(AccessRequest.public_id == request_id)
        req = session.scalar(query)
        if req is None:
            raise NotFound("Access request not found")
        if req.status == status:
            raise NotFound(f"The access request is already in the {status} list")
        req.status, req.decided_by, req.updated_at = status, actor.name, utcnow()
        req.rejection_reason = reason[:1000] if status == REJECTED and reason else None
        target = f"{repo_type}:{full_id}"
        audit.record(session, f"gated.{_VERB[status]}", actor=actor, target=target, request=req.public_id)


def grant(hub: Hub, actor: Actor, repo_type: str, full_id: str, user: str) -> None:
    """Give `user` access without a request of theirs (or accept the one they made)."""
    with hub.db.write() as session:
        row = _admin_repo(hub, session, actor, repo_type, full_id)
        account = session.scalar(select(Account).where(Account.name == user, Account.kind == "user"))
        if account is None:
            raise NotFound(f"User not found: {user}")
        req = _request_of(session, row.id, account.id)
        if req is not None and req.status == ACCEPTED:
            raise BadRequest(f"{user} already has access to {full_id}")
        if req is None:
            req = AccessRequest(public_id=_new_id(), repo_id=row.id, user_id=account.id, granted=True)
            session.add(req)
        req.status, req.decided_by, req.updated_at, req.rejection_reason = ACCEPTED, actor.name, utcnow(), None
        audit.record(session, "gated.grant", actor=actor, target=f"{repo_type}:{full_id}", user=user)


def as_json(req: AccessRequest, user: Account) -> dict[str, Any]:
    """The Hub's shape, as huggingface_hub's list_*_access_requests read it."""
    return {
        "user": {
            "user": user.name,
            "fullname": user.fullname or user.name,
            "email": None if req.granted else user.email,
        },
        "requestId": req.public_id,
        "status": req.status,
        "timestamp": req.created_at.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z"),
        "fields": req.fields,
        "rejectionReason": req.rejection_reason,
    }


_VERB = {ACCEPTED: "accept", REJECTED: "reject", PENDING: "cancel"}


def _admin_repo(hub: Hub, session: Session, actor: Actor, repo_type: str, full_id: str) -> Repo:
    """The repository if `actor` may manage its requests (write access, as on the Hub), and it is gated."""
    row = find_repo(hub, session, actor, repo_type, full_id, Permission.WRITE).row
    _require_gated(row)
    return row


def _require_gated(row: Repo) -> None:
    if not row.gated:
        raise BadRequest(f"{row.full_id} is not a gated repository")


def _request_of(session: Session, repo_id: int, user_id: int | None) -> AccessRequest | None:
    return session.scalar(
        select(AccessRequest).where(AccessRequest.repo_id == repo_id, AccessRequest.user_id == user_id)
    )


def _new_id() -> str:
    return secrets.token_hex(12)

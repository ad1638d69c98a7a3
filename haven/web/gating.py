"""Gated repositories on the web: the access-request banner of the repository page, and the requests section
of its settings, where the repository's admins accept, reject or cancel them and choose the gating mode."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.responses import Response

from haven.auth.permissions import Permission, can
from haven.errors import BadRequest
from haven.gating import form, service
from haven.gating.models import STATUSES
from haven.repos import service as repos
from haven.repos.service import RepoRef
from haven.web.core import Web, checked_form, field_str, in_thread, redirect, repo_routes, web_router

router = web_router()
DECISIONS = {"accept": "accepted", "reject": "rejected", "cancel": "pending"}
MODES = {"off": False, "auto": "auto", "manual": "manual"}


def banner(web: Web, ref: RepoRef) -> dict[str, Any] | None:
    """What the repository page shows of the gate: the form and the visitor's request, or None if ungated."""
    row = ref.row
    if not row.gated:
        return None
    return {
        "mode": row.gated,
        "has_access": service.has_access(web.hub, row, web.actor),
        "mine": service.my_request(web.hub, row, web.actor),
        "fields": form.card_fields(row.card_data),
        "prompt": form.prompt(row.card_data),
    }


def requests_section(web: Web, ref: RepoRef) -> dict[str, Any] | None:
    """The settings page's lists of requests by status (for admins of a gated repository)."""
    row = ref.row
    if not row.gated or not can(web.actor, Permission.WRITE, row):
        return None
    return {s: service.list_requests(web.hub, web.actor, row.type, row.full_id, s) for s in STATUSES}


def _answers(fields: list[form.Field], posted: FormData) -> dict[str, Any]:
    """The form's answers by field name (inputs are numbered: card field names are free text)."""
    answers: dict[str, Any] = {}
    for i, f in enumerate(fields):
        value = posted.get(f"field-{i}")
        if isinstance(value, str):
            answers[f.name] = value
    return answers


@repo_routes(router, "/{namespace}/{name}/ask-access", ["POST"])
async def ask_access(web: Web, repo_type: str, namespace: str, name: str) -> Response:
    """The banner's form: ask for access with the card's questions answered (the Hub's own path)."""
    posted = await checked_form(web)
    web.require_login()
    full_id = f"{namespace}/{name}"
    with web.hub.db.read() as session:
        row = repos.find_repo(web.hub, session, web.actor, repo_type, full_id, Permission.READ).row
    answers = _answers(form.card_fields(row.card_data), posted)
    await in_thread(service.request_access, web.hub, web.actor, repo_type, full_id, answers)
    return redirect(web, "/" + repos.web_path(repo_type, full_id))


@repo_routes(router, "/{namespace}/{name}/settings/access-requests", ["POST"])
async def decide(web: Web, repo_type: str, namespace: str, name: str) -> Response:
    """Accept, reject (with an optional reason) or cancel one request; or change the gating mode."""
    posted = await checked_form(web)
    web.require_login()
    full_id = f"{namespace}/{name}"
    action = field_str(posted, "action")
    if action == "mode":
        mode = field_str(posted, "mode")
        if mode not in MODES:
            raise BadRequest("mode must be off, auto or manual")
        await in_thread(repos.update_settings, web.hub, web.actor, repo_type, full_id, private=None, gated=MODES[mode])
    elif action in DECISIONS:
        reason = field_str(posted, "reason").strip() or None if action == "reject" else None
        await in_thread(
            service.handle,
            web.hub,
            web.actor,
            repo_type,
            full_id,
            user=None,
            request_id=field_str(posted, "request_id"),
            status=DECISIONS[action],
            reason=reason,
        )
    else:
        raise BadRequest("Unknown action")
    return redirect(web, "/" + repos.web_path(repo_type, full_id) + "/settings#gating")

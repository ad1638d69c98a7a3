"""Pages for organisations' resource groups (org admins) and the site admins' view of every token."""

from __future__ import annotations

from starlette.responses import Response

from haven.auth import tokens as token_rules
from haven.auth.permissions import ROLES
from haven.errors import BadRequest, HavenError
from haven.orgs import service as groups
from haven.web.core import WebDep, checked_form, field_str, in_thread, redirect, render, token_id_field, web_router

router = web_router()


def _groups_page(web: WebDep, org: str, error: str | None = None, status: int = 200) -> Response:
    web.require_login()
    with web.hub.db.read() as session:
        found = groups.list_groups(session, web.actor, org)
    return render(web, "resource_groups.html", status=status, org=org, groups=found, roles=ROLES, error=error)


@router.get("/organizations/{org}/resource-groups")
def groups_page(web: WebDep, org: str) -> Response:
    return _groups_page(web, org)


@router.post("/organizations/{org}/resource-groups")
async def groups_post(web: WebDep, org: str) -> Response:
    """One change per form: create or delete a group, add or remove a member or a repository."""
    form = await checked_form(web)
    actor = web.require_login()
    action, group = field_str(form, "action"), field_str(form, "group").strip()
    user, role = field_str(form, "user").strip(), field_str(form, "role", "read")
    repo_type, repo = field_str(form, "type", "model"), field_str(form, "repo").strip()

    def apply() -> None:
        with web.hub.db.write() as session:
            if action == "create":
                groups.create_group(session, actor, org, group, field_str(form, "description").strip() or None)
            elif action == "delete":
                groups.delete_group(session, actor, org, group)
            elif action == "set-user":
                groups.set_group_member(session, actor, org, group, user, role)
            elif action == "remove-user":
                groups.remove_group_member(session, actor, org, group, user)
            elif action == "add-repo":
                groups.add_group_repo(session, actor, org, group, repo_type, repo)
            elif action == "remove-repo":
                groups.remove_group_repo(session, actor, org, group, repo_type, repo)
            else:
                raise BadRequest("Unknown action")

    try:
        await in_thread(apply)
    except HavenError as e:
        if e.status in (401, 403, 404):
            raise
        return await in_thread(_groups_page, web, org, e.message, e.status)
    return redirect(web, f"/organizations/{org}/resource-groups")


@router.get("/admin/tokens")
def admin_tokens_page(web: WebDep, owner: str = "") -> Response:
    """Site admins only: every token with its owner, scopes, dates and state (never a secret)."""
    web.require_login()
    with web.hub.db.read() as session:
        rows = token_rules.all_tokens(session, web.actor, owner=owner.strip() or None)
    return render(web, "admin_tokens.html", tokens=rows, owner=owner)


@router.post("/admin/tokens")
async def admin_tokens_post(web: WebDep) -> Response:
    form = await checked_form(web)
    web.require_login()
    token_id = token_id_field(form)

    def revoke() -> None:
        with web.hub.db.write() as session:
            token_rules.admin_revoke(session, web.actor, token_id)

    await in_thread(revoke)
    return redirect(web, "/admin/tokens")

"""The admin page of the audit log: the latest events, filtered by action."""

from __future__ import annotations

from starlette.responses import Response

from haven.audit import service as audit
from haven.web.core import WebDep, render, web_router

router = web_router()
PAGE = 200


@router.get("/admin/audit")
def audit_page(web: WebDep, action: str = "") -> Response:
    """Site admins only (others get the 403 page, the anonymous a login prompt)."""
    web.require_login()
    chosen = action if action in audit.ACTIONS else ""
    events = audit.export(web.hub, web.actor, limit=PAGE, action=chosen or None, newest_first=True)
    return render(web, "audit.html", events=events, actions=audit.ACTIONS, action=chosen)

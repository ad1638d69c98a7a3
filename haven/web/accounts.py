"""Sign up, log in and out, access tokens, organisations and their members."""

from __future__ import annotations

from urllib.parse import urlparse

from sqlalchemy import select
from starlette.responses import Response

from haven.audit import service as audit
from haven.auth import service, sessions
from haven.auth import tokens as token_rules
from haven.auth.models import ORG, Account, Membership
from haven.auth.scopes import PERMISSIONS, parse_scope
from haven.db import utcnow
from haven.errors import BadRequest, Forbidden, HavenError, NotFound
from haven.web.core import (
    ANON_CSRF_COOKIE,
    SESSION_COOKIE,
    Web,
    WebDep,
    checked_form,
    field_str,
    in_thread,
    redirect,
    render,
    token_id_field,
    web_router,
)

router = web_router()


def _safe_next(url: str) -> str:
    """Only a local path: a login link must not bounce the visitor to another site."""
    parsed = urlparse(url)
    if not url.startswith("/") or url.startswith("//") or parsed.scheme or parsed.netloc or "\\" in url:
        return "/"
    return url


@router.get("/login")
def login_page(web: WebDep) -> Response:
    next_url = _safe_next(web.request.query_params.get("next", "/"))
    return render(web, "login.html", next_url=next_url, error=None, name="")


async def _start_session(web: Web, user_id: int, next_url: str) -> Response:
    def start() -> str:
        with web.hub.db.write() as session:
            return sessions.start(session, user_id, web.hub.settings.session_days)

    session_id = await in_thread(start)
    web.set_cookies.append((SESSION_COOKIE, session_id, web.hub.settings.session_days * 86400))
    web.set_cookies.append((ANON_CSRF_COOKIE, "", None))
    return redirect(web, next_url)


@router.post("/login")
async def login(web: WebDep) -> Response:
    form = await checked_form(web)
    name, password = field_str(form, "name").strip(), field_str(form, "password")
    next_url = _safe_next(field_str(form, "next", "/"))

    def check() -> int:
        with web.hub.db.read() as session:
            return sessions.authenticate(session, name, password).id

    try:
        user_id = await in_thread(check)
    except HavenError as e:
        await in_thread(audit.record_now, web.hub, "user.login_failed", actor_name=name[:96], method="password")
        return render(web, "login.html", status=401, next_url=next_url, error=e.message, name=name)
    await in_thread(audit.record_now, web.hub, "user.login", actor_name=name, actor_id=user_id, method="password")
    return await _start_session(web, user_id, next_url)


@router.post("/logout")
async def logout(web: WebDep) -> Response:
    await checked_form(web)
    session_id = web.request.cookies.get(SESSION_COOKIE)

    def end() -> None:
        with web.hub.db.write() as session:
            sessions.end(session, session_id or "")

    await in_thread(end)
    web.set_cookies.append((SESSION_COOKIE, "", None))
    return redirect(web, "/")


@router.get("/signup")
def signup_page(web: WebDep) -> Response:
    if not web.hub.settings.allow_signup:
        raise Forbidden("Sign-up is disabled on this hub; ask an administrator for an account.")
    return render(web, "signup.html", error=None, name="", email="")


@router.post("/signup")
async def signup(web: WebDep) -> Response:
    """Create an account and log it in."""
    if not web.hub.settings.allow_signup:
        raise Forbidden("Sign-up is disabled on this hub; ask an administrator for an account.")
    form = await checked_form(web)
    name, email = field_str(form, "name").strip(), field_str(form, "email").strip()
    password = field_str(form, "password")

    def create() -> int:
        with web.hub.db.write() as session:
            user = sessions.sign_up(session, name, email, password)
            audit.record(session, "user.signup", actor_name=user.name, actor_id=user.id, target=user.name)
            return user.id

    try:
        if password != field_str(form, "password2"):
            raise BadRequest("The passwords do not match")
        user_id = await in_thread(create)
    except HavenError as e:
        return render(web, "signup.html", status=e.status, error=e.message, name=name, email=email)
    return await _start_session(web, user_id, "/")


# --- access tokens -------------------------------------------------------------------------------------------


def _tokens_page(web: Web, new_token: str | None = None, error: str | None = None) -> Response:
    actor = web.require_login()
    with web.hub.db.read() as session:
        tokens = [
            (t, token_rules.scope_lines(session, t.scopes)) for t in service.list_tokens(session, actor.user_id or 0)
        ]
    return render(
        web, "tokens.html", tokens=tokens, new_token=new_token, permissions=PERMISSIONS, now=utcnow(), error=error
    )


@router.get("/settings/tokens")
def tokens_page(web: WebDep) -> Response:
    return _tokens_page(web)


@router.post("/settings/tokens")
async def tokens_post(web: WebDep) -> Response:
    """Create a token (shown once, in this answer only) or revoke one."""
    form = await checked_form(web)
    actor = web.require_login()
    action = field_str(form, "action")
    if action == "create":
        name = field_str(form, "name").strip()[:96] or "web"
        role = field_str(form, "role", "read")
        scope_text = field_str(form, "scopes")
        expiry = field_str(form, "expires")

        def create() -> str:
            expires_at = token_rules.parse_expiry(expiry)
            with web.hub.db.write() as session:
                scope = None
                if role == "fineGrained":
                    lines = [line for line in scope_text.splitlines() if line.strip()]
                    scope = token_rules.resolve_scope(session, [parse_scope(line) for line in lines], actor)
                return service.create_token(session, actor.name or "", name, role, scope=scope, expires_at=expires_at)

        try:
            token = await in_thread(create)
        except HavenError as e:
            return await in_thread(_tokens_page, web, None, e.message)
        response = await in_thread(_tokens_page, web, token)
        return response
    if action == "revoke":
        token_id = token_id_field(form)

        def revoke() -> None:
            with web.hub.db.write() as session:
                if not service.revoke_token_id(session, actor.user_id or 0, token_id):
                    raise NotFound("No such token")

        await in_thread(revoke)
        return redirect(web, "/settings/tokens")
    raise BadRequest("Unknown action")


# --- organisations -------------------------------------------------------------------------------------------


@router.get("/organizations/new")
def new_org_page(web: WebDep) -> Response:
    web.require_login()
    return render(web, "new_org.html", error=None)


@router.post("/organizations/new")
async def new_org(web: WebDep) -> Response:
    form = await checked_form(web)
    actor = web.require_login()
    name = field_str(form, "name").strip()

    def create() -> None:
        with web.hub.db.write() as session:
            service.create_org(session, name, actor.name or "")

    await in_thread(create)
    return redirect(web, f"/{name}")


def _org_admin(web: Web, org: str) -> Account:
    """The organisation, if the visitor administers it (404 otherwise, as for a missing one)."""
    actor = web.require_login()
    with web.hub.db.read() as session:
        account = session.scalar(select(Account).where(Account.name == org, Account.kind == ORG))
    if account is None:
        raise NotFound("No such organisation")
    if not actor.is_admin and actor.org_roles.get(account.id) != "admin":
        raise Forbidden("Only the organisation's admins can manage its members")
    return account


@router.get("/organizations/{org}/members")
def members_page(web: WebDep, org: str) -> Response:
    account = _org_admin(web, org)
    with web.hub.db.read() as session:
        members = session.execute(
            select(Account.name, Membership.role)
            .join(Membership, Membership.user_id == Account.id)
            .where(Membership.org_id == account.id)
            .order_by(Account.name)
        ).all()
    return render(web, "members.html", org=account, members=members, roles=service.ROLES)


@router.post("/organizations/{org}/members")
async def members_post(web: WebDep, org: str) -> Response:
    """Add a member or change a role (`action=set`), or remove one (`action=remove`)."""
    form = await checked_form(web)
    await in_thread(_org_admin, web, org)
    user = field_str(form, "user").strip()
    action = field_str(form, "action")

    def apply() -> None:
        with web.hub.db.write() as session:
            if action == "remove":
                service.remove_member(session, org, user, by=web.actor)
            else:
                service.set_member(session, org, user, field_str(form, "role", "read"), by=web.actor)

    await in_thread(apply)
    return redirect(web, f"/organizations/{org}/members")

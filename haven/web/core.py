"""The web front door's plumbing: the per-request context, templates, CSRF, security headers, error pages."""

from __future__ import annotations

import hashlib
import hmac
import inspect
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Match
from starlette.types import Scope

from haven.api.errors import base_url
from haven.api.ratelimit import reject_credential
from haven.auth import sessions
from haven.auth.permissions import ANONYMOUS, Actor, anonymous
from haven.db import utcnow
from haven.errors import BadRequest, Forbidden, HavenError
from haven.hub import Hub
from haven.names import URL_PREFIX
from haven.ops.middleware import note_user
from haven.web.render import human_count, human_size

log = logging.getLogger("haven")
HERE = Path(__file__).parent
SESSION_COOKIE = "haven_session"
ANON_CSRF_COOKIE = "haven_csrf"
CSRF_FIELD = "csrf_token"
# Scripts and styles only from Haven itself; card images may come from anywhere (as on the Hub).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src * data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
RESERVED_PREFIXES = ("/api/", "/_lfs/", "/_blobs/", "/_xet/", "/static/")
PREFIXES = (("/datasets", "dataset"), ("/spaces", "space"), ("", "model"))


@dataclass
class Web:
    """One web request: who is asking, with which CSRF token, and the cookies to set on the answer."""

    request: Request
    hub: Hub
    actor: Actor = ANONYMOUS
    csrf: str = ""
    set_cookies: list[tuple[str, str, int | None]] = field(default_factory=list)

    @property
    def user(self) -> str | None:
        return self.actor.name

    @property
    def base(self) -> str:
        return base_url(self.request)

    def require_login(self) -> Actor:
        if self.actor.anonymous:
            raise LoginRequired()
        return self.actor


class LoginRequired(HavenError):
    status = 401

    def __init__(self) -> None:
        super().__init__("Please log in first")


def web_context(request: Request) -> Web:
    """The Web of this request: the logged-in user from the session cookie, and the CSRF token forms carry."""
    hub: Hub = request.app.state.hub
    web = Web(request, hub, anonymous(hub.settings.mirror_require_login))
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        with hub.db.read() as session:
            login = sessions.lookup(session, session_id)
        if login is not None:
            web.actor, web.csrf = login.actor, login.csrf_token
            note_user(request.scope, web.actor.name)  # for the request's log line
            return web
        reject_credential(request.scope)  # a made-up session id must not earn a rate-limit bucket of its own
    # Visitors get a random token in a cookie of its own, so the login and sign-up forms are protected too.
    web.csrf = request.cookies.get(ANON_CSRF_COOKIE) or ""
    if len(web.csrf) < 32:
        web.csrf = secrets.token_urlsafe(32)
        web.set_cookies.append((ANON_CSRF_COOKIE, web.csrf, None))
    return web


WebDep = Annotated[Web, Depends(web_context)]


async def checked_form(web: Web) -> FormData:
    """The POSTed form, once its CSRF token matched the session's; Forbidden otherwise.

    Scripts send the token in a header, checked before the body is read (uploads can be large)."""
    header = web.request.headers.get("x-csrf-token")
    if header is not None:
        _check_csrf(web, header)
    form = await web.request.form(max_files=1000, max_fields=1000)
    if header is None:
        _check_csrf(web, form.get(CSRF_FIELD))
    return form


def _check_csrf(web: Web, sent: object) -> None:
    if not isinstance(sent, str) or not web.csrf or not hmac.compare_digest(sent.encode(), web.csrf.encode()):
        raise Forbidden("The form expired or did not come from this site (CSRF token mismatch). Reload and retry.")


def field_str(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value if isinstance(value, str) else default


def token_id_field(form: FormData) -> int:
    """The token a revoke form names; anything but a number is no token of ours."""
    try:
        return int(field_str(form, "token_id"))
    except ValueError:
        raise BadRequest("Unknown token") from None


# --- templates ---------------------------------------------------------------------------------------------


def _ago(value: datetime | None) -> str:
    if value is None:
        return ""
    seconds = int((utcnow() - value).total_seconds())
    for unit, length in (("year", 31_536_000), ("month", 2_592_000), ("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            n = seconds // length
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"


def _static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted((HERE / "static").glob("*")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def repo_url(repo_type: str, full_id: str, *parts: str) -> str:
    """/{prefix}{id}/{parts...}, each part percent-encoded except `/` inside file paths."""
    tail = "/".join(quote(p, safe="/") for p in parts if p)
    return f"/{URL_PREFIX[repo_type]}{full_id}" + (f"/{tail}" if tail else "")


def rev_url(repo_type: str, full_id: str, kind: str, rev: str, path: str = "") -> str:
    """A tree/blob/commits/edit URL: the revision is one segment (its `/` encoded), the path keeps its `/`."""
    rev_seg = quote(rev, safe="")
    tail = f"/{quote(path, safe='/')}" if path else ""
    return f"/{URL_PREFIX[repo_type]}{full_id}/{kind}/{rev_seg}{tail}"


def _query(base: dict[str, Any], **changes: Any) -> str:
    merged = {**base, **changes}
    items = []
    for key, value in merged.items():
        if value in (None, "", []):
            continue
        for v in value if isinstance(value, list) else [value]:
            items.append((key, v))
    return "?" + urlencode(items) if items else ""


templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
templates.filters.update(size=human_size, count=human_count, ago=_ago, urlq=lambda s: quote(str(s), safe=""))
templates.globals.update(
    static_version=_static_version(),
    repo_url=repo_url,
    rev_url=rev_url,
    query=_query,
    URL_PREFIX=URL_PREFIX,
)


def render(web: Web, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    request = web.request
    html = templates.get_template(template).render(
        web=web,
        user=web.user,
        csrf=web.csrf,
        page_path=request.url.path,
        signup=web.hub.settings.allow_signup,
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    apply_cookies(web, response)
    return response


def redirect(web: Web, url: str) -> Response:
    response = RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
    apply_cookies(web, response)
    return response


def secure_cookies(request: Request) -> bool:
    public = request.app.state.hub.settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def apply_cookies(web: Web, response: Response) -> None:
    secure = secure_cookies(web.request)
    for name, value, max_age in web.set_cookies:
        if value:
            response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/")
        else:
            response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=secure)


# --- errors as pages ---------------------------------------------------------------------------------------

TITLES = {400: "Bad request", 401: "Log in required", 403: "Forbidden", 404: "Not found", 409: "Conflict"}


def error_page(request: Request, status: int, message: str, web: Web | None = None) -> HTMLResponse:
    """The error as a page; 404s say the same for missing and private things (nothing leaks)."""
    web = web or Web(request, request.app.state.hub)
    if status == 404:
        message = "The page or repository does not exist, or you do not have access to it."
    title = TITLES.get(status, "Error") if status < 500 else "Server error"
    rid = request.scope.get("haven.request_id", "")
    html = templates.get_template("error.html").render(
        web=web,
        user=web.user,
        csrf=web.csrf,
        page_path=request.url.path,
        signup=web.hub.settings.allow_signup,
        status=status,
        title=title,
        message=message,
        rid=rid,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _context_or_none(request: Request) -> Web | None:
    """The visitor, for the error page's header; None if even that fails (the database may be why)."""
    try:
        return web_context(request)
    except Exception:
        return None


async def _error(request: Request, status: int, message: str) -> HTMLResponse:
    web = await run_in_threadpool(_context_or_none, request) if status < 500 else None
    return error_page(request, status, message, web)


class WebRoute(APIRoute):
    """Routes whose errors are pages: domain errors keep their status, anything else is a 500 with a request id.

    They never match under the API's own prefixes, so an unknown API path stays the API's JSON 404."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["path"].startswith(RESERVED_PREFIXES):
            return Match.NONE, {}
        return super().matches(scope)

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
            except HavenError as e:
                return await _error(request, e.status, e.message)
            except StarletteHTTPException as e:
                return await _error(request, e.status_code, str(e.detail))
            except RequestValidationError:
                return await _error(request, 400, "The request's parameters are invalid.")
            except Exception:
                rid = request.scope.get("haven.request_id", "")
                log.exception("unhandled error on %s %s (request %s)", request.method, request.url.path, rid)
                return error_page(request, 500, "Something went wrong on our side.")

        return route


def web_router() -> APIRouter:
    return APIRouter(route_class=WebRoute, include_in_schema=False)


def repo_routes(router: APIRouter, path: str, methods: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(web, repo_type, **path_params)` at `path` under every repository URL prefix
    (datasets and spaces first, so `/datasets/a/b` never reads as the model `datasets/a`)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for prefix, repo_type in PREFIXES:
            router.add_api_route(
                prefix + path, _bind(fn, repo_type), methods=methods, name=f"{fn.__name__}_{repo_type}"
            )
        return fn

    return decorate


def _bind(fn: Callable[..., Any], repo_type: str) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(fn):

        async def async_endpoint(web: WebDep) -> Response:
            return await fn(web, repo_type, **web.request.path_params)

        return async_endpoint

    def endpoint(web: WebDep) -> Response:
        return fn(web, repo_type, **web.request.path_params)

    return endpoint


async def in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await run_in_threadpool(fn, *args, **kwargs)

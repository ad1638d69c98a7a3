"""The web hub: server-rendered pages (Jinja2) with a few lines of progressive-enhancement JavaScript.

Mounted after the API routers, so every API, git and /resolve path keeps its route; web routes also
refuse the API's own prefixes outright, so an unknown API path stays a JSON 404.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from haven.web import accounts, audit, community, files, gating, history, pages, repo, teams, viewer
from haven.web.core import HERE, RESERVED_PREFIXES, WebDep, error_page, web_router

tail = web_router()


@tail.get("/{account}")
def profile(web: WebDep, account: str) -> Response:
    return pages.profile(web, account)


def install(app: FastAPI) -> None:
    """Add the web routes and static files after everything already routed, and HTML 404s for browsers."""
    # Literal paths (/models, /login, /new, ...) before the repository patterns, and /{account} last.
    for module in (pages, accounts, teams, audit, gating, repo, files, history, community, viewer):
        app.include_router(module.router)
    app.include_router(tail)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    api_http_handler = app.exception_handlers[StarletteHTTPException]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        wants_html = "text/html" in request.headers.get("accept", "")
        if exc.status_code == 404 and wants_html and not request.url.path.startswith(RESERVED_PREFIXES):
            return error_page(request, 404, "")
        return await api_http_handler(request, exc)

    app.add_exception_handler(StarletteHTTPException, http_error)
